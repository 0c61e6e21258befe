"""Plotly figures of what the dashboard computes as it goes, not of an audit result: a
clip's class probabilities in the live demo, a training run's curves, and the
planner's simulated power (the HTML report draws none of them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fer_audit.labels import UnknownEmotionError, normalize_emotion
from fer_audit.report.figure_common import _colour, _plain_all, plain

#: one colour per emotion, and for the paper's Upset (Tableau 10, a qualitative
#: palette): a class keeps its colour in both charts and in every model ("happy" of
#: paper4 and of the FER2013 model alike), and no two classes of a model share one
CLASS_COLOURS = {
    "sadness": "#4e79a7",
    "happiness": "#f28e2b",
    "anger": "#e15759",
    "surprise": "#76b7b2",
    "disgust": "#59a14f",
    "calm": "#edc948",
    "contempt": "#b07aa1",
    "fear": "#ff9da7",
    "upset": "#9c755f",
    "neutral": "#bab0ac",
}
#: for the classes of an imported model that name no emotion, in their order
OTHER_CLASS_COLOURS = (
    "#1f3a93", "#c0392b", "#16a085", "#8e44ad", "#d35400", "#2c3e50",
    "#7f8c00", "#e84393", "#00a8ff", "#6d4c41",
)  # fmt: skip


def class_colours(classes: Sequence[str]) -> dict[str, str]:
    """{class: colour}: its emotion's colour (CLASS_COLOURS, spellings such as happy or
    angry read as their emotion), else the next colour of OTHER_CLASS_COLOURS (none of
    them an emotion's; also for a second spelling of one emotion; repeating only past
    10 such classes)."""
    colours: dict[str, str] = {}
    others = 0
    for cls in classes:
        colour = CLASS_COLOURS.get(_emotion(cls))
        if colour is None or colour in colours.values():  # two spellings of one emotion
            colour = OTHER_CLASS_COLOURS[others % len(OTHER_CLASS_COLOURS)]
            others += 1
        colours[cls] = colour
    return colours


def _emotion(cls: str) -> str:
    try:
        return normalize_emotion(cls)
    except UnknownEmotionError:
        return str(cls).strip().lower()


def _demo_title(entry: dict, label: str) -> str:
    return f"SYNTHETIC-trained · {label}" if entry.get("synthetic") else label


def keyframe_probabilities(entry: dict, *, label: str = "") -> go.Figure:
    """A model's probability of each class at each keyframe of one clip (one entry of
    `predict_clip`'s "runs"); models without per-keyframe output show none."""
    figure = go.Figure()
    per_frame = entry.get("keyframe_probabilities")
    if per_frame is not None:
        values = np.asarray(per_frame)
        colours = class_colours(entry["classes"])
        for j, cls in enumerate(entry["classes"]):
            figure.add_trace(
                go.Scatter(
                    x=entry["times"],
                    y=values[:, j],
                    mode="lines+markers",
                    name=plain(cls),
                    line={"color": colours[cls]},
                    hovertemplate=f"{plain(cls)}: %{{y:.2f}} at %{{x:.2f}} s<extra></extra>",
                )
            )
    figure.update_layout(
        title=_demo_title(entry, plain(label) if label else "per keyframe"),
        xaxis_title="time of keyframe (s)",
        yaxis={"title": "probability", "range": [0, 1]},
        height=320,
        margin={"t": 50, "b": 40},
    )
    return figure


def video_probabilities(entry: dict, *, label: str = "") -> go.Figure:
    """A model's video-level probability of each class for one clip."""
    classes = entry["classes"]
    values = [entry["video_probabilities"][c] for c in classes]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=_plain_all(classes),
            orientation="h",
            marker_color=[class_colours(classes)[c] for c in classes],
            text=[f"{v:.2f}" for v in values],
            textposition="auto",
        )
    )
    figure.update_layout(
        title=_demo_title(
            entry, f"{plain(label) + ': ' if label else ''}{plain(entry['prediction'])}"
        ),
        xaxis={"title": "video-level probability", "range": [0, 1]},
        yaxis={"autorange": "reversed"},
        height=60 + 34 * len(classes),
        margin={"t": 50, "b": 40},
    )
    return figure


def training_curves(records: Sequence[dict], *, title: str, synthetic: bool = False) -> go.Figure:
    """Loss and accuracy per epoch, training and validation (rows of metrics.jsonl);
    `title` is plain text (a run id in it stays text)."""
    title = plain(title)
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    epochs = [r["epoch"] for r in records]
    for col, metric in enumerate(("loss", "accuracy"), start=1):
        for j, side in enumerate(("train", "val")):
            n = records[-1].get(f"n_{side}") if records else 0
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[r[f"{side}_{metric}"] for r in records],
                    mode="lines+markers",
                    name=f"{side} (n={n})" if n is not None else f"{side} (n not recorded)",
                    legendgroup=side,
                    showlegend=col == 1,
                    line={"color": _colour(j)},
                ),
                row=1,
                col=col,
            )
    figure.update_yaxes(range=[0, 1], row=1, col=2)
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(
        title=f"SYNTHETIC DATA · {title}" if synthetic else title,
        height=300,
        margin={"t": 60, "b": 40},
    )
    return figure


def power_curve(
    curve: pd.DataFrame,
    *,
    gap: float,
    power: float,
    title: str,
    current: int | None = None,
    synthetic: bool = False,
) -> go.Figure:
    """Simulated power against subjects per gender (`curve`: subjects, power), with the
    target power and, if given, the test set's own number of subjects."""
    figure = go.Figure(
        go.Scatter(
            x=curve["subjects"],
            y=curve["power"],
            mode="lines+markers",
            name="power (simulated)",
            hovertemplate="%{x} + %{x} subjects: power %{y:.2f}<extra></extra>",
        )
    )
    figure.add_hline(
        y=power, line_dash="dash", line_color="grey", annotation_text=f"target {power:.0%}"
    )
    if current:
        figure.add_vline(
            x=current, line_dash="dot", line_color="grey", annotation_text="this test set"
        )
    figure.update_layout(
        title=("SYNTHETIC DATA · " if synthetic else "")
        + f"{plain(title)} · power to detect a gap of {gap:.2f}",
        xaxis={"title": "subjects per gender", "type": "log"},
        yaxis={"title": "power (share of simulated test sets with p < α)", "range": [0, 1.02]},
        showlegend=False,
    )
    return figure
