"""Audit: the published reference or a predictions table, per gender, with intervals."""

import pandas as pd
import streamlit as st

from app_pages.audit_form import audit_jobs, new_audit_form, offer_audit, open_finished
from app_pages.housekeeping import deletion_panel, show_deleted
from app_pages.side_by_side import side_by_side_tab
from app_pages.ui import audit_selection, job_registry, plain_markdown, plain_markdown_list
from fer_audit.fairness.gaps import CAVEAT, PAPER_DEFINITIONS, STANDARD_DEFINITIONS
from fer_audit.fairness.planner import (
    MAX_SUBJECTS,
    PLANNED_METRICS,
    Design,
    PlanError,
    design_from_audit,
    plan,
)
from fer_audit.labels import train_set_order
from fer_audit.report import (
    comparison_figures,
    figures,
    glossary,
    live_figures,
    plain_tables,
    side_by_side,
)
from fer_audit.report.summary import plan_sentence, run_warnings, summary_sentences
from fer_audit.workspace import Workspace

st.title("Audit")


workspace = Workspace.from_env()
registry = job_registry(workspace)  # None (and the message) when jobs.sqlite is damaged
open_finished(workspace)
show_deleted()
selection = audit_selection(workspace, not_audited=offer_audit(workspace, registry))
if selection is None:  # a table not audited yet, or a source that cannot be read
    deletion_panel(workspace, st.session_state["audit_source"])
    st.stop()
result, chosen = selection
with st.expander("New audit: a predictions table or the published results, other settings"):
    new_audit_form(workspace, registry)
audit_jobs(registry)
deletion_panel(workspace, st.session_state["audit_source"])
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

with st.expander("Glossary: what each gap and column means"):
    st.dataframe(
        pd.DataFrame(
            glossary.glossary_rows(chosen.settings.get("comparison", "female - male")),
            columns=["code name", "plain name", "meaning"],
        ),
        hide_index=True,
    )

per_run, beside, compare, ranking, aggregated, tables, planner = st.tabs(
    ["Per model", "Side by side", "Training sets", "Rankings", "Aggregated", "Tables", "Planner"],
    key="audit_tabs",  # the tab stays chosen when a warning above comes or goes
)

with per_run:
    run_ids = [r["run_id"] for r in side_by_side.ordered_runs(chosen.settings["runs"])]
    run_id = st.selectbox("Model (run)", run_ids)
    for line in run_warnings(chosen, run_id=run_id):
        st.warning(plain_markdown(line))
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

with beside:
    side_by_side_tab(result, chosen)

with compare:
    st.markdown("**Each emotion** (the paper's aggregates below pool every class)")
    left, right = st.columns(2)
    per_class = [d for d in STANDARD_DEFINITIONS if d in set(chosen.gaps["definition"])]
    compared = left.selectbox(
        "Definition", per_class, format_func=glossary.plain_name, key="compare_definition"
    )
    classes = list(chosen.settings.get("classes", []))
    emotion = right.selectbox("Emotion", classes, key="compare_class") if classes else None
    if compared and emotion:
        st.plotly_chart(
            comparison_figures.train_set_comparison(chosen, definition=compared, cls=emotion)
        )
    for definition in PAPER_DEFINITIONS:
        st.plotly_chart(comparison_figures.train_set_comparison(chosen, definition=definition))

with ranking:
    table = chosen.rankings
    definition = st.selectbox(
        "Definition", sorted(table["definition"].unique()), format_func=glossary.plain_name
    )
    st.dataframe(
        plain_tables.plain_rankings(table[table["definition"] == definition]), hide_index=True
    )

with aggregated:
    for train_set in set_options:
        st.plotly_chart(comparison_figures.accuracy_boxplots(chosen, train_set=train_set))
        st.plotly_chart(comparison_figures.emotion_gender_comparison(chosen, train_set=train_set))

with tables:
    st.caption(
        "Every gap, with its interval and adjusted p (the glossary above says what each "
        "means); the saved audit's CSV files hold them under their code names."
    )
    st.dataframe(plain_tables.plain_gaps(chosen.gaps), hide_index=True)
    st.markdown("**Each group's rates**")
    st.dataframe(plain_tables.plain_rates(chosen.group_metrics), hide_index=True)

with planner:
    st.markdown(
        "How many subjects per gender a test set needs to detect a gap of a chosen size. "
        "Test sets are simulated (subjects' own rates vary around their gender's rate) "
        "and tested as this audit tests them (permutation of gender across subjects, "
        "α = 0.05 before correction)."
    )
    has_variation = not chosen.variation.empty
    start = st.radio(
        "Start from",
        ["this audit's test set", "numbers typed in"] if has_variation else ["numbers typed in"],
        horizontal=True,
        help=None
        if has_variation
        else "This audit holds no per-subject data (published counts, or an older audit).",
    )
    left, middle, right = st.columns(3)
    metric = left.selectbox(
        "Rate", list(PLANNED_METRICS), format_func=figures.METRIC_NAMES.get, key="plan_metric"
    )
    classes = list(chosen.settings.get("classes", []))
    cls = middle.selectbox(
        "Class", classes + (["overall"] if metric == "accuracy" else []), key="plan_class"
    )
    defaults = Design(rate=0.7, videos_per_subject=2.0, between_sd=0.1)
    if start == "this audit's test set":
        run_ids = list(dict.fromkeys(chosen.variation["run_id"]))
        plan_run = right.selectbox("Model (run)", run_ids, key="plan_run")
        try:
            defaults = design_from_audit(chosen.variation, run_id=plan_run, metric=metric, cls=cls)
        except PlanError as exc:
            st.warning(plain_markdown(exc))
    rate_column, videos_column, spread_column = st.columns(3)
    rate = rate_column.number_input(
        "Rate with no gap", 0.01, 0.99, round(defaults.rate, 2), 0.01, key=f"plan_rate:{defaults}"
    )
    videos = videos_column.number_input(
        f"{glossary.rate_n_words(metric).capitalize()} per subject",
        1.0,
        10_000.0,
        float(defaults.videos_per_subject),
        1.0,
        key=f"plan_videos:{defaults}",
        help=f"The rate's denominator per subject: {PLANNED_METRICS[metric]}.",
    )
    spread = spread_column.number_input(
        "Between-subject SD",
        0.0,
        0.49,
        round(defaults.between_sd, 2),
        0.01,
        key=f"plan_sd:{defaults}",
        help="How much subjects' own rates differ around their gender's rate.",
    )
    from_audit = start == "this audit's test set"
    per_group = chosen.settings.get("subjects_per_group", {}) if from_audit else {}
    if from_audit:
        st.caption(
            "Estimated from this test set ("
            + " + ".join(str(n) for n in per_group.values())
            + " subjects): with few subjects or few videos each, the between-subject SD "
            "is rough; try a range of values."
        )
    gap_column, power_column = st.columns(2)
    gap = gap_column.slider("Gap to detect", 0.05, 0.6, 0.2, 0.01, key="plan_gap")
    power = power_column.select_slider("Power", [0.7, 0.8, 0.9, 0.95], 0.8, key="plan_power")
    design = Design(rate=rate, videos_per_subject=videos, between_sd=spread)
    asked = (design, gap, power)
    if st.button("Plan", type="primary", key="plan_button"):
        with st.spinner("Simulating test sets…"):
            st.session_state["plan_found"] = (asked, plan(design, gap=gap, power=power))
    planned = st.session_state.get("plan_found")
    if planned is None or planned[0] != asked:
        st.caption("Press Plan to simulate (a few seconds).")
    else:
        found = planned[1]
        what = f"{cls} {figures.METRIC_NAMES[metric].lower()}"
        st.markdown(
            plain_markdown(
                plan_sentence(
                    subjects=found["subjects"],
                    gap=gap,
                    power=power,
                    what=what,
                    max_subjects=MAX_SUBJECTS,
                )
            )
            + f" Design: {plain_markdown(design.describe(glossary.rate_n_words(metric)))}."
        )
        current = min(per_group.values()) if per_group else None
        st.plotly_chart(
            live_figures.power_curve(
                found["curve"],
                gap=gap,
                power=power,
                title=what,
                current=current,
                synthetic=chosen.synthetic,
            )
        )
    st.caption(
        "The same plan from the command line: fer-audit plan --rate "
        f"{rate:.2f} --videos-per-subject {videos:g} --between-sd {spread:.2f} --gap {gap:.2f} "
        f"--power {power}"
    )
