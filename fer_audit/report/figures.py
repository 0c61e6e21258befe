"""Plotly figures of one model's audit (one run): its confusion matrices and rates per
group and the gaps between groups; the dashboard's Per model tab and the HTML report
draw them.

Every builder takes an `AuditResult` and keyword arguments and returns a
`plotly.graph_objects.Figure`. Rates show their denominators on hover, in the words of
`glossary.rate_n_words` (positives, negatives, videos); gaps their intervals, their
plain names (`glossary.plain_name`) beside the code names, and their minimum
detectable gap where the audit has one; figures of synthetic results say SYNTHETIC in
their title. Labels from data go through `figure_common.plain`. Figures that compare
runs are in `comparison_figures`; those not made from an audit in `live_figures`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fer_audit.fairness.gaps import DEFINITIONS
from fer_audit.fairness.result import POOLED, AuditResult
from fer_audit.report import glossary
from fer_audit.report.figure_common import (
    _classes,
    _colour,
    _plain_all,
    _title,
    confusion_shares,
    plain,
)

METRIC_NAMES = {
    "accuracy": "Accuracy (one-vs-rest)",
    "tpr": "True positive rate",
    "fpr": "False positive rate",
    "selection_rate": "Selection rate",
}


def confusion_matrices(result: AuditResult, *, run_id: str) -> go.Figure:
    """One confusion matrix per group, side by side (rows: true class; cells: count and
    share of the row)."""
    confusion = result.confusion[result.confusion["run_id"] == run_id]
    if confusion.empty:
        raise ValueError(f"no confusion matrix for run {run_id!r} (count-only sources have none)")
    classes = _classes(result)
    groups = [g for g in [*result.settings["groups"], POOLED] if g in set(confusion["group"])]
    fig = make_subplots(
        rows=1, cols=len(groups), subplot_titles=_plain_all(groups), horizontal_spacing=0.06
    )
    for i, group in enumerate(groups, start=1):
        matrix, share = confusion_shares(confusion[confusion["group"] == group], classes)
        text = [
            [f"{c}<br>{s:.0%}" if np.isfinite(s) else f"{c}" for c, s in zip(r1, r2, strict=True)]
            for r1, r2 in zip(matrix.to_numpy(), share.to_numpy(), strict=True)
        ]
        fig.add_trace(
            go.Heatmap(
                z=share.to_numpy(),
                x=_plain_all(classes),
                y=_plain_all(classes),
                text=text,
                texttemplate="%{text}",
                colorscale="Blues",
                zmin=0,
                zmax=1,
                showscale=i == len(groups),
                hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=1, col=i, title_text="true" if i == 1 else None)
        fig.update_xaxes(title_text="predicted", row=1, col=i)
    fig.update_layout(
        title=_title(result, f"Confusion matrices per group · {plain(run_id)}"),
        height=380 + 10 * len(classes),
    )
    return fig


def metric_bars(result: AuditResult, *, run_id: str, metric: str = "tpr") -> go.Figure:
    """Per-class `metric` for each group, with its 95% interval and its n on hover."""
    gm = result.group_metrics
    rows = gm[(gm["run_id"] == run_id) & (gm["metric"] == metric) & (gm["class"] != "overall")]
    classes = _classes(result)
    n_words = glossary.rate_n_words(metric)
    fig = go.Figure()
    for i, group in enumerate(g for g in result.settings["groups"] if g in set(rows["group"])):
        data = rows[rows["group"] == group].set_index("class").reindex(classes)
        fig.add_trace(
            go.Bar(
                name=plain(group),
                x=_plain_all(classes),
                y=data["value"],
                marker_color=_colour(i),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": data["ci_high"] - data["value"],
                    "arrayminus": data["value"] - data["ci_low"],
                },
                customdata=np.stack(
                    [
                        data["n"],
                        data["ci_low"],
                        data["ci_high"],
                        data["small_n"].map({True: " (small n)", False: ""}),
                    ],
                    -1,
                ),
                text=[f"n={n:.0f}" for n in data["n"]],
                textposition="inside",
                hovertemplate=f"{plain(group)}, %{{x}}: %{{y:.3f}} [%{{customdata[1]:.3f}}, "
                f"%{{customdata[2]:.3f}}] n = %{{customdata[0]}} {n_words}%{{customdata[3]}}"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        yaxis={"range": [0, 1.05], "title": METRIC_NAMES.get(metric, metric)},
        title=_title(
            result,
            f"{plain(METRIC_NAMES.get(metric, metric))} per emotion and group · {plain(run_id)}"
            f" (n = {n_words})",
        ),
        legend_title_text="group",
    )
    return fig


#: the rates behind each standard definition's per-class gap (their n goes on hover)
_GAP_RATES = {
    "equal_opportunity": ("tpr",),
    "equalized_odds": ("tpr", "fpr"),
    "demographic_parity": ("selection_rate",),
    "accuracy": ("accuracy",),
}
SIGNED_AXIS_TITLE = "gap ({comparison})"
ABSOLUTE_AXIS_TITLE = "size of gap (absolute, ≥ 0)"
MDG_NAME = "minimum detectable gap (80% power)"
_MDG_COLOUR = "rgba(120, 120, 120, 0.55)"


def _number(value, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if pd.notna(value) and np.isfinite(value) else "–"


def _group_counts(result: AuditResult, run_id: str) -> dict[tuple[str, str], str]:
    """Per (class, metric) of one run, its n per compared group: "female 12 | male 12"."""
    gm = result.group_metrics
    groups = result.settings.get("groups", [])
    rows = gm[(gm["run_id"] == run_id) & gm["group"].isin(groups)]
    return {
        key: " | ".join(f"{g} {n}" for g, n in zip(part["group"], part["n"], strict=True))
        for key, part in rows.groupby(["class", "metric"], sort=False)
    }


def _gap_n_lines(counts: dict[tuple[str, str], str], gap: pd.Series) -> list[str]:
    """The n behind a gap in words (glossary.rate_n_words), per group: the positives
    (and negatives) of a per-class recall gap, the videos otherwise. `counts`: the
    run's `_group_counts`."""
    lines = []
    if gap["class"] not in ("all", "overall", *glossary.ABSOLUTE_CLASSES):
        for metric in _GAP_RATES.get(gap["definition"], ()):
            if (gap["class"], metric) in counts:
                said = plain(counts[gap["class"], metric])
                lines.append(f"n {glossary.rate_n_words(metric)}: {said}")
    if not lines and pd.notna(gap.get("n")):
        lines.append(f"n {glossary.rate_n_words('accuracy')}: {plain(gap['n'])}")
    return lines


def _gap_hover(
    counts: dict[tuple[str, str], str], gap: pd.Series, label: str, comparison: str
) -> str:
    """Hover text of one gap: value, 95% interval, raw and adjusted p, its n in the
    glossary's words, the minimum detectable gap when the audit has one, and what the
    definition means (escaped: group names enter through the comparison)."""
    lines = [
        label,
        f"gap {_number(gap['value'])}, 95% interval "
        f"[{_number(gap['ci_low'])}, {_number(gap['ci_high'])}]",
        f"p = {_number(gap['p_value'])}, adjusted p = {_number(gap['p_adjusted'])}",
        *_gap_n_lines(counts, gap),
    ]
    if "mdg" in gap.index:
        mdg = gap["mdg"]
        lines.append(
            f"could detect gaps ≥ {_number(mdg, 2)} (80% power)"
            if pd.notna(mdg) and np.isfinite(mdg)
            else "no gap up to 1.00 detectable with 80% power here (or the gap is undefined)"
        )
    runs = gap.get("seed_runs")
    if pd.notna(runs) and runs >= 2 and pd.notna(gap.get("seed_min")):
        sign = "same sign" if str(gap.get("seed_same_sign")) == "True" else "sign changes"
        lines.append(
            f"over {int(runs)} seeds: {_number(gap['seed_min'])} to "
            f"{_number(gap['seed_max'])} (SD {_number(gap['seed_sd'])}), {sign}"
        )
    if gap.get("few_subjects") is True or str(gap.get("few_subjects")) == "True":
        lines.append(f"few subjects: {plain(gap.get('subjects', ''))}")
    text = glossary.meaning(gap["definition"], comparison)
    if gap["class"] in glossary.ABSOLUTE_CLASSES:
        text += f"; {gap['class']}: " + glossary.meaning(gap["class"], comparison)
    lines += textwrap.wrap(plain(text), 80)
    return "<br>".join(lines)


def gap_forest(
    result: AuditResult, *, run_id: str, definitions: Sequence[str] = DEFINITIONS
) -> go.Figure:
    """Each gap with its 95% interval: signed gaps on a "gap (female − male)" axis with
    a zero line, absolute ones (eqod_paper, dp_paper, equalized_odds, and the classes
    `worst` and `mean`: they cannot be negative) on an axis of their own below it.
    Rows read "plain name · code name · class"; filled markers where the adjusted
    p-value is below 0.05; hover gives the interval, both p-values, the n and (when the
    gaps table has an `mdg` column) the minimum detectable gap, also drawn as faint
    grey ticks at ±mdg (at +mdg on the absolute axis)."""
    gaps = result.gaps[
        (result.gaps["run_id"] == run_id) & result.gaps["definition"].isin(definitions)
    ]
    raw_comparison = str(result.settings.get("comparison", ""))
    comparison = plain(raw_comparison)
    counts = _group_counts(result, run_id)
    absolute = np.array(
        [
            glossary.is_absolute(d, c, raw_comparison)
            for d, c in zip(gaps["definition"], gaps["class"], strict=True)
        ],
        dtype=bool,
    )
    panels = [
        (kind, rows)
        for kind, rows in (("signed", gaps[~absolute]), ("absolute", gaps[absolute]))
        if len(rows)
    ] or [("signed", gaps)]
    height = max(320, 22 * len(gaps) + 130 + 90 * (len(panels) - 1))
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        row_heights=[len(rows) + 2 for _, rows in panels],
        vertical_spacing=min(0.4, 90 / height) if len(panels) > 1 else 0.0,
    )
    mdg_in_legend = False
    for row, (kind, rows) in enumerate(panels, start=1):
        labels = [
            plain(f"{glossary.plain_name(d)} · {d} · {c}")
            for d, c in zip(rows["definition"], rows["class"], strict=True)
        ]
        significant = rows["p_adjusted"] < 0.05
        fig.add_trace(
            go.Scatter(
                x=rows["value"],
                y=labels,
                mode="markers",
                cliponaxis=False,  # a gap of exactly 0 on the absolute axis stays whole
                name="gap and 95% interval (filled: adjusted p < 0.05)",
                legendgroup="gap",
                showlegend=row == 1,
                marker={
                    "size": 9,
                    "color": np.where(significant, "#b71c1c", "white"),
                    "line": {"color": "#b71c1c", "width": 1.5},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["ci_high"] - rows["value"],
                    "arrayminus": rows["value"] - rows["ci_low"],
                    "color": "#555",
                },
                hovertext=[
                    _gap_hover(counts, gap, label, raw_comparison)
                    for (_, gap), label in zip(rows.iterrows(), labels, strict=True)
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        if "mdg" in rows.columns:
            mdg = pd.to_numeric(rows["mdg"], errors="coerce").to_numpy(float)
            shown = np.isfinite(mdg)
            if shown.any():
                sides = (1, -1) if kind == "signed" else (1,)
                x = np.concatenate([side * mdg[shown] for side in sides])
                y = [label for _ in sides for label, ok in zip(labels, shown, strict=True) if ok]
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="markers",
                        name=MDG_NAME,
                        legendgroup="mdg",
                        showlegend=not mdg_in_legend,
                        marker={
                            "symbol": "line-ns-open",
                            "size": 14,
                            "color": _MDG_COLOUR,
                            "line": {"color": _MDG_COLOUR, "width": 2},
                        },
                        customdata=np.abs(x),
                        hovertemplate="%{y}<br>could detect gaps ≥ %{customdata:.2f} "
                        "(80% power)<extra></extra>",
                    ),
                    row=row,
                    col=1,
                )
                mdg_in_legend = True
        fig.update_yaxes(
            categoryorder="array",
            categoryarray=labels,
            autorange="reversed",
            automargin=True,
            row=row,
            col=1,
        )
        if kind == "signed":
            fig.add_vline(x=0, line_dash="dash", line_color="#888", row=row, col=1)
            fig.update_xaxes(
                title_text=SIGNED_AXIS_TITLE.format(comparison=comparison), row=row, col=1
            )
        else:
            fig.update_xaxes(title_text=ABSOLUTE_AXIS_TITLE, rangemode="tozero", row=row, col=1)
    fig.update_layout(
        title=_title(result, f"Fairness gaps ({comparison}) with 95% intervals · {plain(run_id)}"),
        height=height,
        margin={"l": 20, "t": 100},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
    )
    return fig
