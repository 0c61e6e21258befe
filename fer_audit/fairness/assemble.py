"""What both audits share: a run's rate and gap tables (rates per group from the
one-vs-rest counts, gaps from the group differences, the run's no-positives and
degenerate-model flags), the audit's settings, and the assembly of every run's tables
into one `AuditResult` (p-values corrected over the chosen family of tests, each gap's
seed spread, the summary and the rankings).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from fer_audit.fairness import intervals, metrics
from fer_audit.fairness.gaps import (
    CAVEAT,
    DEFINITIONS,
    differences,
    gap_keys,
    gaps_from_differences,
)
from fer_audit.fairness.planner import POWER
from fer_audit.fairness.rankings import _with_seed_spread, rank, summarize
from fer_audit.fairness.result import AuditError, AuditResult
from fer_audit.version import code_version

SMALL_N = 10
#: families of tests a correction runs over: each run's gaps, or every gap of the audit
FAMILIES = ("run", "audit")
#: a model that predicts one class for at least this share of videos is degenerate
ONE_CLASS_SHARE = 0.9


def _all_rates(counts: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """{(metric, class): values over groups}, classes by index, plus overall accuracy."""
    rates = metrics.rates(counts=counts)
    out = {}
    for metric, values in rates.items():
        for ci in range(values.shape[-1]):
            out[(metric, ci)] = values[..., ci]
    out[("accuracy", "overall")] = metrics.overall_accuracy(counts=counts)
    return out


def _denominator(counts, metric, cls, classes) -> np.ndarray:
    if cls == "overall":
        return counts[..., 0, :].sum(axis=-1)
    return metrics.denominators(counts=counts)[metric][..., cls]


def _class_label(cls: int | str, classes: list[str]) -> str:
    return classes[cls] if isinstance(cls, int) else cls


def _metric_frame(rows, method: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["run_id", "group", "class", "metric", "value", "n", "ci_low", "ci_high"]
    )
    frame["n"] = frame["n"].astype(int)
    frame["small_n"] = frame["n"] < SMALL_N
    frame["interval_method"] = method
    return frame


def differences_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    return differences(
        rates=metrics.rates(counts=counts), overall=metrics.overall_accuracy(counts=counts)
    )


def _gap_frame(
    run_id,
    classes,
    group_names,
    n_videos,
    value,
    low,
    high,
    p,
    correction,
    *,
    interval_method,
    p_method,
) -> pd.DataFrame:
    keys = gap_keys(classes)
    frame = pd.DataFrame(keys, columns=["definition", "class"])
    frame.insert(0, "run_id", run_id)
    frame["value"], frame["ci_low"], frame["ci_high"] = value, low, high
    frame["p_value"] = p
    frame["p_adjusted"] = intervals.adjust(frame["p_value"].to_numpy(), method=correction)
    frame["comparison"] = comparison_name(group_names)
    frame["n"] = " | ".join(f"{g} {n}" for g, n in zip(group_names, n_videos, strict=True))
    frame["interval_method"] = interval_method
    frame["p_method"] = p_method
    return frame


def _flag_run(gap_rows: pd.DataFrame, counts: np.ndarray, group_names, classes) -> None:
    """Add the run's `no_positives` and `degenerate` flags (text, empty when clear) to
    every gap row; `counts` are the observed one-vs-rest counts (G, C, 4)."""
    gap_rows["no_positives"] = no_positives(counts, group_names, classes)
    pooled = counts.sum(axis=0)
    gap_rows["degenerate"] = degenerate_warning(
        correct=int(pooled[:, metrics.TP].sum()),
        predicted=pooled[:, metrics.TP] + pooled[:, metrics.FP],
        classes=classes,
    )


def no_positives(counts: np.ndarray, group_names: Sequence[str], classes: Sequence[str]) -> str:
    """The classes some group has no videos of, e.g. "sad (male)": their TPR gap is
    undefined and the means over classes leave them out. Empty when there are none."""
    positives = counts[..., metrics.TP] + counts[..., metrics.FN]
    missing = []
    for ci, cls in enumerate(classes):
        lacking = [g for gi, g in enumerate(group_names) if positives[gi, ci] == 0]
        if lacking:
            missing.append(f"{cls} ({', '.join(lacking)})")
    return "; ".join(missing)


def degenerate_warning(*, correct: int, predicted: np.ndarray, classes: Sequence[str]) -> str:
    """A warning when the model's gaps say little about bias: it predicts one class for
    at least ONE_CLASS_SHARE of the videos, or its accuracy is at or below chance
    (1 / number of classes). Empty otherwise."""
    n = int(np.sum(predicted))
    if n == 0:
        return ""
    top = int(np.argmax(predicted))
    share, accuracy, chance = predicted[top] / n, correct / n, 1 / len(classes)
    if share >= ONE_CLASS_SHARE:
        return (
            f"this model reads {share:.0%} of {n} videos as {classes[top]}; "
            "its gaps say little about bias"
        )
    if accuracy <= chance + 1e-9:
        return (
            f"this model's accuracy ({correct} of {n} videos, {accuracy:.2f}) is at or below "
            f"chance ({chance:.2f}); its gaps say little about bias"
        )
    return ""


def comparison_name(group_names: list[str]) -> str:
    if len(group_names) == 2:
        return f"{group_names[0]} - {group_names[1]}"
    return f"max - min over {len(group_names)} groups"


def _gap_matrix_counts(counts: np.ndarray) -> np.ndarray:
    """Every gap of `gap_keys` from one-vs-rest counts (..., G, C, 4)."""
    return gaps_from_differences(differences_from_counts(counts))


def _settings(kind, group, group_names, scheme, n_boot, n_perm, seed, correction, source):
    return {
        "source_kind": kind,
        "source": source or {},
        "synthetic": bool((source or {}).get("synthetic")),
        "group": group if isinstance(group, str) else list(group),
        "groups": group_names,
        "comparison": comparison_name(group_names),
        "scheme": scheme,
        "n_boot": n_boot,
        "n_perm": n_perm,
        "seed": seed,
        "correction": correction,
        "power": {"power": POWER, "alpha": 0.05, "before_correction": True},
        "confidence": intervals.CONFIDENCE,
        "small_n_below": SMALL_N,
        "definitions": list(DEFINITIONS),
        "caveat": CAVEAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise AuditError(f"unknown family of tests {family!r}; choose {' or '.join(FAMILIES)}")


def _assemble(parts: dict, runs: list[dict], settings: dict) -> AuditResult:
    run_table = pd.DataFrame(runs)
    confusion = _concat(parts["confusion"], ["run_id", "group", "true", "pred", "count"])
    group_metrics = _concat(parts["group_metrics"], None)
    gaps = _concat(parts["gaps"], None).merge(run_table, on="run_id", how="left")
    if settings["family"] == "audit":
        gaps["p_adjusted"] = intervals.adjust(
            gaps["p_value"].to_numpy(), method=settings["correction"]
        )
    tested = np.isfinite(gaps["p_value"].astype(float))
    if settings["family"] == "audit":
        gaps["n_tests"] = int(tested.sum())
    else:
        gaps["n_tests"] = gaps["run_id"].map(tested.groupby(gaps["run_id"]).sum()).astype(int)
    summary = summarize(gaps)
    gaps = _with_seed_spread(gaps, summary)
    settings["runs"] = run_table.to_dict("records")
    variation = _concat(parts.get("variation", []), list(_VARIATION_COLUMNS))
    return AuditResult(
        confusion=confusion,
        group_metrics=group_metrics,
        gaps=gaps,
        rankings=rank(summary),
        summary=summary,
        variation=variation,
        settings=settings,
    )


_VARIATION_COLUMNS = ("run_id", "metric", "class", "rate", "videos_per_subject", "between_sd")


def _concat(frames: list[pd.DataFrame], columns: list[str] | None) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=columns or [])
    return pd.concat(frames, ignore_index=True)
