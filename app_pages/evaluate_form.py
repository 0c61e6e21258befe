"""The Train page's "Evaluate" section: the finished runs of the chosen dataset (and any
imported model, on its test split) evaluated by `fer-audit evaluate` as a job; a
finished evaluation opens on the Audit page with its predictions chosen."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.ui import plain_markdown, show_damaged_list
from fer_audit.commands import evaluate_argv
from fer_audit.jobs import JobRegistry
from fer_audit.predict import available_models
from fer_audit.report.sources import source_of_table
from fer_audit.train.runs import finished_runs
from fer_audit.workspace import UnsafeName, Workspace


def evaluate_section(workspace: Workspace, registry: JobRegistry | None, dataset: str) -> None:
    damaged: list = []
    runs = finished_runs(workspace, dataset, damaged=damaged)
    imported = {m.ref: m.label for m in available_models(workspace, damaged=damaged) if m.imported}
    show_damaged_list(damaged, key="evaluate-damaged")
    picked = st.multiselect(
        f"Finished runs of {dataset}",
        runs,
        default=runs,
        key=f"evaluate_runs:{dataset}",
        help="Runs still training, cancelled or failed are not offered.",
    )
    models = st.multiselect(
        f"Imported models, evaluated on {dataset}'s test subjects",
        list(imported),
        format_func=imported.get,
        key=f"evaluate_imported:{dataset}",
    )
    out = st.text_input("Predictions file name", f"{dataset}.parquet", key="evaluate_out")
    if st.button("Evaluate in the background", disabled=not (picked or models)):
        _queue(workspace, registry, [*picked, *models], out.strip(), dataset if models else None)
    _finished(workspace, registry)


def _queue(
    workspace: Workspace,
    registry: JobRegistry | None,
    refs: list[str],
    out: str,
    dataset: str | None,
) -> None:
    try:
        target = workspace.predictions_path(out)
    except UnsafeName as exc:
        st.error(
            plain_markdown(
                f"{exc}. Nothing was queued; predictions files are kept in "
                f"{workspace.predictions_dir}."
            )
        )
        return
    if registry is None:
        st.error("Nothing was queued: the job registry is damaged (see above).")
        return
    registry.submit(
        evaluate_argv(refs, out=target, dataset=dataset), title=f"evaluate into {target.name}"
    )
    st.success(f"Queued the evaluation of {len(refs)} model(s) into {target.name}.")


def _finished(workspace: Workspace, registry: JobRegistry | None) -> None:
    """The newest finished evaluations, each with a button to its predictions on the
    Audit page."""
    if registry is None:
        return
    done = [j for j in registry.list() if j.kind == "evaluate" and j.status == "done"][:3]
    for job in done:
        table = Path(job.argv[job.argv.index("--out") + 1]) if "--out" in job.argv else None
        source = source_of_table(workspace, table) if table and table.is_file() else None
        if source is None:
            continue
        if st.button(
            f"Audit {table.name} (job #{job.id}) on the Audit page",
            key=f"evaluate-open-{job.id}",
            icon=":material/balance:",
        ):
            st.session_state["audit_source"] = source
            st.switch_page("app_pages/audit.py")
