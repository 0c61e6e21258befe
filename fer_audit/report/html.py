"""The self-contained HTML report: figures with plotly.js embedded (works offline), the
summary in words, the settings and provenance, and every table."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from fer_audit import atomic
from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.fairness.gaps import PAPER_DEFINITIONS
from fer_audit.fairness.result import AuditResult
from fer_audit.labels import train_set_order
from fer_audit.outputs import HTML_MARK
from fer_audit.report import comparison_figures, figures, glossary
from fer_audit.report.summary import family_sentence, summary_sentences
from fer_audit.version import code_version

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;
margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left} th{background:#f5f5f5}
.synthetic{background:#fff3cd;border:2px solid #b8860b;padding:.8em;font-weight:600}
.caveat{background:#eef4fb;border-left:4px solid #1565c0;padding:.6em .8em}
details{margin:.6em 0} summary{cursor:pointer;font-weight:600}
"""


def _table(frame: pd.DataFrame, *, digits: int = 3) -> str:
    return frame.to_html(
        index=False, float_format=lambda v: f"{v:.{digits}f}", na_rep="–", border=0, escape=True
    )


class _Figures:
    """Renders figures; plotly.js is embedded inline with the first one only."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig) -> str:
        include = self.first
        self.first = False
        return fig.to_html(
            full_html=False,
            include_plotlyjs=include,
            config={"responsive": True, "displaylogo": False},
        )


def _settings_rows(result: AuditResult) -> pd.DataFrame:
    s = result.settings
    source = s.get("source", {})
    rows = [
        ("source", source.get("citation") or source.get("path") or s.get("source_kind")),
        ("synthetic", "YES: generated data with a planted bias" if result.synthetic else "no"),
        ("groups compared", f"{s.get('comparison')} (group column: {s.get('group')})"),
        ("label scheme", f"{s.get('scheme')}: {', '.join(s.get('classes', []))}"),
        (
            "intervals",
            f"{s.get('confidence', 0.95):.0%}; {s.get('n_boot')} resamples, seed {s.get('seed')}",
        ),
        ("multiple comparisons", family_sentence(result)),
        (
            "power",
            "minimum detectable gap: 80% power at α = 0.05 before correction, on the test's "
            "own null draws, never below the independent-videos bound",
        ),
        (
            "small-n flag",
            f"rates with a denominator below {s.get('small_n_below')} (the n of a true "
            f"positive rate counts {glossary.rate_n_words('tpr')}, of a false positive rate "
            f"{glossary.rate_n_words('fpr')}, of an accuracy or a selection rate "
            f"{glossary.rate_n_words('accuracy')})",
        ),
        ("audited at", s.get("created_at")),
        ("audit code version", s.get("code_version")),
        ("report code version", code_version()),
    ]
    if "sha256" in source:
        rows.insert(1, ("predictions SHA-256", source["sha256"]))
    return pd.DataFrame(rows, columns=["setting", "value"])


#: the gaps table's column of minimum detectable gaps, as the report titles it
MDG_COLUMN = "min. detectable gap (80% power)"
_RATE_METRICS = set(figures.METRIC_NAMES)


def _comparison(result: AuditResult) -> str:
    return str(result.settings.get("comparison") or glossary.DEFAULT_COMPARISON)


def glossary_table(result: AuditResult) -> pd.DataFrame:
    """Code name, plain name and meaning of every gap definition, class aggregate and
    term, the direction named as this audit compares its groups."""
    return pd.DataFrame(
        glossary.glossary_rows(_comparison(result)),
        columns=["code name", "plain name", "meaning"],
    )


def gaps_table(result: AuditResult) -> pd.DataFrame:
    """The gaps table as the report shows it: a plain name beside each definition, the
    n named as videos, and the minimum detectable gap (`mdg`, when the audit has it)
    titled in words."""
    table = _with_plain_name(result.gaps)
    renames = {"mdg": MDG_COLUMN}
    if "n" in table.columns:
        renames["n"] = f"n ({glossary.rate_n_words('accuracy')})"
    return table.rename(columns=renames)


def _with_plain_name(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` with a "plain name" column right after its "definition"."""
    table = table.copy()
    if "definition" in table.columns:
        where = table.columns.get_loc("definition") + 1
        table.insert(where, "plain name", table["definition"].map(glossary.plain_name))
    return table


def group_metrics_table(result: AuditResult) -> pd.DataFrame:
    """The per-group rates with what each n counts (positives, negatives, videos)."""
    table = result.group_metrics.copy()
    if {"n", "metric"} <= set(table.columns):
        table.insert(
            table.columns.get_loc("n") + 1,
            "n counts",
            table["metric"].map(lambda m: glossary.rate_n_words(m) if m in _RATE_METRICS else ""),
        )
    return table


def render_report(result: AuditResult) -> str:
    """The whole report as one HTML string."""
    fig = _Figures()
    title = "fer-audit report" + (" · SYNTHETIC DATA" if result.synthetic else "")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{HTML_MARK}<title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
    ]
    if result.synthetic:
        parts.append(f"<p class='synthetic'>{html.escape(SYNTHETIC_NOTE)}.</p>")
    parts.append("<h2>Summary</h2>")
    lines = summary_sentences(result)
    bullets = [line[2:] for line in lines if line.startswith("- ")]
    heads = [line for line in lines if not line.startswith("- ")]
    parts += [f"<p>{html.escape(h)}</p>" for h in heads]
    parts.append("<ul>" + "".join(f"<li>{html.escape(b)}</li>" for b in bullets) + "</ul>")
    parts.append(
        f"<p class='caveat'>{html.escape(result.settings.get('caveat', ''))} "
        "Intervals of absolute aggregates (worst, mean, the paper's EQOD and DP) cannot "
        "contain zero; read their p-values instead.</p>"
    )
    parts.append(
        "<h2>Glossary</h2><p>The code names of the tables and figures in plain words; "
        "every gap is "
        f"{html.escape(_comparison(result))} unless the glossary says it has no direction."
        "</p>" + _table(glossary_table(result))
    )
    parts.append("<h2>Settings and provenance</h2>" + _table(_settings_rows(result)))
    inconsistent = result.settings.get("source", {}).get("inconsistent_cells")
    if inconsistent:
        parts.append(
            "<p>Published cells whose printed accuracy disagrees with their TPR and "
            "FPR (counts taken from TPR and FPR):</p>"
            + _table(pd.DataFrame(inconsistent), digits=4)
        )
    runs = pd.DataFrame(result.settings.get("runs", []))
    parts.append("<h2>Models</h2>" + _table(runs))
    parts.append("<h2>Rankings (most fair first; ties share a rank)</h2>")
    paper = result.rankings[result.rankings["definition"].isin(PAPER_DEFINITIONS)]
    ranking = paper.pivot_table(
        index=["train_set", "definition"], columns="rank", values="arch", aggfunc=", ".join
    )
    ranking.columns = [f"rank {c}" for c in ranking.columns]
    parts.append(_table(_with_plain_name(ranking.reset_index())))
    parts.append("<h2>Training sets compared</h2>")
    for definition in PAPER_DEFINITIONS:
        parts.append(fig(comparison_figures.train_set_comparison(result, definition=definition)))
    for train_set in train_set_order(runs["train_set"].dropna() if len(runs) else []):
        parts.append(f"<h2>{html.escape(str(train_set))} models</h2>")
        parts.append(fig(comparison_figures.accuracy_boxplots(result, train_set=train_set)))
        parts.append(fig(comparison_figures.emotion_gender_comparison(result, train_set=train_set)))
    parts.append("<h2>Per run</h2>")
    for run_id in runs["run_id"] if len(runs) else []:
        parts.append(f"<details><summary>{html.escape(str(run_id))}</summary>")
        if not result.confusion.empty and run_id in set(result.confusion["run_id"]):
            parts.append(fig(figures.confusion_matrices(result, run_id=run_id)))
        for metric in ("accuracy", "tpr", "fpr"):
            parts.append(fig(figures.metric_bars(result, run_id=run_id, metric=metric)))
        parts.append(fig(figures.gap_forest(result, run_id=run_id)))
        parts.append("</details>")
    parts.append("<h2>Tables</h2>")
    shown = {
        "gaps": gaps_table(result),
        "group_metrics": group_metrics_table(result),
        "summary": _with_plain_name(result.summary),
    }
    for name, table in shown.items():
        parts.append(f"<details><summary>{name}</summary>{_table(table)}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: AuditResult, path: str | Path) -> Path:
    """Write the report atomically; returns its path."""
    path = Path(path)
    atomic.write_text(path, render_report(result))
    return path
