"""The largest gaps of an audit in words: which emotion, which direction, how sure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.fairness.from_predictions import FEW_SUBJECTS
from fer_audit.fairness.gaps import RATE_OF
from fer_audit.fairness.result import AuditResult
from fer_audit.report.glossary import is_absolute, rate_n_words

#: the level the words of the summary use
ALPHA = 0.05

_RATE_NAMES = {
    "equal_opportunity": "true positive rate (recall)",
    "demographic_parity": "selection rate (how often it is predicted)",
    "accuracy": "one-vs-rest accuracy",
}
_SHORT_RATE = {
    "equal_opportunity": "recall (TPR)",
    "demographic_parity": "selection-rate",
    "accuracy": "accuracy",
}
_AGGREGATES = {"all", "worst", "mean", "overall"}
_CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}


def largest_gaps(result: AuditResult, *, limit: int = 5) -> pd.DataFrame:
    """Per-class signed gaps ordered by |value|, one row per (run, class) at most."""
    gaps = result.gaps
    rows = gaps[gaps["definition"].isin(_RATE_NAMES) & ~gaps["class"].isin(_AGGREGATES)]
    rows = rows.dropna(subset=["value"]).copy()
    rows["size"] = rows["value"].abs()
    rows = rows.sort_values("size", ascending=False, kind="stable")
    if "n_tests" not in rows.columns:  # audits saved before the family was recorded
        rows["n_tests"] = rows["run_id"].map(_tests_per_run(gaps))
    rows = rows.drop_duplicates(["run_id", "class"]).head(limit)
    rows["rate_n"] = [_rate_n(result, row) for _, row in rows.iterrows()]
    return rows


def _rate_n(result: AuditResult, row: pd.Series) -> str:
    """The denominators of the rate behind a gap, per group: "female 10 | male 10"."""
    gm = result.group_metrics
    chosen = gm[
        (gm["run_id"] == row["run_id"])
        & (gm["class"] == row["class"])
        & (gm["metric"] == RATE_OF[row["definition"]])
        & gm["group"].isin(result.settings["groups"])
    ]
    return " | ".join(f"{g} {n}" for g, n in zip(chosen["group"], chosen["n"], strict=True))


def certainty(row: pd.Series, n_perm: int | None = None) -> str:
    """How sure, in words, from the percentile interval, the raw and the adjusted
    p-value (one branch each, so the words never contradict the numbers shown), and the
    few-subjects flag."""
    return _verdict(row, n_perm) + _few_subjects(row) + _seed_spread(row)


def _verdict(row: pd.Series, n_perm: int | None) -> str:
    low, high = row["ci_low"], row["ci_high"]
    raw, adjusted = row.get("p_value", np.nan), row["p_adjusted"]
    significant = np.isfinite(adjusted) and adjusted < ALPHA
    raw_significant = np.isfinite(raw) and raw < ALPHA
    if str(row.get("comparison", "")).startswith("max"):  # max - min: never below zero
        if significant:
            return "evidence of a real difference between groups"
        if raw_significant:
            return _not_after_correction(row, raw)
        return "not distinguishable from no difference" + _detectable(row)
    floor = 1 / (n_perm + 1) if n_perm else 0.0
    at_floor = row.get("p_method") == "subject permutation" and raw <= floor * 1.0001
    if at_floor and not adjusted < ALPHA:
        return (
            "the smallest p-value this many permutations can give; it does not survive "
            "the correction, so rerun with more resamples"
        )
    excludes_zero = np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0)
    if significant and excludes_zero:
        return "strong evidence of a real gap" if adjusted < 0.01 else "evidence of a real gap"
    if significant:
        return (
            "the corrected test finds a gap, but its interval reaches zero: borderline "
            "evidence (the two methods disagree at this sample size)"
        )
    if raw_significant:
        return _not_after_correction(row, raw)
    if excludes_zero and row.get("p_method") == "subject permutation":
        return (
            f"the interval excludes zero but the permutation test does not (p = {raw:.3f} "
            "before correction): the bootstrap interval is too narrow with few subjects, "
            "so this is no evidence of a gap"
        ) + _detectable(row)
    if excludes_zero:
        return (
            f"the interval excludes zero but the test does not (p = {raw:.3f} before "
            f"correction; {row.get('interval_method', 'interval')} against "
            f"{row.get('p_method', 'test')}): the two methods disagree at this sample size, "
            "so this is no evidence of a gap"
        ) + _detectable(row)
    return "not distinguishable from no gap" + _detectable(row)


def _not_after_correction(row: pd.Series, raw: float) -> str:
    tests = row.get("n_tests")
    family = f"the {int(tests)} gaps tested" if pd.notna(tests) else "the many gaps tested"
    return f"p = {raw:.3f} on its own, but not after correcting for {family}"


def _detectable(row: pd.Series) -> str:
    """What the test set could have found (the minimum detectable gap), for a gap with
    no evidence: "; with 5 + 5 test subjects this audit could only detect ..."."""
    if "mdg" not in row.index:
        return " at this sample size"
    subjects = " + ".join(
        part.rsplit(" ", 1)[-1] for part in str(row.get("subjects", "")).split(" | ")
    )
    with_subjects = f"with {subjects} test subjects " if subjects.strip() else ""
    what = f"{row['class']} {_SHORT_RATE.get(row['definition'], row['definition'])} gaps"
    mdg = row["mdg"]
    if pd.isna(mdg):
        return (
            f"; {with_subjects}this audit could not detect even a gap of 1.00 in {what} "
            "with 80% power"
        )
    return (
        f"; {with_subjects}this audit could only detect {what} larger than {mdg:.2f} "
        "(80% power, α = 0.05 before correction), so a smaller gap may be there unseen"
    )


def _seed_spread(row: pd.Series) -> str:
    runs = row.get("seed_runs")
    if pd.isna(runs) or runs < 2 or pd.isna(row.get("seed_min")):
        return ""
    spread = (
        f"; over {int(runs)} seeds the gap runs from {row['seed_min']:+.2f} to "
        f"{row['seed_max']:+.2f} (SD {row['seed_sd']:.2f})"
    )
    if is_absolute(row["definition"], row["class"], str(row.get("comparison", ""))):
        return spread  # a size cannot change sign
    same = str(row.get("seed_same_sign")) == "True"
    return spread + (", never of opposite sign" if same else ", of opposite sign between seeds")


def _few_subjects(row: pd.Series) -> str:
    if not bool(row.get("few_subjects", False)):
        return ""
    return (
        f" (fewer than {FEW_SUBJECTS} subjects in a group: {row.get('subjects', '')}; "
        "its interval and p-value are rough)"
    )


def _who(row: pd.Series) -> str:
    arch, train_set, seed = row.get("arch"), row.get("train_set"), row.get("seed")
    if not arch or str(arch) == str(row["run_id"]):
        return str(row["run_id"])
    text = f"{arch} trained on {train_set}"
    if seed is not None and not (isinstance(seed, float) and np.isnan(seed)):
        text += f", seed {seed}"
    return text


def sentence(row: pd.Series, n_perm: int | None = None) -> str:
    """One gap as a sentence, e.g. "3dcnn (regular), sad: the true positive rate is
    0.43 lower for female than for male subjects (95% CI -0.63 to -0.20; adjusted
    p = 0.004): strong evidence of a real gap."""
    who = _who(row)
    rate = _RATE_NAMES[row["definition"]]
    comparison = str(row["comparison"])
    size = abs(row["value"])
    shown = f"{size:.2f}" if size >= 0.005 else f"{size:.3f}"  # never "0.00 higher"
    same = shown == "0.000"
    if " - " in comparison and not comparison.startswith("max"):
        first, second = comparison.split(" - ", 1)
        direction = "lower" if row["value"] < 0 else "higher"
        what = (
            f"the {rate} is the same for {first} and {second} subjects (to three decimals)"
            if same
            else f"the {rate} is {shown} {direction} for {first} than for {second} subjects"
        )
    elif same:
        what = f"the {rate} does not differ between groups ({comparison}; to three decimals)"
    else:
        what = f"the {rate} differs by {shown} between groups ({comparison})"
    p = row["p_adjusted"]
    p_text = f"adjusted p = {p:.3f}" if np.isfinite(p) else "no p-value"
    warning = row.get("degenerate")
    caution = f" Warning: {warning}." if isinstance(warning, str) and warning else ""
    return (
        f"{who}, {row['class']}: {what} (95% CI {row['ci_low']:+.2f} to "
        f"{row['ci_high']:+.2f}; {p_text}; {rate_n_words(RATE_OF[row['definition']])}: "
        f"{row['rate_n']}): {certainty(row, n_perm)}." + caution
    )


def _tests_per_run(gaps: pd.DataFrame) -> pd.Series:
    """The size of the family each run's p-values were corrected over (`n_tests`; for
    audits saved without it, the run's gaps with a p-value)."""
    if "n_tests" in gaps.columns:
        return gaps.groupby("run_id")["n_tests"].first().astype(int)
    return gaps[np.isfinite(gaps["p_value"].astype(float))].groupby("run_id").size()


def family_sentence(result: AuditResult) -> str:
    """Which tests the correction ran over, e.g. "p-values adjusted (Holm) over the 28
    gaps of each model"."""
    settings, gaps = result.settings, result.gaps
    method = _CORRECTIONS.get(settings.get("correction"), settings.get("correction"))
    if settings.get("correction") == "none":
        return "p-values are not adjusted for the many gaps tested."
    per_run = _tests_per_run(gaps)
    if settings.get("family") == "audit":
        return f"p-values are adjusted ({method}) over all {per_run.iloc[0]} gaps of the audit."
    count = str(per_run.iloc[0]) if per_run.nunique() == 1 else "several"
    return f"p-values are adjusted ({method}) over the {count} gaps of each model separately."


def run_warnings(result: AuditResult, *, run_id: str | None = None) -> list[str]:
    """One line per flagged model (or only `run_id`): degenerate, classes without
    positives, bootstrap draws left out."""
    lines = []
    columns = [c for c in ("degenerate", "no_positives", "boot_dropped") if c in result.gaps]
    if not columns:
        return lines
    gaps = result.gaps if run_id is None else result.gaps[result.gaps["run_id"] == run_id]
    for _, row in gaps.drop_duplicates("run_id").iterrows():
        who = _who(row)
        degenerate = row.get("degenerate")
        if isinstance(degenerate, str) and degenerate:
            lines.append(f"Warning: {who}: {degenerate}.")
        missing = row.get("no_positives")
        if isinstance(missing, str) and missing:
            lines.append(
                f"{who}: no videos of {missing}; the recall (TPR) gaps of those classes are "
                "undefined and the means over classes leave them out."
            )
        dropped = row.get("boot_dropped")
        if pd.notna(dropped) and dropped > 0:
            lines.append(
                f"{who}: {dropped:.0%} of bootstrap draws left a group without a class; "
                "the intervals use the other draws."
            )
    return lines


def synthetic_summary(result: AuditResult, *, limit: int = 5) -> list[str]:
    """`summary_sentences`, after the synthetic note when the audit is synthetic."""
    note = [SYNTHETIC_NOTE + "."] if result.synthetic else []
    return note + summary_sentences(result, limit=limit)


def summary_sentences(result: AuditResult, *, limit: int = 5) -> list[str]:
    """The audit in words. Not the synthetic note: each page, report and command shows
    it once, in its own place (`synthetic_summary` puts it first)."""
    lines = []
    renamed = {g: u for g, u in result.settings.get("gender_labels", {}).items() if g != u}
    if renamed:
        lines.append(
            "Gender labels as given were read as: "
            + ", ".join(f"{g} as {u}" for g, u in renamed.items())
            + "."
        )
    lines += run_warnings(result)
    gaps = largest_gaps(result, limit=limit)
    if gaps.empty:
        return [*lines, "No gap could be computed (no class had videos in every group)."]
    lines.append(
        f"The {len(gaps)} largest per-emotion gaps ({result.settings['comparison']}); "
        + family_sentence(result)
    )
    n_perm = result.settings.get("n_perm")
    lines += [f"- {sentence(row, n_perm)}" for _, row in gaps.iterrows()]
    return lines


def plan_sentence(
    *, subjects: int | None, gap: float, power: float, what: str, max_subjects: int
) -> str:
    """The planner's answer in words: "To detect a sad recall (TPR) gap of 0.20 with
    80% power: 23 subjects per gender"."""
    head = f"To detect a {what} gap of {gap:.2f} with {power:.0%} power"
    if subjects is None:
        return f"{head}: more than {max_subjects} subjects per gender."
    return f"{head}: {subjects} subjects per gender ({subjects} + {subjects})."
