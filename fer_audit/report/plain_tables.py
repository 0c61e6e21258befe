"""The audit's tables as the dashboard shows them: the columns a reader needs, in the
order they read them, under plain headers; gap definitions and class aggregates by their
plain names (`glossary`). The saved CSVs keep the code names: scripts read those.
"""

from __future__ import annotations

import pandas as pd

from fer_audit.fairness.metrics import RATES
from fer_audit.report.glossary import plain_name

#: the gaps table: code name -> header
GAP_COLUMNS = {
    "arch": "architecture",
    "train_set": "training set",
    "seed": "seed",
    "definition": "gap",
    "class": "emotion",
    "comparison": "groups (first - second)",
    "value": "gap value",
    "ci_low": "95% interval, low",
    "ci_high": "95% interval, high",
    "p_adjusted": "adjusted p",
    "p_value": "p before adjustment",
    "n_tests": "gaps adjusted together",
    "n": "videos (n)",
    "n_videos": "videos of the model",
    "subjects": "subjects",
    "mdg": "minimum detectable gap",
    "few_subjects": "few subjects",
    "no_positives": "classes without videos",
    "boot_dropped": "bootstrap draws left out",
    "degenerate": "warning",
    "seed_runs": "seeds",
    "seed_min": "lowest over seeds",
    "seed_max": "highest over seeds",
    "seed_sd": "SD over seeds",
    "seed_same_sign": "same sign over seeds",
    "interval_method": "interval method",
    "p_method": "p-value method",
    "synthetic": "synthetic data",
    "run_id": "run",
}
#: the per-group rates: code name -> header
RATE_COLUMNS = {
    "run_id": "run",
    "group": "group",
    "class": "emotion",
    "metric": "rate",
    "value": "estimate",
    "n": "n",
    "counts": "what n counts",
    "ci_low": "95% interval, low",
    "ci_high": "95% interval, high",
    "small_n": "few videos",
    "interval_method": "interval method",
    "synthetic": "synthetic data",
}
#: the rankings: code name -> header
RANKING_COLUMNS = {
    "train_set": "training set",
    "definition": "ranked by",
    "class": "emotion",
    "rank": "rank",
    "arch": "architecture",
    "value": "gap value",
    "synthetic": "synthetic data",
}
#: the per-group rates by their plain names
RATE_NAMES = {
    "accuracy": "accuracy",
    "tpr": "true positive rate (recall)",
    "fpr": "false positive rate",
    "selection_rate": "selection rate",
}


def plain_gaps(gaps: pd.DataFrame) -> pd.DataFrame:
    """The gaps table under plain headers, definitions and aggregates by plain name."""
    table = gaps.assign(
        definition=gaps["definition"].map(plain_name), **{"class": gaps["class"].map(plain_name)}
    )
    return _headed(table, GAP_COLUMNS)


def plain_rates(group_metrics: pd.DataFrame) -> pd.DataFrame:
    """The per-group rates under plain headers, each n with what it counts (positives,
    negatives or videos)."""
    metric = group_metrics["metric"]
    table = group_metrics.assign(
        counts=metric.map(lambda m: RATES[m].n_name if m in RATES else ""),
        metric=metric.map(lambda m: RATE_NAMES.get(m, m)),
        **{"class": group_metrics["class"].map(plain_name)},
    )
    return _headed(table, RATE_COLUMNS)


def plain_rankings(rankings: pd.DataFrame) -> pd.DataFrame:
    """The rankings under plain headers."""
    table = rankings.assign(
        definition=rankings["definition"].map(plain_name),
        **{"class": rankings["class"].map(plain_name)},
    )
    return _headed(table, RANKING_COLUMNS)


def _headed(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """`table`'s columns named in `columns` (those it has), in that order, renamed."""
    present = [code for code in columns if code in table.columns]
    return table[present].rename(columns=columns).reset_index(drop=True)
