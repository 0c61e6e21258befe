"""What the demo audit must show: the planted gap per run, with its interval and
adjusted p-value, and the gaps of the classes no bias was planted in (Home reads them)."""

from __future__ import annotations

import pandas as pd

from fer_audit.data.synthetic import DEFAULT_BIAS
from fer_audit.labels import get_scheme

#: the class the planted emotion falls in under the label scheme the demo trains with
PLANTED_CLASS = get_scheme("paper4").class_of(DEFAULT_BIAS.emotion)


def planted_gap_table(result) -> pd.DataFrame:
    """Per run: the planted gap, sadness TPR female - male (equal opportunity), with
    its interval and adjusted p-value."""
    gaps = result.gaps
    rows = gaps[(gaps["definition"] == "equal_opportunity") & (gaps["class"] == PLANTED_CLASS)]
    columns = ["run_id", "train_set", "seed", "value", "ci_low", "ci_high", "p_adjusted", "n"]
    return rows[columns].sort_values(["train_set", "seed"]).reset_index(drop=True)


def unplanted_gaps(result) -> pd.DataFrame:
    """The per-class TPR gaps (equal opportunity) of the classes no bias was planted in."""
    gaps = result.gaps
    classes = [c for c in result.settings.get("classes", []) if c != PLANTED_CLASS]
    return gaps[(gaps["definition"] == "equal_opportunity") & gaps["class"].isin(classes)]


def includes_zero(gaps: pd.DataFrame) -> pd.Series:
    return (gaps["ci_low"] <= 0) & (gaps["ci_high"] >= 0)
