"""The Train page's run pieces: a running job's ETA and curves, and deleting a run after
listing what depends on it (`fer_audit.train.run_deletion` does the deleting)."""

from __future__ import annotations

import streamlit as st

from app_pages.ui import plain_markdown, plain_markdown_list, run_curves
from fer_audit.errors import DamagedFile
from fer_audit.jobs import Job
from fer_audit.train.run_deletion import delete_run, run_dependents
from fer_audit.train.runs import read_eta, read_run_json, run_ids
from fer_audit.workspace import Busy, Workspace

_DONE = "_train_run_deleted"  # the last run deletion's message, shown once
RUN_CHOICE = "delete_run_choice"


def job_runs(workspace: Workspace, job: Job) -> None:
    """A training job's runs: the ETA of the run it trains now, and the curves of its
    last three runs."""
    if job.status == "running" and job.kind == "train" and job.runs:
        eta = read_eta(workspace, job.runs[-1])
        if eta is not None:
            st.caption(plain_markdown(f"{eta.run_id}: {eta.words()}"), help=ETA_HELP)
    for run_id in job.runs[-3:]:
        run_curves(workspace, run_id, key=f"curve-{job.id}-{run_id}")


ETA_HELP = (
    "Seconds per epoch so far times the epochs left: the most it takes, as early "
    "stopping ends a run once its validation results stop improving."
)


def describe_run(workspace: Workspace, run_id: str) -> str:
    """A run in one line: status, epochs, best validation accuracy, SYNTHETIC."""
    try:
        meta = read_run_json(workspace.run_dir(run_id), required=()) or {}
    except DamagedFile:
        return "its run.json is damaged: it can only be deleted"
    best = meta.get("best_val_accuracy")
    parts = [str(meta.get("status", "no run.json"))]
    parts += [f"{meta['epochs_done']} epoch(s)"] if isinstance(meta.get("epochs_done"), int) else []
    parts += [f"best val accuracy {best:.3f}"] if isinstance(best, float) else []
    parts += ["SYNTHETIC"] if meta.get("synthetic") else []
    return " · ".join(parts)


def delete_run_section(workspace: Workspace) -> None:
    """Pick a run; a confirmation lists what is removed and what depends on it (kept);
    the button deletes it (disabled while a job trains or reads it)."""
    message = st.session_state.pop(_DONE, None)
    if message:
        st.success(message)
    runs = run_ids(workspace)
    if not runs:
        st.caption("No runs yet.")
        return
    # the run's id: words that never change (a run gone puts the widget on the first)
    run_id = st.selectbox("Run", runs, key=RUN_CHOICE)
    st.caption(plain_markdown(describe_run(workspace, run_id)))
    if not st.checkbox("Delete this run", key=f"delete-run-{run_id}"):
        return
    dependents = run_dependents(workspace, run_id)
    lines = [f"- {line}" for line in dependents.lines()]
    st.warning(
        f"This removes the run folder {plain_markdown(workspace.run_dir(run_id))} (its "
        "model, checkpoint, curves and log).\n\nDepending on it, kept:"
        + ("\n" + plain_markdown_list(lines) if lines else " nothing."),
        icon=":material/delete:",
    )
    in_use = bool(dependents.active_jobs)
    if in_use:
        st.info("Cancel the job(s) using it first, or wait until they end.")
    if st.button(f"Delete {run_id} now", type="primary", disabled=in_use):
        try:
            deletion = delete_run(workspace, run_id)
        except (ValueError, OSError, Busy) as exc:
            st.error(f"Nothing was deleted: {plain_markdown(exc)}")
            return
        done = [f"- Removed {deletion.removed}."] + [f"- Kept: {k}." for k in deletion.kept]
        st.session_state[_DONE] = f"Deleted run {run_id}.\n" + plain_markdown_list(done)
        st.rerun()
