"""Audit: the published reference or a predictions table, per gender, with intervals."""

import streamlit as st

from fer_audit.fairness.gaps import CAVEAT, PAPER_DEFINITIONS, STANDARD_DEFINITIONS
from fer_audit.report import figures
from fer_audit.report.sources import train_set_order
from fer_audit.report.summary import summary_sentences
from fer_audit.ui import audit_selection, plain_markdown_list
from fer_audit.workspace import Workspace

st.title("Audit")


selection = audit_selection(Workspace.from_env())
if selection is None:
    st.stop()
result, chosen = selection
set_options = train_set_order(r["train_set"] for r in chosen.settings["runs"])

st.subheader("Summary")
st.markdown(plain_markdown_list(summary_sentences(chosen)))
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
    for train_set in set_options:
        st.plotly_chart(figures.accuracy_boxplots(chosen, train_set=train_set))
        st.plotly_chart(figures.emotion_gender_comparison(chosen, train_set=train_set))

with tables:
    st.dataframe(chosen.gaps, hide_index=True)
    st.dataframe(chosen.group_metrics, hide_index=True)
