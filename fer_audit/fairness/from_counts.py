"""The audit from one-vs-rest counts only (e.g. the published tables), when no
predictions exist: rates with Wilson intervals; for two groups, per-class differences
of TPR, selection rate and accuracy with Newcombe intervals and Fisher exact p-values;
every other gap with a parametric binomial bootstrap (classes independent) and a
p-value from the same bootstrap under pooled rates, whose null draws also give the
minimum detectable gaps (videos independent: optimistic when subjects differ).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fer_audit.fairness import intervals, metrics
from fer_audit.fairness.assemble import (
    _all_rates,
    _assemble,
    _check_family,
    _class_label,
    _denominator,
    _flag_run,
    _gap_frame,
    _gap_matrix_counts,
    _metric_frame,
    _settings,
    differences_from_counts,
)
from fer_audit.fairness.detectable import detectable_gaps
from fer_audit.fairness.gaps import gaps_from_differences
from fer_audit.fairness.resample import binomial_counts
from fer_audit.fairness.result import POOLED, AuditError, AuditResult


def audit_counts(
    counts: pd.DataFrame,
    *,
    groups: Sequence[str] | None = None,
    classes: Sequence[str],
    n_boot: int = 2000,
    seed: int = 0,
    correction: str = "holm",
    family: str = "run",
    source: dict | None = None,
) -> AuditResult:
    """Audit one-vs-rest counts when no predictions exist (e.g. published tables).

    `counts` has run_id, arch, train_set, seed, group, class, tp, fp, fn, tn; rows of
    group `all` (if any) are the pooled set and are reported, not compared. Rates get
    Wilson intervals. For two groups, per-class differences of TPR, selection rate and
    accuracy get Newcombe intervals and Fisher exact p-values; the other gaps (paper
    definitions, equalized odds, aggregates, and everything for more groups) get a
    parametric binomial bootstrap (classes treated as independent) and a p-value from
    the same bootstrap under pooled rates; minimum detectable gaps use those null
    draws (videos treated as independent: optimistic when subjects differ).
    """
    _check_family(family)
    classes = list(classes)
    present = sorted(set(counts["group"]) - {POOLED})
    group_names = list(groups) if groups else present
    if len(group_names) < 2:
        raise AuditError("a fairness audit compares at least two groups")
    parts = {"confusion": [], "group_metrics": [], "gaps": []}
    runs = []
    for run_id, run in counts.groupby("run_id", sort=True):
        observed = _counts_array(run, group_names, classes)
        pooled = _counts_array(run, [POOLED], classes) if POOLED in set(run["group"]) else None
        parts["group_metrics"].append(
            _metric_rows_wilson(run_id, observed, pooled, group_names, classes)
        )
        gap_rows = _gap_rows_counts(
            run_id, observed, group_names, classes, n_boot, seed, correction
        )
        _flag_run(gap_rows, observed, group_names, classes)
        parts["gaps"].append(gap_rows)
        first = run.iloc[0]
        runs.append(
            {
                "run_id": run_id,
                "arch": first["arch"],
                "train_set": first["train_set"],
                "seed": first.get("seed"),
                "n_videos": int(observed[:, 0].sum()),
            }
        )
    settings = _settings(
        "counts", "gender", group_names, "paper4", n_boot, n_boot, seed, correction, source
    )
    settings["family"] = family
    settings["classes"] = classes
    return _assemble(parts, runs, settings)


def _counts_array(run: pd.DataFrame, group_names: list[str], classes: list[str]) -> np.ndarray:
    table = run.set_index(["group", "class"])[["tp", "fp", "fn", "tn"]]
    index = pd.MultiIndex.from_product([group_names, classes])
    missing = index.difference(table.index)
    if len(missing):
        raise AuditError(f"counts missing for {', '.join(map(str, missing[:5]))}")
    return table.loc[index].to_numpy(float).reshape(len(group_names), len(classes), 4)


def _metric_rows_wilson(run_id, observed, pooled, group_names, classes) -> pd.DataFrame:
    stacked = observed if pooled is None else np.concatenate([observed, pooled])
    names = group_names if pooled is None else [*group_names, POOLED]
    values = _all_rates(stacked)
    successes = metrics.numerators(counts=stacked)
    rows = []
    for (metric, cls), value in values.items():
        n = _denominator(stacked, metric, cls, classes)
        k = stacked[..., 0].sum(axis=-1) if cls == "overall" else successes[metric][..., cls]
        low, high = intervals.wilson(k, n)
        label = _class_label(cls, classes)
        for gi, name in enumerate(names):
            rows.append((run_id, name, label, metric, value[gi], n[gi], low[gi], high[gi]))
    return _metric_frame(rows, "Wilson score")


#: gaps with a closed-form two-sample interval: (definition, metric) for per-class rows
_NEWCOMBE = {
    "equal_opportunity": "tpr",
    "demographic_parity": "selection_rate",
    "accuracy": "accuracy",
}


def _gap_rows_counts(run_id, observed, group_names, classes, n_boot, seed, correction):
    positives, negatives = observed[..., 0] + observed[..., 2], observed[..., 1] + observed[..., 3]
    rates = metrics.rates(counts=observed)
    value = _gap_matrix_counts(observed)
    boot = binomial_counts(
        positives, negatives, rates["tpr"], rates["fpr"], n_boot=n_boot, seed=seed, salt=str(run_id)
    )
    low, high = intervals.percentile_interval(_gap_matrix_counts(boot))
    pooled_tpr = observed[..., 0].sum(0) / np.maximum(positives.sum(0), 1)
    pooled_fpr = observed[..., 1].sum(0) / np.maximum(negatives.sum(0), 1)
    null = binomial_counts(
        positives,
        negatives,
        np.broadcast_to(pooled_tpr, positives.shape),
        np.broadcast_to(pooled_fpr, negatives.shape),
        n_boot=n_boot,
        seed=seed,
        salt=f"{run_id}/null",
    )
    null_differences = differences_from_counts(null)
    p = intervals.resampling_p_value(value, gaps_from_differences(null_differences))
    frame = _gap_frame(
        run_id,
        classes,
        group_names,
        observed[:, 0].sum(-1).astype(int),
        value,
        low,
        high,
        p,
        "none",
        interval_method="parametric binomial bootstrap",
        p_method="parametric bootstrap under pooled rates",
    )
    if len(group_names) == 2:
        _apply_two_sample_tests(frame, observed, classes)
    frame["p_adjusted"] = intervals.adjust(frame["p_value"].to_numpy(), method=correction)
    frame["boot_dropped"] = 0.0
    frame["mdg"] = detectable_gaps(null_differences, classes, observed=observed, seed=seed)
    return frame


def _apply_two_sample_tests(frame: pd.DataFrame, observed: np.ndarray, classes) -> None:
    """Newcombe intervals and Fisher exact p-values for per-class rate differences."""
    successes = metrics.numerators(counts=observed)
    totals = metrics.denominators(counts=observed)
    for definition, metric in _NEWCOMBE.items():
        for ci, cls in enumerate(classes):
            k, n = successes[metric][:, ci], totals[metric][:, ci]
            _set_two_sample(frame, definition, cls, k, n)
    correct, n_all = observed[..., 0].sum(-1), observed[:, 0].sum(-1)
    _set_two_sample(frame, "accuracy", "overall", correct, n_all)


def _set_two_sample(frame, definition, cls, k, n) -> None:
    row = (frame["definition"] == definition) & (frame["class"] == cls)
    low, high = intervals.newcombe(k[0], n[0], k[1], n[1])
    frame.loc[row, ["ci_low", "ci_high"]] = [float(low), float(high)]
    frame.loc[row, "p_value"] = intervals.fisher_exact_p(k[0], n[0], k[1], n[1])
    frame.loc[row, "interval_method"] = "Newcombe hybrid score"
    frame.loc[row, "p_method"] = "Fisher exact"
