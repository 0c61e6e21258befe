"""The sample-size planner: how many subjects a study needs to detect a gap, the power
curve over study sizes, and the design of a test set estimated from an audit.

A test set of n subjects per group is simulated from a `Design` (the rate
with no gap, its denominator per subject, the between-subject SD of subjects' own
rates): each subject's rate is drawn from a beta distribution around its group's rate
(the two groups δ apart), its videos from a binomial, and the gap is tested exactly
as the audit tests it (difference of pooled rates, permutation of group labels across
subjects, two-sided p = (1 + #{|null| >= |observed|}) / (1 + B)). Power is the share
of simulated test sets with p < α.

`smallest_gap` (bisection on the gap) also serves the minimum detectable gaps of the
audits (`detectable`); `subject_variation` measures an audited test set's design
(rate, videos per subject, between-subject SD) for its `variation` table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_audit.fairness import metrics
from fer_audit.seeding import seeded_rng

POWER = 0.8
ALPHA = 0.05
#: the largest gap searched for (rates differ by at most 1)
MAX_GAP = 1.0
#: the most subjects per group the planner searches
MAX_SUBJECTS = 200
_BISECTIONS = 10
#: simulated test sets that share one set of random relabellings
_SIM_CHUNK = 25
_TOLERANCE = 1e-12


def smallest_gap(enough, *, steps: int = _BISECTIONS) -> float:
    """The smallest gap in (0, MAX_GAP] for which `enough(gap)` holds, by bisection
    (`enough` must hold for every larger gap); NaN if it fails at MAX_GAP."""
    if not enough(MAX_GAP):
        return float("nan")
    low, high = 0.0, MAX_GAP
    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


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
    from scipy import stats  # here: scipy.stats takes half a second to import

    variance = min(sd**2, 0.95 * mean * (1 - mean))
    concentration = mean * (1 - mean) / variance - 1
    return stats.beta.ppf(uniforms, mean * concentration, (1 - mean) * concentration)


def _videos(videos_per_subject: float, uniforms: np.ndarray) -> np.ndarray:
    below = math.floor(videos_per_subject)
    return (below + (uniforms < videos_per_subject - below)).astype(float)  # BLAS: floats


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
    under `design` (see module): the share of `n_sim` simulated test sets with p < α,
    each tested against `n_perm` random relabellings (a fresh set for every
    _SIM_CHUNK test sets, so that no one unlucky set sways the estimate).

    Common random numbers: the same seed gives the same subjects whatever the gap, and
    the first n subjects of each group are the same whatever the number of subjects,
    so power rises smoothly with both."""
    if subjects < 2:
        return 0.0
    from scipy import stats  # here: scipy.stats takes half a second to import

    rng = seeded_rng(seed, "planner")
    # subject index outermost: a larger study draws the same first subjects
    u_rate, u_videos, u_binom = np.moveaxis(rng.random((subjects, 3, n_sim, 2)), 1, 0)
    first, second = _group_rates(design.rate, gap)
    rates = np.concatenate(
        [
            _subject_rates(first, design.between_sd, u_rate[:, :, 0].T),
            _subject_rates(second, design.between_sd, u_rate[:, :, 1].T),
        ],
        axis=1,
    )
    videos = _videos(
        design.videos_per_subject,
        np.concatenate([u_videos[:, :, 0].T, u_videos[:, :, 1].T], axis=1),
    )
    hits = stats.binom.ppf(
        np.concatenate([u_binom[:, :, 0].T, u_binom[:, :, 1].T], axis=1), videos, rates
    )
    in_first = np.arange(2 * subjects) < subjects
    observed = _pooled_difference(hits, videos, in_first[None])[:, 0]
    relabel = seeded_rng(seed, "planner-permutations", subjects)
    detected = 0
    for start in range(0, n_sim, _SIM_CHUNK):
        chunk = slice(start, min(start + _SIM_CHUNK, n_sim))
        labels = relabel.permuted(np.broadcast_to(in_first, (n_perm, 2 * subjects)), axis=1)
        null = _pooled_difference(hits[chunk], videos[chunk], labels)
        extreme = (np.abs(null) >= np.abs(observed[chunk])[:, None] - _TOLERANCE).sum(axis=1)
        detected += int(np.sum((1 + extreme) / (1 + n_perm) < alpha))
    return detected / n_sim


def _pooled_difference(hits: np.ndarray, videos: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Σ hits / Σ videos of the first group minus that of the rest, per simulated test
    set (rows of `hits`, `videos`: (S, 2n)) and labelling (rows of `first`: (P, 2n));
    result (S, P)."""
    mask = np.asarray(first, float).T
    hits_first, videos_first = hits @ mask, videos @ mask
    hits_rest = hits.sum(axis=1, keepdims=True) - hits_first
    videos_rest = videos.sum(axis=1, keepdims=True) - videos_first
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
    max_subjects: int = MAX_SUBJECTS,
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

    return smallest_gap(enough)


def subject_variation(cells: np.ndarray, cell_group: np.ndarray, n_groups: int) -> dict:
    """What the planner needs from an audited test set, per rate: {metric: (rate,
    videos per subject, between-subject SD)}, each an array over classes (and for
    "overall", multiclass accuracy, a scalar).

    rate = Σk / Σm over every cell (subject), k and m the rate's numerator and
    denominator; videos per subject = mean m; the between-subject SD τ by the method of
    moments within each group g, pooled with weights n_g - 1, then cut at 0:
    τ_g² = (var_s(k_s/m_s) - p_g (1 - p_g) h) / (1 - h), h = mean_s(1/m_s),
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
    """τ by the method of moments within each group, pooled with weights n_g - 1, and
    only then cut at 0 (cutting each small group first would bias τ upwards)."""
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
            tau2 = (sample_var - pooled * (1 - pooled) * inverse) / (1 - inverse)
        usable = (n >= 2) & np.isfinite(tau2)
        weighted += np.where(usable, tau2 * (n - 1), 0.0)
        weights += np.where(usable, n - 1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.maximum(weighted / weights, 0.0))


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
    max_subjects: int = MAX_SUBJECTS,
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
