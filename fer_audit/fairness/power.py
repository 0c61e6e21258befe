"""Power: the smallest gap an audit could detect, and how many subjects a study needs.

Minimum detectable gap (MDG) of an audit's gap row: the smallest true gap δ that the
audit's own test finds with 80% power at α = 0.05 (before correction). It is
estimated on the test's own null draws (the permutation draws of the audit, or the
parametric null draws of a counts-only audit), which keep the test set's structure:
subjects per group, videos per subject and class, the observed variation between
subjects. A true gap δ is planted in each draw by a location shift of the group
difference it lives in (`gaps.planted_gap`); power(δ) is the share of shifted draws
whose p-value against the null draws is below α; the MDG is the δ where power
reaches 80% (bisection, power rises with δ). NaN where even δ = `MAX_GAP` is not
detected (too few subjects) or the gap is undefined.

Planner: a test set of n subjects per group is simulated from a `Design` (the rate
with no gap, its denominator per subject, the between-subject SD of subjects' own
rates): each subject's rate is drawn from a beta distribution around its group's rate
(the two groups δ apart), its videos from a binomial, and the gap is tested exactly
as the audit tests it (difference of pooled rates, permutation of group labels across
subjects, two-sided p = (1 + #{|null| >= |observed|}) / (1 + B)). Power is the share
of simulated test sets with p < α.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fer_audit.fairness import metrics
from fer_audit.fairness.gaps import (
    gap_column,
    gap_keys,
    gap_order,
    gaps_from_differences,
    planted_gap,
)
from fer_audit.seeding import seeded_rng

POWER = 0.8
ALPHA = 0.05
#: the largest gap searched for (rates differ by at most 1)
MAX_GAP = 1.0
#: null draws used to estimate power (the critical value uses all of them)
POWER_DRAWS = 1000
_BISECTIONS = 10
_TOLERANCE = 1e-12


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
    observed: np.ndarray | None = None,
    power: float = POWER,
    alpha: float = ALPHA,
    draws: int = POWER_DRAWS,
) -> np.ndarray:
    """The minimum detectable gap of every row of `gap_keys(classes)` (see module).

    `null_differences` are `gaps.differences` of the test's null draws, each array with
    the draws on axis 0. With the test set's one-vs-rest counts `observed` (G, C, 4),
    no gap is said detectable below `independent_videos_floor`: a null without
    variation (every subject perfect on a class) would otherwise make any shift look
    detectable, although a real gap brings misses, and their noise, with it."""
    keys = gap_keys(classes)
    critical = critical_values(gaps_from_differences(null_differences))
    sample = {name: values[:draws] for name, values in null_differences.items()}
    order = gap_order(len(classes))
    masks = [planted_gap(key, classes) for key in keys]

    def power_at(row: int, delta: float) -> float:
        planted = {
            name: values + delta * masks[row][name] if name in masks[row] else values
            for name, values in sample.items()
        }
        shifted = gap_column(*order[row], planted)
        return float(np.mean(np.abs(shifted) > critical[row]))

    found = np.full(len(keys), np.nan)
    for row in range(len(keys)):
        if not np.isfinite(critical[row]) or power_at(row, MAX_GAP) < power:
            continue
        low, high = 0.0, MAX_GAP
        for _ in range(_BISECTIONS):
            middle = (low + high) / 2
            low, high = (low, middle) if power_at(row, middle) >= power else (middle, high)
        found[row] = high
    if observed is not None:
        found = np.where(np.isfinite(found), np.fmax(found, _floors(observed, classes)), found)
    return found


def independent_videos_floor(
    rate: float, n_first: float, n_second: float, *, power: float = POWER, alpha: float = ALPHA
) -> float:
    """The smallest gap a two-proportion z-test on independent videos detects with
    `power`: the δ solving δ = z_(1-α/2) sqrt(p̄(1-p̄)(1/n1 + 1/n2)) +
    z_power sqrt(p1(1-p1)/n1 + p2(1-p2)/n2), with p1, p2 = `rate` ± δ/2 (moved inside
    [0, 1]) and p̄ the rate moved 1/(2(n1 + n2)) away from 0 and 1 (a continuity
    correction). No test that resamples subjects does better. NaN without videos."""
    if min(n_first, n_second) <= 0 or not np.isfinite(rate):
        return float("nan")
    edge = 1 / (2 * (n_first + n_second))
    pooled = min(max(rate, edge), 1 - edge)
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    null_sd = np.sqrt(pooled * (1 - pooled) * (1 / n_first + 1 / n_second))

    def needed(gap: float) -> float:
        first, second = _group_rates(pooled, gap)
        spread = np.sqrt(first * (1 - first) / n_first + second * (1 - second) / n_second)
        return z_alpha * null_sd + z_power * spread

    low, high = 0.0, MAX_GAP
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (low, middle) if needed(middle) <= middle else (middle, high)
    return high


def _floors(observed: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """`independent_videos_floor` of every gap row: of its class's rate for a per-class
    gap (TPR for equalized odds), of multiclass accuracy for `overall`, and the smallest
    per-class floor over sqrt(C) for gaps over classes (all, worst, mean). With more
    than two groups, the two smallest groups' counts."""
    successes = metrics.numerators(counts=observed)
    totals = metrics.denominators(counts=observed)
    successes["overall"] = observed[..., metrics.TP].sum(axis=-1)[:, None]
    totals["overall"] = observed[:, 0].sum(axis=-1)[:, None]

    def floor(metric: str, column: int) -> float:
        k, n = successes[metric][:, column], totals[metric][:, column]
        first, second = np.sort(n)[:2]
        return independent_videos_floor(k.sum() / max(n.sum(), 1), first, second)

    out = []
    for definition, which in gap_order(len(classes)):
        metric = _FLOOR_RATE[definition]
        if which == "overall":
            out.append(floor("overall", 0))
        elif isinstance(which, int):
            out.append(floor(metric, which))
        else:
            per_class = np.array([floor(metric, c) for c in range(len(classes))])
            finite = per_class[np.isfinite(per_class)]
            out.append(finite.min() / np.sqrt(len(classes)) if finite.size else np.nan)
    return np.array(out)


#: the rate whose floor bounds each definition's minimum detectable gap
_FLOOR_RATE = {
    "eqop_paper": "tpr",
    "eqod_paper": "tpr",
    "dp_paper": "accuracy",
    "equal_opportunity": "tpr",
    "equalized_odds": "tpr",
    "demographic_parity": "selection_rate",
    "accuracy": "accuracy",
}


# ---------------------------------------------------------------- planner


@dataclass(frozen=True)
class Design:
    """What the planner needs to simulate a test set for one rate.

    rate: the rate with no gap (e.g. a class's TPR); videos_per_subject: the rate's
    denominator per subject (positives for TPR, negatives for FPR, videos otherwise),
    may be fractional (subjects then get the two nearest counts); between_sd: the SD of
    subjects' own rates around their group's rate (0: every subject alike)."""

    rate: float
    videos_per_subject: float
    between_sd: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.rate < 1:
            raise ValueError(f"the rate must be between 0 and 1 (exclusive); got {self.rate}")
        if not self.videos_per_subject >= 1:
            raise ValueError(
                f"videos per subject must be at least 1; got {self.videos_per_subject}"
            )
        if not 0 <= self.between_sd < 0.5:
            raise ValueError(f"the between-subject SD must be in [0, 0.5); got {self.between_sd}")

    def describe(self, unit: str = "videos") -> str:
        """The design in words; `unit` names the rate's denominator (positives for TPR)."""
        return (
            f"rate {self.rate:.2f}, {self.videos_per_subject:g} {unit} per subject, "
            f"between-subject SD {self.between_sd:.2f}"
        )


def _group_rates(rate: float, gap: float) -> tuple[float, float]:
    """Two group rates `gap` apart around `rate`, moved inside (0, 1) if needed."""
    first, second = rate + gap / 2, rate - gap / 2
    if first > 1:
        first, second = 1.0, 1.0 - gap
    if second < 0:
        first, second = gap, 0.0
    return first, second


def _subject_rates(mean: float, sd: float, uniforms: np.ndarray) -> np.ndarray:
    """Subjects' own rates: beta with this mean and SD (by quantile, so that equal
    uniforms give ordered rates across designs); the SD is capped where a beta with
    that mean cannot reach it."""
    if sd <= 0 or mean <= 0 or mean >= 1:
        return np.full(uniforms.shape, mean)
    variance = min(sd**2, 0.95 * mean * (1 - mean))
    concentration = mean * (1 - mean) / variance - 1
    return stats.beta.ppf(uniforms, mean * concentration, (1 - mean) * concentration)


def _videos(videos_per_subject: float, uniforms: np.ndarray) -> np.ndarray:
    below = math.floor(videos_per_subject)
    return below + (uniforms < videos_per_subject - below)


def simulated_power(
    design: Design,
    *,
    subjects: int,
    gap: float,
    alpha: float = ALPHA,
    n_sim: int = 1000,
    n_perm: int = 500,
    seed: int = 0,
) -> float:
    """Power of the audit's permutation test to find `gap` with `subjects` per group
    under `design` (see module): the share of `n_sim` simulated test sets with p < α.
    The same seed gives the same simulated subjects whatever the gap (common random
    numbers), so power rises smoothly with the gap."""
    if subjects < 2:
        return 0.0
    rng = seeded_rng(seed, "planner", subjects)
    shape = (n_sim, 2 * subjects)
    u_rate, u_videos, u_binom = rng.random(shape), rng.random(shape), rng.random(shape)
    first, second = _group_rates(design.rate, gap)
    rates = np.concatenate(
        [
            _subject_rates(first, design.between_sd, u_rate[:, :subjects]),
            _subject_rates(second, design.between_sd, u_rate[:, subjects:]),
        ],
        axis=1,
    )
    videos = _videos(design.videos_per_subject, u_videos)
    hits = stats.binom.ppf(u_binom, videos, rates)
    labels = rng.permuted(np.tile(np.arange(2 * subjects) < subjects, (n_perm, 1)), axis=1)
    observed = _pooled_difference(hits, videos, np.arange(2 * subjects) < subjects)
    null = _pooled_difference(hits, videos, labels)
    extreme = (np.abs(null) >= np.abs(observed)[:, None] - _TOLERANCE).sum(axis=1)
    p = (1 + extreme) / (1 + n_perm)
    return float(np.mean(p < alpha))


def _pooled_difference(hits: np.ndarray, videos: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Σ hits / Σ videos of the first group minus that of the rest, for one labelling
    (shape (2n,): result (n_sim,)) or many (shape (P, 2n): result (n_sim, P))."""
    first = np.asarray(first, float)
    mask = first.T if first.ndim == 2 else first
    hits_first, videos_first = hits @ mask, videos @ mask
    hits_rest = hits.sum(axis=1, keepdims=first.ndim == 2) - hits_first
    videos_rest = videos.sum(axis=1, keepdims=first.ndim == 2) - videos_first
    return hits_first / videos_first - hits_rest / videos_rest


def power_curve(
    design: Design,
    *,
    gap: float,
    sizes: Sequence[int],
    alpha: float = ALPHA,
    n_sim: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Power at each number of subjects per group: columns subjects, power."""
    return pd.DataFrame(
        {
            "subjects": list(sizes),
            "power": [
                simulated_power(design, subjects=n, gap=gap, alpha=alpha, n_sim=n_sim, seed=seed)
                for n in sizes
            ],
        }
    )


def subjects_needed(
    design: Design,
    *,
    gap: float,
    power: float = POWER,
    alpha: float = ALPHA,
    max_subjects: int = 200,
    n_sim: int = 1000,
    seed: int = 0,
) -> int | None:
    """The fewest subjects per group whose simulated power reaches `power` (searched
    by doubling, then bisection; power rises with subjects); None if even
    `max_subjects` fall short."""

    def enough(n: int) -> bool:
        found = simulated_power(design, subjects=n, gap=gap, alpha=alpha, n_sim=n_sim, seed=seed)
        return found >= power

    high = 4
    while not enough(high):
        if high >= max_subjects:
            return None
        high = min(2 * high, max_subjects)
    low = 1 if high == 4 else high // 2  # enough(low) is False
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def planned_detectable_gap(
    design: Design,
    *,
    subjects: int,
    power: float = POWER,
    alpha: float = ALPHA,
    n_sim: int = 1000,
    seed: int = 0,
) -> float:
    """The smallest gap that `subjects` per group detect with `power` (bisection on the
    gap); NaN if no gap the rate allows is detected that often."""

    def enough(gap: float) -> bool:
        found = simulated_power(
            design, subjects=subjects, gap=gap, alpha=alpha, n_sim=n_sim, seed=seed
        )
        return found >= power

    if not enough(MAX_GAP):
        return float("nan")
    low, high = 0.0, MAX_GAP
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def subject_variation(cells: np.ndarray, cell_group: np.ndarray, n_groups: int) -> dict:
    """What the planner needs from an audited test set, per rate: {metric: (rate,
    videos per subject, between-subject SD)}, each an array over classes (and for
    "overall", multiclass accuracy, a scalar).

    rate = Σk / Σm over every cell (subject), k and m the rate's numerator and
    denominator; videos per subject = mean m; the between-subject SD τ by the method of
    moments within each group g, pooled with weights n_g - 1:
    τ_g² = max(0, (var_s(k_s/m_s) - p_g (1 - p_g) h) / (1 - h)), h = mean_s(1/m_s),
    over subjects with m_s > 0 (var(k/m) = τ² (1 - 1/m) + p (1 - p) / m for a
    subject rate of mean p and variance τ²; not identifiable when every m_s is 1).
    """
    counts = metrics.ovr_from_confusion(cells)
    numerators = metrics.numerators(counts=counts)
    denominators = metrics.denominators(counts=counts)
    numerators["overall"] = np.trace(cells, axis1=-2, axis2=-1)[:, None]
    denominators["overall"] = cells.sum(axis=(-2, -1))[:, None]
    out = {}
    for metric, k in numerators.items():
        k, m = k.astype(float), denominators[metric].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = k.sum(axis=0) / m.sum(axis=0)
        spread = _between_subject_sd(k, m, cell_group, n_groups)
        values = (rate, m.mean(axis=0), spread)
        out[metric] = tuple(v[0] for v in values) if metric == "overall" else values
    return out


def _between_subject_sd(k: np.ndarray, m: np.ndarray, cell_group: np.ndarray, n_groups: int):
    weighted, weights = np.zeros(k.shape[1]), np.zeros(k.shape[1])
    for g in range(n_groups):
        kg, mg = k[cell_group == g], m[cell_group == g]
        seen = mg > 0
        n = seen.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            own = np.where(seen, kg / np.where(seen, mg, 1), np.nan)
            pooled = kg.sum(axis=0) / mg.sum(axis=0)
            mean_own = np.nansum(own, axis=0) / n
            sample_var = np.nansum((own - mean_own) ** 2, axis=0) / (n - 1)
            inverse = np.where(seen, 1 / np.where(seen, mg, 1), 0).sum(axis=0) / n
            tau2 = np.maximum(0.0, (sample_var - pooled * (1 - pooled) * inverse) / (1 - inverse))
        usable = (n >= 2) & np.isfinite(tau2)
        weighted += np.where(usable, tau2 * (n - 1), 0.0)
        weights += np.where(usable, n - 1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(weighted / weights)


#: the rates the planner can plan for, with what their denominator counts
PLANNED_METRICS = {
    "tpr": "positives (videos of the class)",
    "fpr": "negatives (videos of other classes)",
    "accuracy": "videos",
    "selection_rate": "videos",
}
_CURVE_SIZES = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200)


class PlanError(ValueError):
    """A plan that cannot be made from what was given; the message says why."""


def design_from_audit(
    variation: pd.DataFrame, *, run_id: str | None = None, metric: str = "tpr", cls: str
) -> Design:
    """The `Design` of one rate of a saved audit's test set, from its `variation`
    table: the pooled rate, videos per subject and between-subject SD. PlanError when
    the audit has no such row (counts-only audits and older audits have none)."""
    if variation is None or variation.empty:
        raise PlanError(
            "this audit holds no per-subject variation (a counts-only audit, such as the "
            "published tables, or one saved by an older version): type the numbers in, "
            "or run the audit again from predictions"
        )
    runs = list(dict.fromkeys(variation["run_id"]))
    run_id = run_id or runs[0]
    if run_id not in runs:
        raise PlanError(f"no run {run_id!r} in this audit; runs: {', '.join(runs[:10])}")
    rows = variation[
        (variation["run_id"] == run_id)
        & (variation["metric"] == metric)
        & (variation["class"] == cls)
    ]
    if rows.empty:
        classes = sorted(set(variation[variation["metric"] == metric]["class"]))
        raise PlanError(
            f"no {metric} of class {cls!r} in this audit; classes: {', '.join(classes)}"
        )
    row = rows.iloc[0]
    rate, videos, spread = float(row["rate"]), float(row["videos_per_subject"]), row["between_sd"]
    if not 0 < rate < 1:
        raise PlanError(
            f"the {metric} of {cls} in {run_id} is {rate:.2f}: a rate of 0 or 1 leaves "
            "nothing to simulate; type a rate in"
        )
    return Design(
        rate=rate,
        videos_per_subject=max(videos, 1.0),
        between_sd=float(min(spread, 0.49)) if np.isfinite(spread) else 0.0,
    )


def plan(
    design: Design,
    *,
    gap: float,
    power: float = POWER,
    alpha: float = ALPHA,
    max_subjects: int = 200,
    n_sim: int = 1000,
    seed: int = 0,
) -> dict:
    """Subjects per group needed to detect `gap` with `power` (None if more than
    `max_subjects`), and the power curve around it (DataFrame subjects, power)."""
    if not 0 < gap <= 1:
        raise PlanError(f"the gap must be in (0, 1]; got {gap}")
    needed = subjects_needed(
        design,
        gap=gap,
        power=power,
        alpha=alpha,
        max_subjects=max_subjects,
        n_sim=n_sim,
        seed=seed,
    )
    top = max_subjects if needed is None else min(max_subjects, max(10, 2 * needed))
    sizes = sorted({n for n in _CURVE_SIZES if n <= top} | ({needed} if needed else set()))
    curve = power_curve(design, gap=gap, sizes=sizes, alpha=alpha, n_sim=n_sim, seed=seed)
    return {"subjects": needed, "curve": curve}
