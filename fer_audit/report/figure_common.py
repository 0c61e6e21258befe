"""What every figure builder shares: the group colours, `plain` for labels from data,
an audit result's title and classes, and one group's confusion matrix with its rows'
shares.

Plotly reads tags in every text it draws (titles, tick labels, legend names, hover
text, annotations), `<a href>` among them: every label that comes from data (group,
class, architecture, run id, training set, comparison, label and prediction of a
clip) goes through `plain` before it enters a figure, so it shows as the text it is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from fer_audit.fairness.result import AuditResult

GROUP_COLOURS = ["#c2185b", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f"]


def plain(text) -> str:
    """A label from data as plain text for a Plotly figure: `&`, `<` and `>` escaped,
    so a group named `<a href="...">x</a>` shows those characters instead of a link
    (Plotly turns the entities back into the characters when it draws)."""
    return html.escape(str(text), quote=False)


def _plain_all(values: Iterable) -> list[str]:
    return [plain(v) for v in values]


def synthetic_title(text: str, *, synthetic: bool) -> str:
    """A figure's title, "SYNTHETIC DATA · " first when it shows synthetic results."""
    return f"SYNTHETIC DATA · {text}" if synthetic else text


def _title(result: AuditResult, text: str) -> str:
    return synthetic_title(text, synthetic=result.synthetic)


def _classes(result: AuditResult) -> list[str]:
    return list(result.settings.get("classes") or result.group_metrics["class"].unique())


def _colour(index: int) -> str:
    return GROUP_COLOURS[index % len(GROUP_COLOURS)]


def confusion_shares(
    rows: pd.DataFrame, classes: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One group's confusion matrix (true x predicted, in `classes` order) from its rows
    of an audit's confusion table, and each cell's share of its row: count / videos of
    the true class (NaN in a row without videos)."""
    matrix = rows.pivot(index="true", columns="pred", values="count").reindex(
        index=list(classes), columns=list(classes), fill_value=0
    )
    totals = matrix.sum(axis=1).replace(0, np.nan)
    return matrix, matrix.div(totals, axis=0)
