"""The Audit page's Side by side tab: two to six models of the chosen audit in one view
(their confusion matrices per group, each emotion's gap), and the difference between
two models' gaps with its interval from a paired bootstrap over the same test subjects.
It lays out widgets and calls the library (`fer_audit.report.side_by_side`,
`fer_audit.report.sources.paired_difference`)."""

from __future__ import annotations

import shlex

import streamlit as st

from app_pages.ui import plain_markdown
from fer_audit.commands import compare_argv
from fer_audit.fairness import AuditResult
from fer_audit.fairness.gaps import DEFINITIONS, STANDARD_DEFINITIONS, gap_classes
from fer_audit.fairness.paired import PairedDifference
from fer_audit.fairness.result import AuditError
from fer_audit.report import glossary, side_by_side
from fer_audit.report.sources import comparison_settings, paired_difference, pairing_problem
from fer_audit.report.summary import run_warnings


@st.cache_data(show_spinner="Resampling the same subjects for both models…", max_entries=32)
def _paired(
    sha256: str, settings: dict, first: str, second: str, definition: str, cls: str
) -> PairedDifference:
    """`sources.paired_difference`, computed once per table content (`sha256`), audit
    settings and choice."""
    return paired_difference(settings, first=first, second=second, definition=definition, cls=cls)


def _forget_unless_in(key: str, options: list) -> None:
    """Drop a widget's remembered choice that its options no longer hold (the filters
    above, or the audit, changed)."""
    value = st.session_state.get(key)
    values = value if isinstance(value, list) else [value]
    if value is not None and not set(values) <= set(options):
        st.session_state.pop(key)


def side_by_side_tab(result: AuditResult, chosen: AuditResult) -> None:
    """The tab's body: `result` is the whole audit (its settings name the predictions
    table), `chosen` the runs the filters above keep."""
    runs = side_by_side.ordered_runs(chosen.settings["runs"])
    labels = side_by_side.run_labels(result.settings["runs"])
    run_ids = [str(r["run_id"]) for r in runs]
    if len(run_ids) < side_by_side.MIN_RUNS:
        st.info("Side by side needs at least two models: keep more of them in the filters above.")
        return
    key = f"side_runs:{result.settings.get('created_at', '')}"
    _forget_unless_in(key, run_ids)
    picked = st.multiselect(
        f"Models ({side_by_side.MIN_RUNS} to {side_by_side.MAX_RUNS})",
        run_ids,
        format_func=labels.get,
        max_selections=side_by_side.MAX_RUNS,
        key=key,
        default=side_by_side.default_runs(runs),
    )
    if len(picked) < side_by_side.MIN_RUNS:
        st.info("Choose at least two models.")
        return
    for run_id in picked:
        for line in run_warnings(chosen, run_id=run_id):
            st.warning(plain_markdown(line))
    if chosen.confusion.empty:
        st.caption("Published results hold one-vs-rest counts only: no confusion matrix.")
    else:
        st.plotly_chart(side_by_side.confusion_grid(chosen, run_ids=picked))
    per_class = [d for d in STANDARD_DEFINITIONS if d in set(chosen.gaps["definition"])]
    definition = st.selectbox(
        "Gap per emotion", per_class, format_func=glossary.plain_name, key="side_definition"
    )
    if definition:
        st.plotly_chart(side_by_side.gap_comparison(chosen, run_ids=picked, definition=definition))
    _difference(result, picked, labels)


def _difference(result: AuditResult, picked: list[str], labels: dict[str, str]) -> None:
    """Two of the models picked, a gap, and the paired difference of their gaps."""
    st.subheader("Difference between two models' gaps")
    first_column, second_column, definition_column, class_column = st.columns(4)
    for key in ("side_first", "side_second"):
        _forget_unless_in(key, picked)
    first = first_column.selectbox("First model", picked, format_func=labels.get, key="side_first")
    second = second_column.selectbox(
        "Second model", picked, index=1, format_func=labels.get, key="side_second"
    )
    definition = definition_column.selectbox(
        "Gap definition",
        DEFINITIONS,
        index=DEFINITIONS.index("equal_opportunity"),
        format_func=glossary.plain_name,
        key="side_pair_definition",
    )
    classes = gap_classes(definition, result.settings.get("classes", []))
    _forget_unless_in("side_pair_class", classes)
    cls = class_column.selectbox("Class or aggregate", classes, key="side_pair_class")
    problem = pairing_problem(result.settings)
    if problem:
        st.info(plain_markdown(problem), icon=":material/info:")
        return
    if first == second:
        st.info("Choose two different models.")
        return
    try:
        paired = _paired(
            result.settings["source"]["sha256"], result.settings, first, second, definition, cls
        )
    except AuditError as exc:  # not the same test set, a gap undefined, the table changed
        st.warning(plain_markdown(exc))
        return
    st.markdown(plain_markdown(side_by_side.paired_sentence(paired, labels=labels)))
    st.plotly_chart(side_by_side.paired_figure(paired, labels=labels))
    cells = "subject-groups" if paired.subject_groups else "test subjects"
    st.caption(
        f"Paired subject bootstrap: each of {paired.n_boot} resamples draws the {cells} of "
        "each group with replacement once, and the same draw weighs both models (seed "
        f"{paired.seed}, the audit's own, so each model's interval here is the audit's "
        "percentile interval). The difference's interval is the k-th smallest to the k-th "
        f"largest of its {paired.n_used} resampled values, k = ceil({paired.n_used} × "
        f"(1 − {paired.confidence:g}) / 2), and p is twice the share of them on the far side "
        f"of 0, so the interval excludes 0 exactly when p < {1 - paired.confidence:.2g}. "
        f"{side_by_side.p_words(paired)} {side_by_side.UNADJUSTED} (the definitions, "
        "classes and pairs of models one can pick here). The same from the command line:"
    )
    argv = compare_argv(
        comparison_settings(result.settings),
        predictions=result.settings["source"]["path"],
        first=first,
        second=second,
        definition=definition,
        cls=cls,
    )
    st.code(shlex.join(["fer-audit", *argv]), language="bash")
