"""Summaries and rankings over runs: each model's (arch, train_set) gaps pooled over
training seeds (mean, SD, extremes, the mean of |gap| and whether no two seeds
disagree in sign), each gap row's spread over seeds, and the architectures ranked from
most fair (smallest mean |gap|) to least; and an audit restricted to some of its runs,
those computed again (`restrict`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import numpy as np
import pandas as pd

from fer_audit.fairness.gaps import PAPER_DEFINITIONS
from fer_audit.fairness.result import AuditResult

_SEED_KEYS = ["arch", "train_set", "definition", "class"]


def _with_seed_spread(gaps: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Each gap row with the spread of its model over training seeds: seed_runs, and
    where there are several distinct seeds, seed_min, seed_max, seed_sd and
    seed_same_sign (runs without a seed, or repeating one, are no seed spread)."""
    spread = summary[[*_SEED_KEYS, "n_runs", "min", "max", "std", "same_sign"]].rename(
        columns={
            "n_runs": "seed_runs",
            "min": "seed_min",
            "max": "seed_max",
            "std": "seed_sd",
            "same_sign": "seed_same_sign",
        }
    )
    merged = gaps.merge(spread, on=_SEED_KEYS, how="left")
    seeds = gaps.groupby(_SEED_KEYS, dropna=False)["seed"].transform("nunique")
    merged["seed_runs"] = merged["seed_runs"].where(seeds.to_numpy() >= 2, 1)
    single = merged["seed_runs"].fillna(1) < 2
    merged.loc[single, ["seed_min", "seed_max", "seed_sd"]] = np.nan
    merged["seed_same_sign"] = merged["seed_same_sign"].astype(object).where(~single, np.nan)
    return merged


def summarize(gaps: pd.DataFrame) -> pd.DataFrame:
    """Pool runs of the same (arch, train_set) over seeds: mean, spread, extremes, the
    mean of |gap| (what rankings use: +0.2 and -0.2 are not a fair model), and whether
    no two seeds' gaps have opposite signs (min >= 0 or max <= 0)."""
    keys = ["arch", "train_set", "definition", "class"]
    frame = gaps.assign(abs_value=gaps["value"].abs())
    grouped = frame.groupby(keys, sort=False, dropna=False)
    summary = grouped["value"].agg(n_runs="count", mean="mean", std="std", min="min", max="max")
    summary["mean_abs"] = grouped["abs_value"].mean()
    summary["same_sign"] = (summary["min"] >= 0) | (summary["max"] <= 0)  # never opposite
    return summary.reset_index()


def rank(summary: pd.DataFrame) -> pd.DataFrame:
    """Architectures from most fair (smallest |gap|) to least, per training set and
    definition (paper definitions, and the standard ones' `worst` and `mean`); equal
    values (to 1e-9) share a rank."""
    chosen = summary[
        summary["definition"].isin(PAPER_DEFINITIONS) | summary["class"].isin(["worst", "mean"])
    ].copy()
    chosen = chosen.dropna(subset=["mean_abs"])
    chosen["value"] = chosen["mean_abs"]
    chosen["rounded"] = chosen["value"].round(9)
    chosen["rank"] = (
        chosen.groupby(["train_set", "definition", "class"])["rounded"]
        .rank(method="min")
        .astype(int)
    )
    columns = ["train_set", "definition", "class", "rank", "arch", "value"]
    ordered = chosen.sort_values(["train_set", "definition", "class", "rank", "arch"])
    return ordered[columns].reset_index(drop=True)


_SEED_SPREAD = ["seed_runs", "seed_min", "seed_max", "seed_sd", "seed_same_sign"]


def restrict(result: AuditResult, run_ids: Collection[str]) -> AuditResult:
    """The audit of the runs in `run_ids` only: their rows of each table, and the
    summary over seeds, each gap's seed spread and the rankings computed again from
    them, so ranks start at 1 among the models kept. Intervals and (adjusted) p-values
    stay the audit's own."""
    ids = set(run_ids)

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["run_id"].isin(ids)] if "run_id" in frame else frame

    gaps = keep(result.gaps).drop(columns=_SEED_SPREAD, errors="ignore")
    summary = summarize(gaps)
    return replace(
        result,
        confusion=keep(result.confusion),
        group_metrics=keep(result.group_metrics),
        gaps=_with_seed_spread(gaps, summary).reset_index(drop=True),
        variation=keep(result.variation),
        rankings=rank(summary),
        summary=summary,
        settings={
            **result.settings,
            "runs": [r for r in result.settings.get("runs", []) if r["run_id"] in ids],
        },
    )
