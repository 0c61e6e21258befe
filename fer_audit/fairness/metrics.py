"""Per-group, per-class rates from one-vs-rest counts.

Counts arrays have a last axis of four: (TP, FP, FN, TN), one-vs-rest for a class c
over the videos of a group g, and any leading axes (resamples, runs, groups,
classes), so the same functions serve observed values, bootstrap resamples and
permutations. A rate whose denominator is zero is NaN.
"""

from __future__ import annotations

import numpy as np

TP, FP, FN, TN = range(4)
METRICS: tuple[str, ...] = ("accuracy", "tpr", "fpr", "selection_rate")


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


def accuracy(*, counts: np.ndarray) -> np.ndarray:
    """One-vs-rest accuracy ACC_c = (TP + TN) / n, n = TP + FP + FN + TN."""
    return _ratio(counts[..., TP] + counts[..., TN], counts.sum(axis=-1))


def tpr(*, counts: np.ndarray) -> np.ndarray:
    """True positive rate TPR_c = TP / (TP + FN) (recall of class c)."""
    return _ratio(counts[..., TP], counts[..., TP] + counts[..., FN])


def fpr(*, counts: np.ndarray) -> np.ndarray:
    """False positive rate FPR_c = FP / (FP + TN)."""
    return _ratio(counts[..., FP], counts[..., FP] + counts[..., TN])


def selection_rate(*, counts: np.ndarray) -> np.ndarray:
    """Selection rate SR_c = (TP + FP) / n: how often class c is predicted."""
    return _ratio(counts[..., TP] + counts[..., FP], counts.sum(axis=-1))


def overall_accuracy(*, counts: np.ndarray) -> np.ndarray:
    """Multiclass accuracy sum_c TP_c / n over the class axis (-2): shape (...,)."""
    return _ratio(counts[..., TP].sum(axis=-1), counts[..., 0, :].sum(axis=-1))


def denominators(*, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The n of each rate: n for accuracy and selection rate, P = TP + FN for TPR,
    N = FP + TN for FPR."""
    n = counts.sum(axis=-1)
    return {
        "accuracy": n,
        "tpr": counts[..., TP] + counts[..., FN],
        "fpr": counts[..., FP] + counts[..., TN],
        "selection_rate": n,
    }


def numerators(*, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The successes of each rate (for count-based intervals)."""
    return {
        "accuracy": counts[..., TP] + counts[..., TN],
        "tpr": counts[..., TP],
        "fpr": counts[..., FP],
        "selection_rate": counts[..., TP] + counts[..., FP],
    }


def rates(*, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every rate of METRICS, each shaped like `counts` without its last axis."""
    return {
        "accuracy": accuracy(counts=counts),
        "tpr": tpr(counts=counts),
        "fpr": fpr(counts=counts),
        "selection_rate": selection_rate(counts=counts),
    }
