"""The Study page's progress view: one study as one progress (steps done out of total,
the ETA from finished steps, the current step's own bar and curves), with Cancel,
Resume, and its audit and report once it is done."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.study_form import OPEN
from app_pages.ui import page_guard, plain_markdown, run_curves
from fer_audit.errors import DamagedFile, without_tracebacks
from fer_audit.jobs import JobRegistry
from fer_audit.progress import duration, step_text
from fer_audit.report.sources import SAVED, AuditSource, saved_audits
from fer_audit.study.chain import cancel_study, read_study, resume_study
from fer_audit.study.progress import StudyProgress, eta_words, study_progress
from fer_audit.workspace import Workspace

POLL_S = 3.0
STOPPED_POLL_S = 10.0


def study_view(workspace: Workspace, registry: JobRegistry, records: list[dict]) -> None:
    """Choose one of the studies (`records`, newest first) and follow it."""
    names = [record["name"] for record in records]
    if st.session_state.get(OPEN) not in names:
        st.session_state[OPEN] = names[0]
    name = st.selectbox("Study", names, key=OPEN)
    first = _read(workspace, registry, name)
    if first is None:
        return

    # a stopped study may be resumed elsewhere (the command line, the Train page)
    every = None if first.status == "done" else POLL_S if first.active else STOPPED_POLL_S

    @st.fragment(run_every=every)
    @page_guard()
    def live() -> None:
        registry.refresh()
        progress = _read(workspace, registry, name)
        if progress is None:
            return
        _show(workspace, registry, progress)
        if progress.status != first.status:  # e.g. it ended: the page polls as it needs
            st.rerun(scope="app")

    live()


def _read(workspace: Workspace, registry: JobRegistry, name: str) -> StudyProgress | None:
    """The study's progress, or None (and why) when its record is gone or damaged."""
    try:
        return study_progress(registry, read_study(workspace, name))
    except (FileNotFoundError, DamagedFile) as exc:
        st.error(plain_markdown(exc), icon=":material/broken_image:")
        return None


def _show(workspace: Workspace, registry: JobRegistry, progress: StudyProgress) -> None:
    record, total = progress.record, len(progress.steps)
    synthetic = " · SYNTHETIC" if progress.synthetic else ""
    st.markdown(
        f"**{plain_markdown(progress.name)}** on {plain_markdown(record['dataset'])}{synthetic}"
        f" · created {record.get('created_at', '?')} · {progress.status}",
    )
    st.progress(
        progress.done / total,
        text=f"{progress.done} of {total} steps done{eta_words(progress)}",
    )
    _actions(workspace, registry, progress)
    current = progress.current
    if current is not None:
        step = progress.steps[current]
        if step.status in ("failed", "cancelled"):
            _stopped(registry, progress, current)
        else:
            st.progress(step.fraction, text=f"Step {current + 1} of {total}: {step_text(step)}")
        run_id = progress.run_ids[current]
        if progress.kinds[current] == "train" and run_id and step.status == "running":
            run_curves(workspace, run_id, key=f"study-curve-{progress.name}")
    else:
        _finished(workspace, progress)
    with st.expander("Every step"):
        st.dataframe(_steps_table(progress), hide_index=True)


def _actions(workspace: Workspace, registry: JobRegistry, progress: StudyProgress) -> None:
    left, _ = st.columns(2)
    if progress.status in ("running", "queued"):
        if left.button("Cancel the study", icon=":material/stop:", key="study-cancel"):
            count = cancel_study(workspace, registry, progress.name)
            st.toast(f"Cancelled {count} step(s); Resume goes on from the first not done.")
            st.rerun(scope="app")
    elif progress.status in ("failed", "cancelled", "incomplete") and left.button(
        "Resume the study", icon=":material/replay:", key="study-resume"
    ):
        count = resume_study(workspace, registry, progress.name)
        st.toast(f"Queued {count} step(s) again; finished steps are kept.")
        st.rerun(scope="app")


def _stopped(registry: JobRegistry, progress: StudyProgress, index: int) -> None:
    step = progress.steps[index]
    job = registry.get(step.job_id) if step.job_id is not None else None
    how = "failed" if step.status == "failed" else "was cancelled"
    message = job.headline if job else step.message
    why = f": {plain_markdown(message)}" if message else ""
    fix = job.fix if job else None
    again = (
        "Resume would only repeat it: fix the data first (a study keeps its preprocessing: "
        "another one needs a new study), then Resume runs it again"
        if fix
        else "Resume runs it again"
    )
    st.error(
        f"The study stopped at step {index + 1} ({plain_markdown(step.name)}), which {how}"
        f"{why}. The steps after it were not started; {again} and goes on "
        "(a training goes on from its last epoch).",
        icon=":material/error:",
    )
    if fix:
        st.info(f"To fix: {plain_markdown(fix)}.", icon=":material/build:")
    if job is not None:
        with st.expander(f"Log of job #{step.job_id}"):
            st.code(without_tracebacks(job.log_tail(30)) or "(empty)", language=None)


def _finished(workspace: Workspace, progress: StudyProgress) -> None:
    made = progress.record["outputs"]
    st.success(
        f"Done in {duration(sum(step.elapsed_s or 0 for step in progress.steps))} of job "
        f"time. Predictions: {made['predictions']}; audit: {made['audit']}.",
        icon=":material/check_circle:",
    )
    try:
        saved = {str(a.folder): a for a in saved_audits(workspace)}
    except DamagedFile as exc:
        st.error(str(exc))
        return
    audit = saved.get(made["audit"])
    if audit is None:
        st.warning(f"Its audit folder {made['audit']} is gone or cannot be read.")
        return
    source = AuditSource(audit.label, SAVED, str(audit.folder))
    left, right = st.columns(2)
    if left.button("Open its audit", icon=":material/balance:", key="study-open-audit"):
        st.session_state["audit_source"] = source
        st.switch_page("app_pages/audit.py")
    report = Path(made["report"])
    if report.is_file():
        right.download_button(
            "Download its report (HTML)",
            report.read_bytes(),
            file_name=f"{progress.name}-report.html",
            mime="text/html",
            key="study-report",
        )


def _steps_table(progress: StudyProgress) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "step": [step.name for step in progress.steps],
            "state": [step.status for step in progress.steps],
            "time": [duration(step.elapsed_s) if step.elapsed_s else "" for step in progress.steps],
            "job": [f"#{step.job_id}" if step.job_id else "" for step in progress.steps],
            "note": [step.message for step in progress.steps],
        }
    )
