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

import warnings
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _nanmax(values: np.ndarray, axis: int = -1) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(values, axis=axis)


def gap_keys(classes: Sequence[str]) -> list[tuple[str, str]]:
    """The (definition, class) rows `gap_values` returns, in order."""
    keys = [(d, "all") for d in PAPER_DEFINITIONS]
    for definition in STANDARD_DEFINITIONS:
        keys += [(definition, c) for c in classes]
        if definition == "accuracy":
            keys.append((definition, "overall"))
        keys += [(definition, "worst"), (definition, "mean")]
    return keys


def gap_values(*, rates: dict[str, np.ndarray], overall: np.ndarray) -> np.ndarray:
    """Every gap of `gap_keys`, stacked on a new last axis.

    `rates[m]` has shape (..., G, C); `overall` (multiclass accuracy) has shape (..., G).
    """
    d_tpr = group_difference(rates["tpr"])
    d_fpr = group_difference(rates["fpr"])
    d_acc = group_difference(rates["accuracy"])
    d_sr = group_difference(rates["selection_rate"])
    d_mean_tpr = group_difference(_nanmean(_shared_classes(rates["tpr"])), axis=-1)
    d_mean_fpr = group_difference(_nanmean(_shared_classes(rates["fpr"])), axis=-1)
    columns = [
        d_mean_tpr[..., None],
        (np.abs(d_mean_tpr) + np.abs(d_mean_fpr))[..., None],
        _nanmean(np.abs(d_acc))[..., None],
    ]
    per_class = {
        "equal_opportunity": d_tpr,
        "equalized_odds": np.maximum(np.abs(d_tpr), np.abs(d_fpr)),
        "demographic_parity": d_sr,
        "accuracy": d_acc,
    }
    for definition in STANDARD_DEFINITIONS:
        values = per_class[definition]
        columns.append(values)
        if definition == "accuracy":
            columns.append(group_difference(overall, axis=-1)[..., None])
        columns.append(_nanmax(np.abs(values))[..., None])
        columns.append(_nanmean(np.abs(values))[..., None])
    return np.concatenate(columns, axis=-1)
