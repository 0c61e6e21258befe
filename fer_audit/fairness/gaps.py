"""Fairness gap definitions on per-group rates (DESIGN.md section 5).

Rates arrive shaped (..., G, C): groups on axis -2, classes on axis -1. For two
groups a difference is Δx = x(first group) - x(second group), sign kept so the
direction shows (the default group order is alphabetical: female - male). For more
than two groups a difference is max over groups minus min over groups (>= 0). A
difference is NaN when a group has no videos for it; means over classes use only
the classes every group has (`worst` and `mean` skip NaN classes).

Paper-faithful definitions (Domnich & Anbarjafari 2021, section 5.2), class `all`:
- `eqop_paper`  EQOP = Δ mean_c TPR_c            (ranked by its absolute value)
- `eqod_paper`  EQOD = |Δ mean_c TPR_c| + |Δ mean_c FPR_c|
- `dp_paper`    DP   = mean_c |ΔACC_c|           (accuracy parity, as the paper applies it)

Caveat: with balanced classes, mean_c TPR_c is the overall accuracy and mean_c FPR_c
is (1 - accuracy)/(C - 1), so EQOP and EQOD are both proportional to the overall
accuracy gap and the paper's three definitions agree partly by construction.

Standard definitions (multiclass extension of Fairlearn's binary ones), per class
plus `worst` (max_c |.|) and `mean` (mean_c |.|):
- `equal_opportunity`   ΔTPR_c
- `equalized_odds`      max(|ΔTPR_c|, |ΔFPR_c|)  (no sign: it mixes two rates)
- `demographic_parity`  ΔSR_c (selection rate: true demographic parity)
- `accuracy`            ΔACC_c, plus class `overall`: Δ multiclass accuracy
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAPER_DEFINITIONS: tuple[str, ...] = ("eqop_paper", "eqod_paper", "dp_paper")
STANDARD_DEFINITIONS: tuple[str, ...] = (
    "equal_opportunity",
    "equalized_odds",
    "demographic_parity",
    "accuracy",
)
DEFINITIONS = PAPER_DEFINITIONS + STANDARD_DEFINITIONS
#: Definitions whose per-class value carries a direction (first group minus second).
SIGNED: frozenset[str] = frozenset(
    {"eqop_paper", "equal_opportunity", "demographic_parity", "accuracy"}
)
CAVEAT = (
    "With balanced classes the paper's EQOP and EQOD are both proportional to the overall "
    "accuracy gap, so its three definitions agree partly by construction."
)


def group_difference(values: np.ndarray, *, axis: int = -2) -> np.ndarray:
    """x(first) - x(second) for two groups along `axis`; max - min for more groups.
    NaN when any group's value is NaN (a group with no videos of that kind)."""
    values = np.moveaxis(values, axis, 0)
    if values.shape[0] == 2:
        return values[0] - values[1]
    return np.max(values, axis=0) - np.min(values, axis=0)


def _shared_classes(rates: np.ndarray) -> np.ndarray:
    """`rates` (..., G, C) with a class set to NaN in every group when any group lacks
    it, so means over classes compare the same classes across groups."""
    defined = np.isfinite(rates).all(axis=-2, keepdims=True)
    return np.where(defined, rates, np.nan)


def _nanmean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean over `axis` of the finite values; NaN where there are none."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nanmax(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Max over `axis` of the finite values; NaN where there are none."""
    return np.fmax.reduce(values, axis=axis)


def gap_order(n_classes: int) -> list[tuple[str, int | str]]:
    """The rows of every gap table in order: (definition, class index or aggregate)."""
    keys: list[tuple[str, int | str]] = [(d, "all") for d in PAPER_DEFINITIONS]
    for definition in STANDARD_DEFINITIONS:
        keys += [(definition, c) for c in range(n_classes)]
        if definition == "accuracy":
            keys.append((definition, "overall"))
        keys += [(definition, "worst"), (definition, "mean")]
    return keys


def gap_keys(classes: Sequence[str]) -> list[tuple[str, str]]:
    """The (definition, class) rows `gaps_from_differences` returns, in order."""
    return [(d, classes[c] if isinstance(c, int) else c) for d, c in gap_order(len(classes))]


def gap_classes(definition: str, classes: Sequence[str]) -> list[str]:
    """The classes a definition's gaps are given for, in the gap table's order: `all`
    for the paper's; each class, (`overall` for accuracy,) `worst` and `mean` for the
    standard ones."""
    return [c for d, c in gap_keys(classes) if d == definition]


#: the group differences every gap is built from (DIFFERENCES[name] has a class axis
#: when its name is in PER_CLASS)
DIFFERENCES: tuple[str, ...] = (
    "tpr",
    "fpr",
    "accuracy",
    "selection_rate",
    "mean_tpr",
    "mean_fpr",
    "overall",
)
PER_CLASS: frozenset[str] = frozenset({"tpr", "fpr", "accuracy", "selection_rate"})


def differences(*, rates: dict[str, np.ndarray], overall: np.ndarray) -> dict[str, np.ndarray]:
    """The group differences of every rate: Δx_c for x in TPR, FPR, ACC and SR (shape
    (..., C)); Δ mean_c TPR_c and Δ mean_c FPR_c over the classes every group has, and
    Δ multiclass accuracy (shape (...,)).

    `rates[m]` has shape (..., G, C); `overall` (multiclass accuracy) has shape (..., G).
    """
    diffs = {m: group_difference(rates[m]) for m in ("tpr", "fpr", "accuracy", "selection_rate")}
    diffs["mean_tpr"] = group_difference(_nanmean(_shared_classes(rates["tpr"])), axis=-1)
    diffs["mean_fpr"] = group_difference(_nanmean(_shared_classes(rates["fpr"])), axis=-1)
    diffs["overall"] = group_difference(overall, axis=-1)
    return diffs


def _per_class(definition: str, diffs: dict[str, np.ndarray]) -> np.ndarray:
    if definition == "equalized_odds":
        return np.maximum(np.abs(diffs["tpr"]), np.abs(diffs["fpr"]))
    return diffs[RATE_OF[definition]]


def gap_column(definition: str, which: int | str, diffs: dict[str, np.ndarray]) -> np.ndarray:
    """One gap from `differences` (shape (...,)); `which` is a class index or one of
    all, overall, worst, mean:
    EQOP = Δ mean TPR; EQOD = |Δ mean TPR| + |Δ mean FPR|; DP = mean_c |ΔACC_c|; per
    class ΔTPR_c, max(|ΔTPR_c|, |ΔFPR_c|), ΔSR_c, ΔACC_c; `overall` Δ multiclass
    accuracy; `worst` max_c |.| and `mean` mean_c |.| of the per-class values."""
    if definition == "eqop_paper":
        return diffs["mean_tpr"]
    if definition == "eqod_paper":
        return np.abs(diffs["mean_tpr"]) + np.abs(diffs["mean_fpr"])
    if definition == "dp_paper":
        return _nanmean(np.abs(diffs["accuracy"]))
    if which == "overall":
        return diffs["overall"]
    values = _per_class(definition, diffs)
    if which == "worst":
        return _nanmax(np.abs(values))
    if which == "mean":
        return _nanmean(np.abs(values))
    return values[..., which]


def gaps_from_differences(diffs: dict[str, np.ndarray]) -> np.ndarray:
    """Every gap of `gap_keys` (`gap_column` each), stacked on a new last axis."""
    n_classes = diffs["tpr"].shape[-1]
    return np.stack([gap_column(d, w, diffs) for d, w in gap_order(n_classes)], axis=-1)


#: the rate each definition's gap is about (equalized odds: its TPR part)
RATE_OF = {
    "eqop_paper": "tpr",
    "eqod_paper": "tpr",
    "dp_paper": "accuracy",
    "equal_opportunity": "tpr",
    "equalized_odds": "tpr",
    "demographic_parity": "selection_rate",
    "accuracy": "accuracy",
}


def planted_gaps(key: tuple[str, str], classes: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """Where a true gap of size 1 can sit for the gap `key` = (definition, class), as
    masks to add to `differences`, one per scenario (the minimum detectable gap is
    the largest over them: it holds whichever scenario is true): one class's rate for
    a per-class gap; each single class in turn for `worst`; every class's rate for
    `mean` and the paper's DP (a uniform gap); Δ mean TPR for the paper's EQOP and
    EQOD (FPR unchanged); Δ multiclass accuracy for `overall`."""
    definition, cls = key
    rate = RATE_OF[definition]
    if cls == "overall":
        return [{"overall": np.ones(())}]
    if definition in ("eqop_paper", "eqod_paper"):
        return [{"mean_tpr": np.ones(())}]
    if cls in classes:
        return [{rate: np.eye(len(classes))[list(classes).index(cls)]}]
    if cls == "worst":
        return [{rate: row} for row in np.eye(len(classes))]
    return [{rate: np.ones(len(classes))}]  # mean, or the paper's class-mean DP
