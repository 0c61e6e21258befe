"""The difference between two models' gaps, with an interval from a paired subject
bootstrap (issue #15 part 5, "side by side").

Two runs of one predictions table, evaluated on the same test subjects and videos, are
compared on one gap G (a definition and a class, exactly as the audit defines it:
`gaps.gap_column` of the group differences of the `metrics` rates).

The math. Let M_r,i be the confusion matrix of cell i (a subject within a group, as in
the audit; with intersectional groups such as gender x authenticity a subject is a cell,
a "subject-group", in each of its groups) for run r. Resample b draws, within each
group g, n_g of its cells with replacement: cell i is drawn w_bi times
(`resample.bootstrap_weights`, the audit's own draws for this seed). The same w_b
weights both runs: M*_r,g,b = sum_{i in g} w_bi M_r,i. Then

    D    = G(M_first) - G(M_second)                  (the observed difference)
    D*_b = G(M*_first,b) - G(M*_second,b)            (b = 1 .. B)

Draws in which a group loses every positive of a class the test set has are left out
(as in the audit; their share is `boot_dropped`), leaving B' finite D*_b (`n_used`).
The interval of D and its two-sided p-value of "no difference" come from the same
order statistics (`intervals.sign_interval_and_p`), with alpha = 1 - confidence and
k = ceil(alpha B' / 2):

    interval = [D*_(k), D*_(B'+1-k)]   (the k-th smallest and k-th largest D*_b)
    p        = min(1, 2 min(#{D*_b <= 0}, #{D*_b >= 0}) / B')   (0: say p < 1/B')

so that the interval excludes 0 exactly when p < alpha (the proof is in
`sign_interval_and_p`): the words the interval gives ("the gaps differ") and p never
disagree. p is for this one comparison: it is not adjusted for the other definitions,
classes or pairs of runs one could compare.

Why paired: a subject one model reads badly is often read badly by the other too.
Drawing the same subjects for both lets that shared variation cancel in D*_b
(Var(A - B) = Var A + Var B - 2 Cov(A, B)), so the interval is narrower than one from
independent draws for each model. Each run's own gap interval from these draws is the
audit's interval of that gap (same seed, same draws, and the audit's percentile method,
`intervals.percentile_interval`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fer_audit.fairness import intervals, metrics
from fer_audit.fairness.assemble import comparison_name, differences_from_counts
from fer_audit.fairness.from_predictions import cell_confusions, draws_losing_a_class
from fer_audit.fairness.gaps import DEFINITIONS, RATE_OF, gap_classes, gap_column
from fer_audit.fairness.predictions import checked_table, is_synthetic
from fer_audit.fairness.resample import bootstrap_weights, weighted_confusions
from fer_audit.fairness.result import AuditError
from fer_audit.fairness.settings import AuditSettings
from fer_audit.labels import get_scheme

INTERVAL_METHOD = (
    "paired subject bootstrap (percentile interval of the difference: the k-th smallest "
    "and k-th largest resampled difference, k = ceil(B (1 - confidence) / 2))"
)
P_METHOD = (
    "paired subject bootstrap (twice the share of resampled differences on the far side "
    "of 0: below 1 - confidence exactly when the interval excludes 0)"
)
P_ADJUSTMENT = "none: p for this one comparison, not adjusted for others"
#: at most this many names in a message
_NAMED = 8


class PairingError(AuditError):
    """Two runs that cannot be compared by a paired bootstrap (the message says why)."""


@dataclass(frozen=True)
class PairedDifference:
    """gap(first) - gap(second) for one gap, with its paired interval and p-value.

    `subjects`: per group, the test subjects with videos in it (shared by both runs):
    the cells resampled, subject-groups when a subject is in several groups (then they
    add up to more than `n_subjects`, the distinct test subjects); `videos`: videos per
    group of each run; `rate_n`: the n of the rate behind the gap (`rate_n_name`:
    positives, negatives or videos) per group of each run. Intervals at `confidence`
    over `n_boot` draws (`boot_dropped`: the share left out; `n_used`: the draws kept):
    each run's is the audit's, the difference's and its p-value those of the module
    docstring. `p_value` is unadjusted: for this one comparison."""

    first: str
    second: str
    definition: str
    cls: str
    comparison: str
    groups: list[str]
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    first_gap: float
    first_interval: tuple[float, float]
    second_gap: float
    second_interval: tuple[float, float]
    subjects: dict[str, int]
    n_subjects: int
    videos: dict[str, dict[str, int]]
    rate_n_name: str
    rate_n: dict[str, dict[str, int]]
    n_boot: int
    seed: int
    confidence: float
    boot_dropped: float
    n_used: int
    synthetic: bool
    interval_method: str = INTERVAL_METHOD
    p_method: str = P_METHOD
    p_adjustment: str = P_ADJUSTMENT

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or below zero."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    @property
    def subject_groups(self) -> bool:
        """Whether a subject is in several groups (intersectional groups): what is
        resampled, and counted per group, are then subject-groups, not subjects."""
        return sum(self.subjects.values()) > self.n_subjects

    @property
    def half_width(self) -> float:
        """Half the interval's width: about the smallest difference these data detect."""
        return (self.ci_high - self.ci_low) / 2

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values (an undefined number, NaN, as None)."""
        return {name: _json_ready(value) for name, value in dataclasses.asdict(self).items()}


def paired_gap_difference(
    *,
    predictions: pd.DataFrame,
    first: str,
    second: str,
    definition: str,
    cls: str | int,
    group: str | list[str] = "gender",
    groups: list[str] | None = None,
    scheme: str = "paper4",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = intervals.CONFIDENCE,
) -> PairedDifference:
    """gap(`first`) - gap(`second`) for the gap (`definition`, `cls`: a class name or
    index, or all, overall, worst, mean) of two runs (run_id values of `predictions`),
    groups, scheme, resamples and seed as the audit takes them, with the percentile
    interval and p-value of the paired subject bootstrap (module docstring).

    PairingError (an AuditError) when a run is not in the table, both are the same run,
    the runs differ in test subjects or videos (naming the subjects), the gap is not one
    the audit gives, it is undefined for a run (a group without positives), or no
    resample gives both runs' gaps."""
    classes = list(get_scheme(scheme).classes)
    label = _gap_label(definition, cls, classes)
    table = _two_runs(predictions, first, second)
    frame, group_names, _ = checked_table(table, group=group, groups=groups, classes=classes)
    rows = {run: frame[frame["run_id"] == run] for run in (first, second)}
    _same_test_set(rows, first, second)
    which = classes.index(label) if label in classes else label
    observed, draws = _resampled(rows, group_names, classes, definition, which, n_boot, seed)
    values = {run: float(_gap(definition, which, observed[run])) for run in (first, second)}
    undefined = [run for run, value in values.items() if not np.isfinite(value)]
    if undefined:
        raise PairingError(
            f"the {definition} gap of {label} is undefined for {', '.join(undefined)}: a "
            "group has no videos it needs (no positives of the class)"
        )
    difference = draws[first] - draws[second]
    low, high, p_value, n_used = intervals.sign_interval_and_p(difference, confidence=confidence)
    if n_used == 0:
        raise PairingError(
            f"none of the {n_boot} resamples gives the {definition} gap of {label} for both "
            "runs: in every one a group lost every video of a class. With so few subjects "
            "per group the difference has no interval"
        )
    rate = metrics.RATES[_rate_of(definition, label, classes)]
    return PairedDifference(
        first=first,
        second=second,
        definition=definition,
        cls=label,
        comparison=comparison_name(group_names),
        groups=group_names,
        difference=values[first] - values[second],
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        first_gap=values[first],
        first_interval=_interval(draws[first], confidence),
        second_gap=values[second],
        second_interval=_interval(draws[second], confidence),
        subjects=_per_group(rows[first].groupby("_group")["subject"].nunique(), group_names),
        n_subjects=int(rows[first]["subject"].nunique()),
        videos={run: _per_group(observed[run].sum(axis=(-2, -1)), group_names) for run in draws},
        rate_n_name=rate.n_name,
        rate_n={
            run: _per_group(_rate_n(observed[run], definition, label, classes), group_names)
            for run in draws
        },
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        boot_dropped=float(np.isnan(difference).mean()),  # left out of the interval
        n_used=n_used,
        synthetic=is_synthetic(table),
    )


def _resampled(
    rows: dict[str, pd.DataFrame],
    group_names: list[str],
    classes: list[str],
    definition: str,
    which: int | str,
    n_boot: int,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each run's observed group confusions (G, C, C) and its gap in each paired
    resample (n_boot,): the same `bootstrap_weights` weigh both runs' cells; a draw in
    which a group loses every positive of a class the test set has is NaN for both.
    PairingError unless both runs' cells are the same (subject, group) in the same order."""
    cells = {run: cell_confusions(part, group_names, classes) for run, part in rows.items()}
    _same_cells({run: cell_rows for run, (_, _, cell_rows) in cells.items()})
    cell_group = next(iter(cells.values()))[1]
    n_groups = len(group_names)
    weights = bootstrap_weights(cell_group, n_groups, n_boot=n_boot, seed=seed)
    observed, draws, lost = {}, {}, np.zeros(n_boot, dtype=bool)
    for run, (run_cells, _, _) in cells.items():
        observed[run] = np.stack([run_cells[cell_group == g].sum(axis=0) for g in range(n_groups)])
        boot = weighted_confusions(run_cells, cell_group, n_groups, weights)
        lost |= draws_losing_a_class(observed[run], boot)
        draws[run] = _gap(definition, which, boot)
    for run in draws:
        draws[run][lost] = np.nan
    return observed, draws


def _same_cells(cell_rows: dict[str, pd.DataFrame]) -> None:
    """PairingError unless both runs' cells are, in order, the same (subject, group):
    one weight per cell weighs both runs, so cell i must be one subject-group in both."""
    (first, one), (second, other) = cell_rows.items()
    keys = [list(zip(p["subject"].astype(str), p["_group"], strict=True)) for p in (one, other)]
    if keys[0] == keys[1]:
        return
    differ = [
        f"only {run} has {_named(sorted(' in '.join(k) for k in set(mine) - set(theirs)))}"
        for run, mine, theirs in ((first, *keys), (second, *keys[::-1]))
        if set(mine) - set(theirs)
    ]
    raise PairingError(
        f"runs {first} and {second} do not have the same subject-group cells in the same "
        f"order ({'; '.join(differ) or 'the same cells, in another order'}). A paired "
        "comparison weighs both runs' cells with one draw"
    )


def compare_runs(
    settings: AuditSettings,
    *,
    predictions: pd.DataFrame,
    first: str,
    second: str,
    definition: str,
    cls: str | int,
) -> PairedDifference:
    """`paired_gap_difference` with an audit's settings (its groups, label scheme,
    resamples and seed), as `fer-audit compare` and the Audit page call it."""
    return paired_gap_difference(
        predictions=predictions,
        first=first,
        second=second,
        definition=definition,
        cls=cls,
        group=settings.group_argument(),
        groups=settings.compared_groups(),
        scheme=settings.scheme,
        n_boot=settings.bootstrap,
        seed=settings.seed,
    )


def _gap(definition: str, which: int | str, confusions: np.ndarray) -> np.ndarray:
    """The gap of confusion matrices (..., G, C, C), as the audit computes it."""
    return gap_column(
        definition, which, differences_from_counts(metrics.ovr_from_confusion(confusions))
    )


def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [_json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def _gap_label(definition: str, cls: str | int, classes: list[str]) -> str:
    """The class label of the gap (an index becomes its class); PairingError naming the
    choices when the audit gives no such gap."""
    if definition not in DEFINITIONS:
        raise PairingError(f"unknown definition {definition!r}; choose {', '.join(DEFINITIONS)}")
    label = classes[cls] if isinstance(cls, int) and 0 <= cls < len(classes) else str(cls)
    allowed = gap_classes(definition, classes)
    if label not in allowed:
        raise PairingError(
            f"{definition} has no gap for class {label!r}; its gaps are for {', '.join(allowed)}"
        )
    return label


def _two_runs(predictions: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """The rows of the two runs; PairingError when they are one run or not in the table."""
    if first == second:
        raise PairingError(f"both runs are {first!r}: a paired comparison needs two different runs")
    if "run_id" not in predictions.columns:
        raise AuditError("the predictions table lacks column run_id")
    run_ids = predictions["run_id"].astype(str)
    present = set(run_ids)
    missing = [run for run in (first, second) if run not in present]
    if missing:
        raise PairingError(
            f"no run {' or '.join(map(repr, missing))} in the predictions table; its runs: "
            + _named(sorted(present))
        )
    kept = run_ids.isin([first, second]).to_numpy()
    return predictions[kept].assign(run_id=run_ids[kept].to_numpy()).reset_index(drop=True)


def _same_test_set(rows: dict[str, pd.DataFrame], first: str, second: str) -> None:
    """PairingError unless both runs hold the same subjects (in the same groups) and the
    same videos of each: the same video ids and true classes when the table has
    `video_id`, else the same number of videos of each class per subject."""
    subjects = {run: set(part["subject"]) for run, part in rows.items()}
    only_first = sorted(subjects[first] - subjects[second])
    only_second = sorted(subjects[second] - subjects[first])
    if only_first or only_second:
        differ = [
            f"only {run} has {_named(names)}"
            for run, names in ((first, only_first), (second, only_second))
            if names
        ]
        raise PairingError(
            f"runs {first} and {second} were not evaluated on the same test subjects: "
            + "; ".join(differ)
            + ". A paired comparison needs the same subjects"
        )
    columns = ["subject", "_group", "y_true"]
    columns += ["video_id"] if "video_id" in rows[first].columns else []
    counts = {run: part[columns].astype(str).value_counts() for run, part in rows.items()}
    gap = counts[first].sub(counts[second], fill_value=0)
    differing = sorted(set(gap[gap != 0].index.get_level_values("subject")))
    if differing:
        what = "video ids or classes" if "video_id" in columns else "videos of each class"
        raise PairingError(
            f"runs {first} and {second} hold different {what} for subject(s) "
            f"{_named(differing)}. A paired comparison needs the same videos"
        )


def _named(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")


def _rate_of(definition: str, label: str, classes: list[str]) -> str:
    """The rate whose n goes with the gap: that of a per-class gap (equalized odds: its
    TPR part), videos (accuracy) for the aggregates."""
    return RATE_OF[definition] if label in classes else "accuracy"


def _rate_n(observed: np.ndarray, definition: str, label: str, classes: list[str]) -> np.ndarray:
    """Per group, the n of the gap's rate (`_rate_of`)."""
    n = metrics.denominators(counts=metrics.ovr_from_confusion(observed))
    rate = _rate_of(definition, label, classes)
    return n[rate][..., classes.index(label)] if label in classes else n[rate][..., 0]


def _per_group(values, group_names: list[str]) -> dict[str, int]:
    if isinstance(values, pd.Series):
        return {g: int(values.get(g, 0)) for g in group_names}
    return {g: int(v) for g, v in zip(group_names, values, strict=True)}


def _interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    low, high = intervals.percentile_interval(draws, confidence=confidence)
    return float(low), float(high)
