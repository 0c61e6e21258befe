"""Plotly figures that compare an audit's runs: a gap by architecture and training set,
and the paper's accuracy figures per emotion over architectures (each takes an
`AuditResult`; the dashboard's Training sets and Aggregated tabs and the HTML report
draw them)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from fer_audit.fairness.result import POOLED, AuditResult
from fer_audit.labels import train_set_order
from fer_audit.report.figure_common import _classes, _colour, _plain_all, _title, plain


def train_set_comparison(
    result: AuditResult, *, definition: str = "eqop_paper", cls: str = "all"
) -> go.Figure:
    """Regular vs Male vs Female training per architecture: the gap's mean over seeds,
    with its interval (one run) or min-max over seeds (several)."""
    gaps = result.gaps[(result.gaps["definition"] == definition) & (result.gaps["class"] == cls)]
    summary = (
        gaps.groupby(["arch", "train_set"])
        .agg(
            value=("value", "mean"),
            low=("ci_low", "mean"),
            high=("ci_high", "mean"),
            vmin=("value", "min"),
            vmax=("value", "max"),
            runs=("value", "size"),
        )
        .reset_index()
    )
    several = summary["runs"] > 1
    summary.loc[several, "low"] = summary.loc[several, "vmin"]
    summary.loc[several, "high"] = summary.loc[several, "vmax"]
    fig = go.Figure()
    order = train_set_order(summary["train_set"])
    for i, train_set in enumerate(order):
        data = summary[summary["train_set"] == train_set]
        fig.add_trace(
            go.Bar(
                name=plain(train_set),
                x=_plain_all(data["arch"]),
                y=data["value"],
                marker_color=_colour(i + 2),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": data["high"] - data["value"],
                    "arrayminus": data["value"] - data["low"],
                },
                customdata=data["runs"],
                hovertemplate=f"{plain(train_set)}, %{{x}}: %{{y:.3f}} (%{{customdata}} run(s))"
                "<extra></extra>",
            )
        )
    fig.add_hline(y=0, line_color="#888")
    fig.update_layout(
        barmode="group",
        legend_title_text="training set",
        title=_title(
            result,
            f"{plain(definition)} · {plain(cls)} by architecture and training set "
            "(error bars: one run's 95% interval, or min-max over seeds)",
        ),
        yaxis_title=plain(definition),
    )
    return fig


def _accuracy_by_set(result: AuditResult, train_set: str) -> pd.DataFrame:
    gm = result.group_metrics.merge(
        pd.DataFrame(result.settings.get("runs", []))[["run_id", "arch", "train_set"]],
        on="run_id",
        how="left",
    )
    chosen = gm[
        (gm["metric"] == "accuracy") & (gm["train_set"] == train_set) & (gm["class"] != "overall")
    ]
    return chosen


def accuracy_boxplots(result: AuditResult, *, train_set: str = "regular") -> go.Figure:
    """The paper's Figures 21, 23, 25: per emotion, the accuracy of every architecture
    trained on `train_set`, one box per test set (each group, and all together)."""
    data = _accuracy_by_set(result, train_set)
    classes = _classes(result)
    fig = go.Figure()
    sets = [g for g in [*result.settings["groups"], POOLED] if g in set(data["group"])]
    for i, group in enumerate(sets):
        chosen = data[data["group"] == group]
        fig.add_trace(
            go.Box(
                x=_plain_all(chosen["class"]),
                y=chosen["value"],
                name=f"{plain(group)} set" if group != POOLED else "test set",
                marker_color=_colour(i),
                boxpoints="all",
                customdata=_plain_all(chosen["arch"]),
                hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        boxmode="group",
        xaxis={"categoryorder": "array", "categoryarray": _plain_all(classes)},
        title=_title(
            result,
            f"Accuracy of the {plain(train_set)} models per emotion and "
            "test set (one point per architecture)",
        ),
        yaxis_title="accuracy (one-vs-rest)",
    )
    return fig


def emotion_gender_comparison(result: AuditResult, *, train_set: str = "regular") -> go.Figure:
    """The paper's Figures 26-28: per emotion, mean accuracy over architectures on each
    group's test set, with the architectures as points."""
    data = _accuracy_by_set(result, train_set)
    classes = _classes(result)
    fig = go.Figure()
    for i, group in enumerate(g for g in result.settings["groups"] if g in set(data["group"])):
        chosen = data[data["group"] == group]
        means = chosen.groupby("class")["value"].mean().reindex(classes)
        counts = chosen.groupby("class")["value"].size().reindex(classes)
        fig.add_trace(
            go.Bar(
                name=plain(group),
                x=_plain_all(classes),
                y=means,
                marker_color=_colour(i),
                customdata=counts,
                hovertemplate=f"{plain(group)}, %{{x}}: mean %{{y:.3f}} over "
                "%{customdata} model(s)<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        yaxis={"range": [0, 1.05], "title": "mean accuracy"},
        legend_title_text="test set",
        title=_title(result, f"Per-emotion accuracy by group · {plain(train_set)} models"),
    )
    return fig
