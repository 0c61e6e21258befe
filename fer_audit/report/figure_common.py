"""What every figure builder shares: the group colours, `plain` for labels from data,
and an audit result's title and classes.

Plotly reads tags in every text it draws (titles, tick labels, legend names, hover
text, annotations), `<a href>` among them: every label that comes from data (group,
class, architecture, run id, training set, comparison, label and prediction of a
clip) goes through `plain` before it enters a figure, so it shows as the text it is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from fer_audit.fairness.result import AuditResult

GROUP_COLOURS = ["#c2185b", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f"]


def plain(text) -> str:
    """A label from data as plain text for a Plotly figure: `&`, `<` and `>` escaped,
    so a group named `<a href="...">x</a>` shows those characters instead of a link
    (Plotly turns the entities back into the characters when it draws)."""
    return html.escape(str(text), quote=False)


def _plain_all(values: Iterable) -> list[str]:
    return [plain(v) for v in values]


def _title(result: AuditResult, text: str) -> str:
    return f"SYNTHETIC DATA · {text}" if result.synthetic else text


def _classes(result: AuditResult) -> list[str]:
    return list(result.settings.get("classes") or result.group_metrics["class"].unique())


def _colour(index: int) -> str:
    return GROUP_COLOURS[index % len(GROUP_COLOURS)]
