"""Two to six runs of one audit side by side (the Audit page's Side by side tab, issue #15
part 5): their per-group confusion matrices in one grid, each emotion's gap for every
run, and the difference between two runs' gaps with its paired interval
(`fairness.paired`), as a figure and in words.

Figure conventions are `figures`': labels from data go through `plain`, rates show
their counts and denominators, gaps their 95% intervals and (on hover) raw and adjusted
p-values and their n; figures of synthetic results say SYNTHETIC in their title.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from fer_audit.fairness.from_predictions import FEW_SUBJECTS
from fer_audit.fairness.paired import PairedDifference
from fer_audit.fairness.result import AuditResult
from fer_audit.labels import train_set_order
from fer_audit.report import glossary
from fer_audit.report.figure_common import (
    _classes,
    _plain_all,
    _title,
    confusion_shares,
    plain,
    synthetic_title,
)
from fer_audit.report.figures import (
    ABSOLUTE_AXIS_TITLE,
    SIGNED_AXIS_TITLE,
    _gap_hover,
    _group_counts,
    _number,
)
from fer_audit.report.sources import seed_label

MIN_RUNS, MAX_RUNS = 2, 6
#: the paired p is one test of the many (definitions x classes x pairs) the tab offers
UNADJUSTED = "for this one comparison, not adjusted for others"
#: one colour per run (not the groups' colours, which mean female and male elsewhere)
RUN_COLOURS = qualitative.Dark2


def ordered_runs(runs: Sequence[dict]) -> list[dict]:
    """An audit's runs (settings["runs"]) by training set (Regular, Female, Male, then
    others) and architecture, otherwise in the audit's order."""
    order = {t: i for i, t in enumerate(train_set_order(r["train_set"] for r in runs))}
    return sorted(runs, key=lambda r: (order[r["train_set"]], r["arch"]))


def run_labels(runs: Sequence[dict]) -> dict[str, str]:
    """Each run's label, "arch · train set · seed N" (the run id where the table names no
    architecture); runs that would share a label get their run id after it."""
    labels = {}
    for run in runs:
        seed = seed_label(run.get("seed"))
        label = str(run["arch"])
        if label != str(run["run_id"]):
            label += f" · {run['train_set']}" + (f" · seed {seed}" if seed != "none" else "")
        labels[str(run["run_id"])] = label
    repeated = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {run: f"{lab} ({run})" if lab in repeated else lab for run, lab in labels.items()}


def default_runs(runs: Sequence[dict]) -> list[str]:
    """The runs shown first: the first run's architecture and seed on each training set
    (e.g. its Regular, Female and Male models), up to MAX_RUNS; the first two runs when
    that architecture has one run only."""
    ordered = ordered_runs(runs)
    if not ordered:
        return []
    first = ordered[0]
    per_set: dict[str, str] = {}  # training set -> its first run of that arch and seed
    for run in ordered:
        kin = run["arch"] == first["arch"]
        if kin and seed_label(run.get("seed")) == seed_label(first.get("seed")):
            per_set.setdefault(run["train_set"], str(run["run_id"]))
    same = list(per_set.values())
    if len(same) < MIN_RUNS:
        return [str(r["run_id"]) for r in ordered[:MIN_RUNS]]
    return same[:MAX_RUNS]


def _checked(result: AuditResult, run_ids: Sequence[str]) -> dict[str, str]:
    """The labels of `run_ids`; ValueError unless they are 2 to 6 runs of the audit."""
    labels = run_labels(result.settings.get("runs", []))
    unknown = [r for r in run_ids if r not in labels]
    if unknown:
        raise ValueError(f"no run {', '.join(map(repr, unknown))} in this audit")
    if not MIN_RUNS <= len(set(run_ids)) <= MAX_RUNS:
        raise ValueError(f"choose {MIN_RUNS} to {MAX_RUNS} different runs, not {len(run_ids)}")
    return labels


def confusion_grid(result: AuditResult, *, run_ids: Sequence[str]) -> go.Figure:
    """The confusion matrices of 2 to 6 runs: one row per run, one column per compared
    group; one colour scale (the share of the true class's videos given each label), and
    each cell's text "share (count/videos of the true class)"."""
    labels = _checked(result, run_ids)
    confusion = result.confusion[result.confusion["run_id"].isin(run_ids)]
    missing = [r for r in run_ids if r not in set(confusion["run_id"])]
    if missing:
        raise ValueError(
            f"no confusion matrix for {', '.join(missing)} (count-only sources have none)"
        )
    classes = _classes(result)
    groups = list(result.settings["groups"])
    titles = [plain(f"{labels[run]} · {group}") for run in run_ids for group in groups]
    fig = make_subplots(
        rows=len(run_ids),
        cols=len(groups),
        subplot_titles=titles,
        horizontal_spacing=0.08,
        vertical_spacing=min(0.12, 0.4 / len(run_ids)),
    )
    for row, run in enumerate(run_ids, start=1):
        for col, group in enumerate(groups, start=1):
            part = confusion[(confusion["run_id"] == run) & (confusion["group"] == group)]
            matrix, share = confusion_shares(part, classes)
            totals = matrix.sum(axis=1).to_numpy()
            text = [
                [_share_text(s, c, n) for s, c in zip(shares, counts, strict=True)]
                for shares, counts, n in zip(
                    share.to_numpy(), matrix.to_numpy(), totals, strict=True
                )
            ]
            fig.add_trace(
                go.Heatmap(
                    z=share.to_numpy(),
                    x=_plain_all(classes),
                    y=_plain_all(classes),
                    text=text,
                    texttemplate="%{text}",
                    coloraxis="coloraxis",
                    hovertemplate=f"{plain(labels[run])} · {plain(group)}<br>true %{{y}}, "
                    "predicted %{x}: %{text} videos of the true class<extra></extra>",
                ),
                row=row,
                col=col,
            )
            fig.update_yaxes(  # one class list per row: its labels on the left only
                autorange="reversed",
                title_text="true" if col == 1 else None,
                showticklabels=col == 1,
                row=row,
                col=col,
            )
            fig.update_xaxes(title_text="predicted" if row == len(run_ids) else None)
    fig.update_layout(
        coloraxis={
            "colorscale": "Blues",
            "cmin": 0,
            "cmax": 1,
            "colorbar": {"title": {"text": "share of<br>the true<br>class"}},
        },
        title=_title(
            result,
            f"Confusion matrices per group, {len(run_ids)} models side by side "
            "(cells: share of the true class's videos, count/videos)",
        ),
        height=140 + 300 * len(run_ids),
    )
    return fig


def _share_text(share: float, count: float, total: float) -> str:
    return f"{_number(share, 2)} ({int(count)}/{int(total)})"


def gap_comparison(result: AuditResult, *, run_ids: Sequence[str], definition: str) -> go.Figure:
    """Each emotion's `definition` gap for 2 to 6 runs: one colour per run, each gap with
    its 95% interval from the audit's gaps table (filled: adjusted p < 0.05); hover gives
    the interval, raw and adjusted p, the n and what the gap means."""
    labels = _checked(result, run_ids)
    classes = _classes(result)
    gaps = result.gaps[
        (result.gaps["definition"] == definition) & result.gaps["class"].isin(classes)
    ]
    if gaps.empty:
        raise ValueError(f"{definition} has no per-class gaps in this audit")
    raw_comparison = str(result.settings.get("comparison", ""))
    comparison = plain(raw_comparison)
    fig = go.Figure()
    for i, run in enumerate(run_ids):
        rows = gaps[gaps["run_id"] == run]
        rows = rows.set_index("class").reindex([c for c in classes if c in set(rows["class"])])
        rows = rows.reset_index()
        counts = _group_counts(result, run)
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=_plain_all(rows["class"]),
                y=rows["value"],
                name=plain(labels[run]),
                mode="markers",
                offsetgroup=str(i),
                marker={
                    "size": 10,
                    "color": np.where(rows["p_adjusted"] < 0.05, colour, "white"),
                    "line": {"color": colour, "width": 2},
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["ci_high"] - rows["value"],
                    "arrayminus": rows["value"] - rows["ci_low"],
                    "color": colour,
                },
                hovertext=[
                    _gap_hover(
                        counts, gap, plain(f"{labels[run]} · {gap['class']}"), raw_comparison
                    )
                    for _, gap in rows.iterrows()
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    absolute = glossary.is_absolute(definition, classes[0], raw_comparison)
    if not absolute:
        fig.add_hline(y=0, line_dash="dash", line_color="#888")
    fig.update_layout(
        scattermode="group",
        xaxis={"categoryorder": "array", "categoryarray": _plain_all(classes), "title": "emotion"},
        yaxis_title=ABSOLUTE_AXIS_TITLE
        if absolute
        else SIGNED_AXIS_TITLE.format(comparison=comparison),
        legend_title_text="model (filled: adjusted p < 0.05)",
        title=_title(
            result,
            f"{plain(glossary.plain_name(definition))} ({plain(definition)}, {comparison}) per "
            f"emotion, {len(run_ids)} models with 95% intervals",
        ),
    )
    return fig


def paired_figure(paired: PairedDifference, *, labels: dict[str, str]) -> go.Figure:
    """The two runs' gaps and their difference (first - second), each with its 95%
    interval from the same paired resamples; hover gives the n and the difference's p."""
    first, second = labels[paired.first], labels[paired.second]
    rows = [
        (first, paired.first_gap, paired.first_interval, "#555"),
        (second, paired.second_gap, paired.second_interval, "#555"),
        (
            f"difference: {first} − {second}",
            paired.difference,
            (paired.ci_low, paired.ci_high),
            "#b71c1c",
        ),
    ]
    n_text = _n_words(paired, labels)
    p_text = ["", "", f"<br>{p_words(paired)}, {UNADJUSTED}"]
    fig = go.Figure()
    for (name, value, (low, high), colour), p_line in zip(rows, p_text, strict=True):
        fig.add_trace(
            go.Scatter(
                x=[value],
                y=[plain(name)],
                mode="markers",
                name=plain(name),
                showlegend=False,
                marker={"size": 11, "color": colour},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [high - value],
                    "arrayminus": [value - low],
                    "color": colour,
                },
                hovertemplate=f"{plain(name)}: {_number(value)}, 95% interval "
                f"[{_number(low)}, {_number(high)}]{p_line}<br>{plain(n_text)}<extra></extra>",
            )
        )
    fig.add_vline(x=0, line_dash="dash", line_color="#888")
    comparison = plain(paired.comparison)
    fig.update_layout(
        title=synthetic_title(
            f"{plain(glossary.plain_name(paired.definition))} · {plain(paired.cls)} "
            f"({comparison}): two models and their difference, paired over the same "
            f"{paired.n_subjects} subjects",
            synthetic=paired.synthetic,
        ),
        xaxis_title=f"gap ({comparison}); difference: first − second",
        yaxis={"autorange": "reversed", "automargin": True},
        height=300,
        margin={"l": 20},
    )
    return fig


def _n_words(paired: PairedDifference, labels: dict[str, str]) -> str:
    """The n: subjects (or subject-groups) per group, and per model the n of the rate."""
    per_group = ", ".join(f"{n} {g}" for g, n in paired.subjects.items())
    what = (
        f"{paired.n_subjects} subjects as subject-groups" if paired.subject_groups else "subjects"
    )
    return f"{what}: {per_group}; {_rate_n_words(paired, labels)}"


def p_words(paired: PairedDifference) -> str:
    """p = 0.012, with digits enough to show p on its side of 1 - confidence (as the
    interval: `excludes_zero`); p < 1/B when no resampled difference (of B) reached 0."""
    if paired.p_value == 0:
        return f"p < 1/{paired.n_used}"
    alpha = round(1 - paired.confidence, 9)
    for digits in range(3, 9):
        text = f"{paired.p_value:.{digits}f}"
        if (float(text) < alpha) == paired.excludes_zero:
            break
    return f"p = {text}"


def _rate_n_words(paired: PairedDifference, labels: dict[str, str]) -> str:
    """The n of the gap's rate per group: once when both models share it (the same
    videos give the same positives, negatives and videos), else per model."""

    def groups(run: str) -> str:
        return " | ".join(f"{g} {n}" for g, n in paired.rate_n[run].items())

    if paired.rate_n[paired.first] == paired.rate_n[paired.second]:
        return f"{paired.rate_n_name} per model: {groups(paired.first)}"
    per_run = "; ".join(f"{labels[run]}: {groups(run)}" for run in (paired.first, paired.second))
    return f"{paired.rate_n_name}: {per_run}"


def _class_words(cls: str) -> str:
    if cls == "all":
        return "all classes together"
    if cls in ("worst", "mean", "overall"):
        return f"the {glossary.plain_name(cls).lower()}"
    return cls


def paired_sentence(paired: PairedDifference, *, labels: dict[str, str]) -> str:
    """The paired difference in words that follow its numbers: both gaps with their
    intervals, the difference (higher or lower as shown, to two decimals) with its paired
    interval and p (unadjusted), the distinct subjects (and the subject-groups resampled
    when a subject is in several groups) and n behind it, and what the interval says (it
    excludes 0, exactly when p < 1 - confidence: the gaps differ; it includes 0: the data
    cannot tell them apart, and differences smaller than about half its width could not
    have been detected)."""
    first, second = labels[paired.first], labels[paired.second]
    name = glossary.plain_name(paired.definition)
    absolute = glossary.is_absolute(paired.definition, paired.cls, paired.comparison)
    more, less = ("larger", "smaller") if absolute else ("higher", "lower")
    d, shown = paired.difference, round(paired.difference, 2)
    if shown != 0:  # the words follow the number shown, not digits it hides
        how = f"{abs(shown):.2f} {more if shown > 0 else less} for {first} than for {second}"
    else:
        exact = "" if d == 0 else " to two decimals"
        how = f"the same{exact} for {first} as for {second}"
    per_group = ", ".join(f"{n} {g}" for g, n in paired.subjects.items())
    if paired.subject_groups:  # intersectional groups: a subject is in several
        per_group = f"resampled as subject-groups, each subject in several: {per_group}"
    pct = f"{paired.confidence:.0%}"
    # "the recall gap (female - male)", "the paper's EQOD (...), female - male,"
    comparison = f", {paired.comparison}," if name.endswith(")") else f" ({paired.comparison})"
    text = (
        f"The {name[0].lower()}{name[1:]}{comparison} for {_class_words(paired.cls)} "
        f"is {paired.first_gap:+.2f} for {first} ({pct} interval {_span(paired.first_interval)}) "
        f"and {paired.second_gap:+.2f} for {second} ({_span(paired.second_interval)}): "
        f"{how} (difference {d:+.2f}, paired {pct} interval "
        f"{_span((paired.ci_low, paired.ci_high), paired.excludes_zero)}; "
        f"{p_words(paired)} {UNADJUSTED}), over "
        f"the same {paired.n_subjects} test subjects ({per_group}; "
        f"{_rate_n_words(paired, labels)})."
    )
    if paired.ci_low == paired.ci_high == d == 0:
        text += " The two models give the same gap in every resample."
    elif paired.excludes_zero:
        text += " The interval excludes 0: the two models' gaps differ."
    else:
        text += (
            " The interval includes 0: these data cannot tell the two models' gaps apart; "
            f"differences smaller than roughly {paired.half_width:.2f} (half the interval's "
            "width) could not have been detected."
        )
    if min(paired.subjects.values()) < FEW_SUBJECTS:
        text += f" With fewer than {FEW_SUBJECTS} subjects in a group the interval is rough."
    if paired.boot_dropped > 0:
        text += (
            f" {paired.boot_dropped:.0%} of the resamples were left out (a group lost every "
            "video of a class)."
        )
    return text


def _span(interval: tuple[float, float], excludes_zero: bool = False) -> str:
    """ "-0.12 to +0.03", with digits enough that an interval excluding 0 shows no 0.00."""
    low, high = interval
    digits = 2
    while excludes_zero and digits < 6 and 0 in (round(low, digits), round(high, digits)):
        digits += 1
    return f"{low:+.{digits}f} to {high:+.{digits}f}"
