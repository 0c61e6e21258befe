"""Intervals, tests and multiple-comparison corrections (vectorised over numpy arrays)."""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(
    successes: np.ndarray, n: np.ndarray, *, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion k/n:
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n). NaN where n = 0."""
    k, n = np.asarray(successes, float), np.asarray(n, float)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low, high = centre - half, centre + half
    empty = n <= 0
    return np.where(empty, np.nan, np.clip(low, 0, 1)), np.where(empty, np.nan, np.clip(high, 0, 1))


def newcombe(
    k1: np.ndarray,
    n1: np.ndarray,
    k2: np.ndarray,
    n2: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval (method 10) for p1 - p2 of two independent
    proportions, from the Wilson intervals (l1, u1), (l2, u2):
    low = d - sqrt((p1-l1)² + (u2-p2)²), high = d + sqrt((u1-p1)² + (p2-l2)²)."""
    k1, n1, k2, n2 = (np.asarray(a, float) for a in (k1, n1, k2, n2))
    l1, u1 = wilson(k1, n1, confidence=confidence)
    l2, u2 = wilson(k2, n2, confidence=confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def fisher_exact_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact test of the 2x2 table [[k1, n1-k1], [k2, n2-k2]]."""
    if min(n1, n2) <= 0:
        return float("nan")
    from scipy import stats  # here: scipy.stats takes half a second to import

    table = [[int(k1), int(n1 - k1)], [int(k2), int(n2 - k2)]]
    return float(stats.fisher_exact(table).pvalue)


def percentile_interval(
    samples: np.ndarray, *, axis: int = 0, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of resampled values along `axis`, NaN resamples ignored."""
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=axis)
    return low, high


def resampling_p_value(observed: np.ndarray, null: np.ndarray, *, axis: int = 0) -> np.ndarray:
    """Two-sided p = (1 + #{|null| >= |observed|}) / (1 + B) along `axis`; NaN where
    the observed value is NaN. A small tolerance keeps exact ties as ties."""
    observed = np.asarray(observed, float)
    valid = np.isfinite(null)
    extreme = (np.abs(null) >= np.abs(observed) - 1e-12) & valid
    p = (1 + extreme.sum(axis=axis)) / (1 + valid.sum(axis=axis))
    return np.where(np.isfinite(observed), p, np.nan)


def bootstrap_p_value(samples: np.ndarray, *, axis: int = 0) -> np.ndarray:
    """Two-sided p-value of "no difference" from a bootstrap distribution of a
    difference, by inverting its percentile interval: p = min(1, 2 min(1 + #{d* <= 0},
    1 + #{d* >= 0}) / (1 + B)) over the B finite draws d* along `axis` (about the
    smallest 1 - confidence whose percentile interval reaches zero; at least
    2 / (1 + B)). NaN when no draw is finite."""
    samples = np.asarray(samples, float)
    valid = np.isfinite(samples)
    below = ((samples <= 0) & valid).sum(axis=axis)
    above = ((samples >= 0) & valid).sum(axis=axis)
    kept = valid.sum(axis=axis)
    p = np.minimum(1.0, 2 * (1 + np.minimum(below, above)) / (1 + kept))
    return np.where(kept > 0, p, np.nan)


def tail_rank(n: int, *, confidence: float = CONFIDENCE) -> int:
    """k = ceil(n (1 - confidence) / 2), computed exactly (`confidence` read as the
    decimal it prints as: 0.95 is 19/20, so 2000 draws give k = 50, not 51)."""
    alpha = 1 - Fraction(repr(float(confidence)))
    return max(1, math.ceil(n * alpha / 2))


def sign_interval_and_p(
    samples: np.ndarray, *, confidence: float = CONFIDENCE
) -> tuple[float, float, float, int]:
    """Percentile interval and two-sided p-value of "no difference" from the bootstrap
    draws of a difference, consistent by construction: (low, high, p, B) over the B
    finite draws d_(1) <= ... <= d_(B), with k = `tail_rank`(B) = ceil(alpha B / 2),
    alpha = 1 - confidence:

        low = d_(k), high = d_(B+1-k)     (the k-th smallest and the k-th largest draw:
                                            numpy's `inverted_cdf` quantile at alpha/2 of
                                            the draws, and of their negatives)
        p   = min(1, 2 m / B), m = min(#{d <= 0}, #{d >= 0})   (no +1; 0 when no draw
                                            reaches 0: then say p < 1/B)

    Claim: the interval excludes 0 (low > 0 or high < 0) <=> p < alpha.
    Proof. d_(k) > 0 <=> fewer than k draws are <= 0; d_(B+1-k) < 0 <=> fewer than k
    draws are >= 0. So the interval excludes 0 <=> m < k. And for alpha <= 1,
    p < alpha <=> 2m / B < alpha <=> m < alpha B / 2 <=> m < ceil(alpha B / 2) = k, as m
    is an integer. (1 <= k <= ceil(B / 2), so low <= high.) Compare p with alpha as
    the decimal it is (0.05): in floating point 1 - 0.95 is 0.05000000000000004.

    (nan, nan, nan, 0) when no draw is finite."""
    draws = np.asarray(samples, float).ravel()
    draws = np.sort(draws[np.isfinite(draws)])
    n = len(draws)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    k = tail_rank(n, confidence=confidence)
    m = min(int((draws <= 0).sum()), int((draws >= 0).sum()))
    return float(draws[k - 1]), float(draws[n - k]), min(1.0, 2 * m / n), n


def _adjust_in_order(p_values: np.ndarray, step) -> np.ndarray:
    """Apply `step` to the finite p-values sorted ascending; NaNs stay NaN; cap at 1."""
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    if valid.size:
        order = valid[np.argsort(p[valid], kind="stable")]
        adjusted[order] = np.minimum(step(p[order]), 1.0)
    return adjusted


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error): for the i-th smallest of m,
    max over j <= i of (m - j + 1) p_(j)."""

    def step(p):
        return np.maximum.accumulate((len(p) - np.arange(len(p))) * p)

    return _adjust_in_order(p_values, step)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate): for the i-th
    smallest of m, min over j >= i of p_(j) m / j."""

    def step(p):
        scaled = p * len(p) / np.arange(1, len(p) + 1)
        return np.minimum.accumulate(scaled[::-1])[::-1]

    return _adjust_in_order(p_values, step)


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg, "none": lambda p: np.asarray(p, float)}


def adjust(p_values: np.ndarray, *, method: str) -> np.ndarray:
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; choose {', '.join(CORRECTIONS)}")
    return CORRECTIONS[method](p_values)
