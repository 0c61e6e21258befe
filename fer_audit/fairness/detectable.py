"""The minimum detectable gaps the audits report: the smallest gap each gap row's own
test could detect (the bisection and the simulated studies come from `planner`).

Minimum detectable gap (MDG) of an audit's gap row: the smallest true gap δ that the
audit's own test finds with 80% power at α = 0.05 (before correction). It is
estimated on the test's own null draws (the permutation draws of the audit, or the
parametric null draws of a counts-only audit), which keep the test set's structure:
subjects per group, videos per subject and class, the observed variation between
subjects. A true gap δ is planted in each draw by a location shift of the group
difference it lives in (`gaps.planted_gap`); power(δ) is the share of shifted draws
whose p-value against the null draws is below α; the MDG is the δ where power
reaches 80% (bisection, power rises with δ). The critical value widens with δ as a
permutation null rebuilt from data holding the gap would; near rates of 0 and 1 the
shifted null carries more noise than such data, so the MDG errs large, not small. A
null without spread (every subject right on a class) is simulated instead. NaN where
even δ = `MAX_GAP` is not detected, too few subjects allow p < α at all, or the gap
is undefined.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from fer_audit.fairness import metrics
from fer_audit.fairness.gaps import (
    gap_column,
    gap_keys,
    gap_order,
    gaps_from_differences,
    planted_gaps,
)
from fer_audit.fairness.planner import (
    _TOLERANCE,
    ALPHA,
    POWER,
    Design,
    _group_rates,
    planned_detectable_gap,
    smallest_gap,
)

#: null draws used to estimate power (the critical value uses all of them)
POWER_DRAWS = 1000
#: a null taking at most this many distinct sizes carries almost no noise
_THIN_VALUES = 2


def critical_values(null: np.ndarray, *, alpha: float = ALPHA, axis: int = 0) -> np.ndarray:
    """The value |gap| must exceed for the resampling test to give p < α, per gap.

    With B finite null draws, p = (1 + #{|null| >= v}) / (1 + B) < α holds when at
    most k = ceil(α (1 + B) - 1) - 1 draws reach v, i.e. when v is above the (k+1)-th
    largest |null|. NaN when no value can reach p < α (too few draws) or the gap is
    undefined in most draws."""
    magnitudes = np.sort(np.abs(np.moveaxis(np.asarray(null, float), axis, -1)), axis=-1)
    valid = np.isfinite(magnitudes).sum(axis=-1)
    allowed = np.ceil(alpha * (1 + valid) - 1).astype(int) - 1
    index = valid - 1 - allowed  # ascending sort: NaNs are last
    ok = (allowed >= 0) & (index >= 0)
    safe = np.clip(index, 0, magnitudes.shape[-1] - 1)[..., None]
    picked = np.take_along_axis(magnitudes, safe, axis=-1)[..., 0]
    return np.where(ok, picked + _TOLERANCE, np.nan)


def detectable_gaps(
    null_differences: dict[str, np.ndarray],
    classes: Sequence[str],
    *,
    observed: np.ndarray,
    units: Sequence[int] | None = None,
    power: float = POWER,
    alpha: float = ALPHA,
    draws: int = POWER_DRAWS,
    seed: int = 0,
) -> np.ndarray:
    """The minimum detectable gap of every row of `gap_keys(classes)` (see module).

    `null_differences` are `gaps.differences` of the test's null draws (draws on axis
    0); `observed` the test set's one-vs-rest counts (G, C, 4); `units` the subjects
    (cells) per group a permutation test shuffles (None: a counts-only audit).

    A permutation test rebuilds its null from data that hold the gap, so its critical
    value widens with δ: c(δ) = c0 sqrt(1 + δ² / ((N - 1) v0)), v0 the null variance of
    the difference the gap lives in, N the units permuted. Where that null takes at
    most two sizes (every subject right on a class, or one miss in all), the shift
    says nothing: those rows are simulated instead (`planned_detectable_gap`,
    subjects alike, the rate moved 1/(2n) away from 0 and 1), or for counts only,
    `independent_videos_floor`. NaN when too few units allow p < α at all."""
    keys = gap_keys(classes)
    found = np.full(len(keys), np.nan)
    if units is not None and _smallest_p(units) >= alpha:
        return found
    critical = critical_values(gaps_from_differences(null_differences), alpha=alpha)
    sample = {name: values[:draws] for name, values in null_differences.items()}
    spread = {name: _nanvar(values) for name, values in null_differences.items()}
    thin = {name: _thin(values).astype(float) for name, values in null_differences.items()}
    rates = _pooled_rates(observed)
    n_units = sum(units) if units is not None else None
    order = gap_order(len(classes))
    for row, key in enumerate(keys):
        if not np.isfinite(critical[row]):
            continue
        needed = []
        for mask in planted_gaps(key, classes):
            ((name, weights),) = mask.items()
            null_var = _masked_mean(spread[name], weights)
            rate, n_first, n_second, per_unit = _masked_rates(rates, name, weights, units)
            if _masked_mean(thin[name], weights) == 1:  # every chosen class
                needed.append(
                    _thin_null_gap(rate, n_first, n_second, per_unit, units, power, alpha, seed)
                )
                continue
            widen = (
                (lambda d: 1.0)
                if n_units is None
                else (lambda d, v=null_var: np.sqrt(1 + d**2 / ((n_units - 1) * v)))
            )
            needed.append(_shift_gap(sample, order[row], mask, critical[row], widen, power))
        found[row] = np.max(needed) if needed else np.nan
    return found


def _shift_gap(sample, which, mask, critical, widen, power) -> float:
    """The δ at which `power` of the null draws shifted by δ (in `mask`) exceed the
    widened critical value; NaN if even MAX_GAP falls short."""
    ((name, weights),) = mask.items()

    def power_at(delta: float) -> float:
        planted = dict(sample)
        planted[name] = sample[name] + delta * weights
        shifted = gap_column(*which, planted)
        return float(np.mean(np.abs(shifted) > critical * widen(delta)))

    return smallest_gap(lambda gap: power_at(gap) >= power)


def _thin_null_gap(rate, n_first, n_second, per_unit, units, power, alpha, seed) -> float:
    if units is None:
        return independent_videos_floor(rate, n_first, n_second, power=power, alpha=alpha)
    return _simulated_gap(
        min(max(round(rate, 2), 0.01), 0.99),
        round(max(per_unit, 1.0), 1),
        min(units),
        power,
        alpha,
        seed,
    )


@functools.lru_cache(maxsize=256)
def _simulated_gap(rate, per_unit, subjects, power, alpha, seed) -> float:
    """`planned_detectable_gap` of subjects alike (rounded design: many rows share one)."""
    design = Design(rate=rate, videos_per_subject=per_unit)
    return planned_detectable_gap(
        design, subjects=subjects, power=power, alpha=alpha, n_sim=400, seed=seed
    )


def _smallest_p(units: Sequence[int]) -> float:
    """The smallest p-value a permutation of `units` can give: 1 / (number of distinct
    relabellings), twice that for two equal groups (a relabelling and its mirror give
    the same |gap|)."""
    relabellings = math.factorial(sum(units))
    for n in units:
        relabellings //= math.factorial(n)
    mirrored = len(units) == 2 and units[0] == units[1]
    return (2 if mirrored else 1) / relabellings


def _thin(values: np.ndarray) -> np.ndarray:
    """Per column, whether the draws take at most _THIN_VALUES distinct sizes |x|."""
    columns = np.abs(values).reshape(len(values), -1)
    distinct = [np.unique(np.round(c[np.isfinite(c)], 9)).size <= _THIN_VALUES for c in columns.T]
    return np.array(distinct).reshape(values.shape[1:])


def _nanvar(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    mean = np.where(finite, values, 0).sum(axis=0) / np.maximum(count, 1)
    squares = np.where(finite, (values - mean) ** 2, 0).sum(axis=0)
    return np.where(count > 1, squares / np.maximum(count - 1, 1), np.nan)


def _masked_mean(values: np.ndarray, weights: np.ndarray) -> float:
    values, weights = np.broadcast_arrays(np.asarray(values, float), weights)
    chosen = values[weights > 0]
    return float(np.mean(chosen)) if chosen.size else float("nan")


def _pooled_rates(observed: np.ndarray) -> dict:
    """Successes and denominators per group and class of every difference's rate
    (the paper's class means read their rate's), for `_masked_rates`."""
    successes = metrics.numerators(counts=observed)
    totals = metrics.denominators(counts=observed)
    successes["overall"] = observed[..., metrics.TP].sum(axis=-1)
    totals["overall"] = observed[:, 0].sum(axis=-1)
    for name in ("mean_tpr", "mean_fpr"):
        base = name.removeprefix("mean_")
        successes[name], totals[name] = successes[base], totals[base]
    return {"successes": successes, "totals": totals}


def _masked_rates(rates: dict, name: str, weights: np.ndarray, units: Sequence[int] | None):
    """The pooled rate of the difference `name` over the classes in `weights` (all
    classes for the paper's class means), the two smallest groups' denominators and
    the denominator per unit, the rate moved 1/(2n) away from 0 and 1."""
    k, n = rates["successes"][name], rates["totals"][name]
    if k.ndim == 2 and name not in ("mean_tpr", "mean_fpr"):  # per class: a class's own n
        chosen = np.broadcast_to(weights, k.shape[1:]) > 0
        count = chosen.sum()
        k, n = k[:, chosen].sum(axis=1) / count, n[:, chosen].sum(axis=1) / count
    elif k.ndim == 2:
        k, n = k.sum(axis=1), n.sum(axis=1)
    first, second = np.sort(n)[:2].astype(float)
    edge = 1 / (2 * max(n.sum(), 1))
    rate = min(max(k.sum() / max(n.sum(), 1), edge), 1 - edge)
    per_unit = n.sum() / sum(units) if units else n.sum()
    return rate, first, second, per_unit


def independent_videos_floor(
    rate: float, n_first: float, n_second: float, *, power: float = POWER, alpha: float = ALPHA
) -> float:
    """The smallest gap a two-proportion z-test on independent videos detects with
    `power`: the δ solving δ = z_(1-α/2) sqrt(p(1-p)(1/n1 + 1/n2)) +
    z_power sqrt(p1(1-p1)/n1 + p2(1-p2)/n2), with p1, p2 = `rate` ± δ/2 (moved inside
    [0, 1]). NaN without videos."""
    if min(n_first, n_second) <= 0 or not np.isfinite(rate):
        return float("nan")
    z_alpha, z_power = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    null_sd = np.sqrt(rate * (1 - rate) * (1 / n_first + 1 / n_second))

    def needed(gap: float) -> float:
        first, second = _group_rates(rate, gap)
        spread = np.sqrt(first * (1 - first) / n_first + second * (1 - second) / n_second)
        return z_alpha * null_sd + z_power * spread

    return smallest_gap(lambda gap: needed(gap) <= gap, steps=30)
