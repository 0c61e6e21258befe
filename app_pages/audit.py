"""Audit: the published reference or a predictions table, per gender, with intervals."""

from pathlib import Path

import streamlit as st

from fer_audit.fairness.gaps import CAVEAT, PAPER_DEFINITIONS, STANDARD_DEFINITIONS
from fer_audit.report import figures
from fer_audit.report.sources import AuditSource, audit_source, filter_result, list_sources
from fer_audit.report.summary import summary_sentences
from fer_audit.workspace import Workspace

st.title("Audit")


@st.cache_data(show_spinner="Computing the audit (bootstrap and permutation tests)...")
def cached_audit(label: str, kind: str, path: str | None, mtime: float, n_boot: int):
    return audit_source(AuditSource(label, kind, path), n_boot=n_boot)


sources = list_sources(Workspace.from_env())
source = st.selectbox("Source", sources, format_func=lambda s: s.label)
n_boot = st.select_slider("Bootstrap resamples", [500, 1000, 2000, 5000], value=2000)
mtime = Path(source.path).stat().st_mtime if source.path else 0.0
try:
    result = cached_audit(source.label, source.kind, source.path, mtime, n_boot)
except ValueError as exc:
    st.error(f"This table cannot be audited: {exc}")
    st.stop()

if result.synthetic:
    st.warning(
        "SYNTHETIC DATA: generated cartoon faces with a deliberately planted bias, not people.",
        icon=":material/science:",
    )

runs = result.settings.get("runs", [])
arch_options = sorted({r["arch"] for r in runs})
set_options = [t for t in ("regular", "female", "male") if t in {r["train_set"] for r in runs}]
set_options += sorted({r["train_set"] for r in runs} - set(set_options))
left, right = st.columns(2)
archs = left.multiselect("Architectures", arch_options, default=arch_options)
train_sets = right.multiselect("Training sets", set_options, default=set_options)
if not archs or not train_sets:
    st.info("Choose at least one architecture and one training set.")
    st.stop()
chosen = filter_result(result, archs=archs, train_sets=train_sets)

st.subheader("Summary")
st.markdown("\n".join(summary_sentences(chosen)))
st.info(
    CAVEAT + " Intervals of absolute aggregates (worst, mean, EQOD, DP) cannot contain "
    "zero: read their adjusted p-values.",
    icon=":material/info:",
)
inconsistent = result.settings.get("source", {}).get("inconsistent_cells")
if inconsistent:
    st.caption(
        f"{len(inconsistent)} published cell(s) contradict themselves (printed "
        "accuracy vs TPR and FPR); counts follow TPR and FPR: "
        + "; ".join(
            f"{c['train_set']}/{c['model']}/{c['emotion']} on the {c['test_set']} set"
            for c in inconsistent
        )
    )

per_run, compare, ranking, aggregated, tables = st.tabs(
    ["Per model", "Training sets", "Rankings", "Aggregated", "Tables"]
)

with per_run:
    order = {t: i for i, t in enumerate(set_options)}
    ordered = sorted(chosen.settings["runs"], key=lambda r: (order[r["train_set"]], r["arch"]))
    run_ids = [r["run_id"] for r in ordered]
    run_id = st.selectbox("Model (run)", run_ids)
    if not chosen.confusion.empty:
        st.plotly_chart(figures.confusion_matrices(chosen, run_id=run_id))
    else:
        st.caption("Published results hold one-vs-rest counts only: no confusion matrix.")
    metric = st.radio(
        "Rate",
        ["accuracy", "tpr", "fpr", "selection_rate"],
        horizontal=True,
        format_func=figures.METRIC_NAMES.get,
    )
    st.plotly_chart(figures.metric_bars(chosen, run_id=run_id, metric=metric))
    small = chosen.group_metrics[
        (chosen.group_metrics["run_id"] == run_id) & chosen.group_metrics["small_n"]
    ]
    if len(small):
        st.warning(
            f"{len(small)} rate(s) of this model rest on fewer than "
            f"{chosen.settings['small_n_below']} videos: read them with care."
        )
    family = st.radio("Definitions", ["the paper's", "standard"], horizontal=True)
    definitions = PAPER_DEFINITIONS if family == "the paper's" else STANDARD_DEFINITIONS
    st.plotly_chart(figures.gap_forest(chosen, run_id=run_id, definitions=definitions))

with compare:
    for definition in PAPER_DEFINITIONS:
        st.plotly_chart(figures.train_set_comparison(chosen, definition=definition))

with ranking:
    table = chosen.rankings
    definition = st.selectbox("Definition", sorted(table["definition"].unique()))
    st.dataframe(table[table["definition"] == definition], hide_index=True)

with aggregated:
    for train_set in train_sets:
        st.plotly_chart(figures.accuracy_boxplots(chosen, train_set=train_set))
        st.plotly_chart(figures.emotion_gender_comparison(chosen, train_set=train_set))

with tables:
    st.dataframe(chosen.gaps, hide_index=True)
    st.dataframe(chosen.group_metrics, hide_index=True)
