"""Per-group, per-class rates from one-vs-rest counts.

Counts arrays have a last axis of four: (TP, FP, FN, TN), one-vs-rest for a class c
over the videos of a group g, and any leading axes (resamples, runs, groups,
classes), so the same functions serve observed values, bootstrap resamples and
permutations. A rate whose denominator is zero is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TP, FP, FN, TN = range(4)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def ovr_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """One-vs-rest counts from confusion matrices `[..., true, pred]`: shape (..., C, 4).

    TP_c = M[c, c]; FN_c = sum_p M[c, p] - TP_c; FP_c = sum_t M[t, c] - TP_c;
    TN_c = n - TP_c - FN_c - FP_c.
    """
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    fn = confusion.sum(axis=-1) - tp
    fp = confusion.sum(axis=-2) - tp
    n = confusion.sum(axis=(-2, -1))[..., None]
    return np.stack([tp, fp, fn, n - tp - fn - fp], axis=-1)


@dataclass(frozen=True)
class Rate:
    """A rate as counts: the sum of the `numerator` counts over the sum of the
    `denominator` counts; `n_name` says what its denominator counts, in words."""

    numerator: tuple[int, ...]
    denominator: tuple[int, ...]
    n_name: str


#: the one table of the rates: what each counts over what
RATES: dict[str, Rate] = {
    "accuracy": Rate((TP, TN), (TP, FP, FN, TN), "videos"),
    "tpr": Rate((TP,), (TP, FN), "positives"),
    "fpr": Rate((FP,), (FP, TN), "negatives"),
    "selection_rate": Rate((TP, FP), (TP, FP, FN, TN), "videos"),
}
METRICS: tuple[str, ...] = tuple(RATES)


def _sum(counts: np.ndarray, which: tuple[int, ...]) -> np.ndarray:
    total = counts[..., which[0]]
    for index in which[1:]:
        total = total + counts[..., index]
    return total


def _rate(metric: str, counts: np.ndarray) -> np.ndarray:
    rate = RATES[metric]
    return _ratio(_sum(counts, rate.numerator), _sum(counts, rate.denominator))


def accuracy(*, counts: np.ndarray) -> np.ndarray:
    """One-vs-rest accuracy ACC_c = (TP + TN) / n, n = TP + FP + FN + TN."""
    return _rate("accuracy", counts)


def tpr(*, counts: np.ndarray) -> np.ndarray:
    """True positive rate TPR_c = TP / (TP + FN) (recall of class c)."""
    return _rate("tpr", counts)


def fpr(*, counts: np.ndarray) -> np.ndarray:
    """False positive rate FPR_c = FP / (FP + TN)."""
    return _rate("fpr", counts)


def selection_rate(*, counts: np.ndarray) -> np.ndarray:
    """Selection rate SR_c = (TP + FP) / n: how often class c is predicted."""
    return _rate("selection_rate", counts)


def overall_accuracy(*, counts: np.ndarray) -> np.ndarray:
    """Multiclass accuracy sum_c TP_c / n over the class axis (-2): shape (...,)."""
    return _ratio(counts[..., TP].sum(axis=-1), counts[..., 0, :].sum(axis=-1))


def denominators(*, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The n of each rate (RATES): n for accuracy and selection rate, P = TP + FN for
    TPR, N = FP + TN for FPR."""
    return {metric: _sum(counts, rate.denominator) for metric, rate in RATES.items()}


def numerators(*, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The successes of each rate (RATES; for count-based intervals)."""
    return {metric: _sum(counts, rate.numerator) for metric, rate in RATES.items()}


def rates(*, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every rate of RATES, each shaped like `counts` without its last axis."""
    return {metric: _rate(metric, counts) for metric in RATES}
