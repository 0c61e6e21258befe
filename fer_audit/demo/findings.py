"""What the demo audit must show: the planted gap per run, with its interval and
adjusted p-value, and the gaps of the classes no bias was planted in (Home reads them)."""

from __future__ import annotations

import pandas as pd

from fer_audit.data.synthetic import DEFAULT_BIAS
from fer_audit.labels import get_scheme

#: the class the planted emotion falls in under the label scheme the demo trains with
PLANTED_CLASS = get_scheme("paper4").class_of(DEFAULT_BIAS.emotion)


#: the planted-gap table's columns as a reader is shown them
PLANTED_COLUMNS = {
    "run_id": "run",
    "train_set": "training set",
    "seed": "seed",
    "value": "sadness TPR gap (female - male)",
    "ci_low": "95% interval, low",
    "ci_high": "95% interval, high",
    "p_adjusted": "adjusted p",
    "n": "videos (n)",
}


def planted_gap_table(result) -> pd.DataFrame:
    """Per run: the planted gap, sadness TPR female - male (equal opportunity), with
    its interval and adjusted p-value."""
    gaps = result.gaps
    rows = gaps[(gaps["definition"] == "equal_opportunity") & (gaps["class"] == PLANTED_CLASS)]
    return rows[list(PLANTED_COLUMNS)].sort_values(["train_set", "seed"]).reset_index(drop=True)


def unplanted_gaps(result) -> pd.DataFrame:
    """The per-class TPR gaps (equal opportunity) of the classes no bias was planted in."""
    gaps = result.gaps
    classes = [c for c in result.settings.get("classes", []) if c != PLANTED_CLASS]
    return gaps[(gaps["definition"] == "equal_opportunity") & gaps["class"].isin(classes)]


def includes_zero(gaps: pd.DataFrame) -> pd.Series:
    return (gaps["ci_low"] <= 0) & (gaps["ci_high"] >= 0)
