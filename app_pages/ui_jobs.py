"""The job list the pages share (through `ui.job_list`): running and queued jobs first,
then the finished ones, newest first, in pages of ten; an active job shown whole with
its progress, a finished one collapsed to one line (id, title, status, how long it
ran) that opens on its message, log and details. Cancel, resume and, where a page
allows it, delete a finished job after a confirmation that says what depends on it.
Deletion itself is `fer_audit.job_deletion`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from app_pages.ui import plain_markdown, plain_markdown_list
from fer_audit.errors import without_tracebacks
from fer_audit.job_deletion import delete_jobs, job_dependents, refusals
from fer_audit.job_table import Job, listing_order, page_count, page_label
from fer_audit.jobs import JobRegistry
from fer_audit.progress import duration

PAGE_SIZE = 10
STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/progress_activity:",
    "done": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
    "warned": ":material/warning:",
}
_DELETED = "_fer_audit_jobs_deleted"  # the last deletion's message, shown once
Details = Callable[[Job], None]


def _icon(job: Job) -> str:
    """A job's icon: its status's, or a warning for a job done with warnings."""
    return STATUS_ICONS["warned" if job.warned else job.status]


def paged_job_list(
    registry: JobRegistry,
    jobs: list[Job],
    *,
    log_lines: int = 30,
    details: Details | None = None,
    page_size: int = PAGE_SIZE,
    key: str = "jobs",
    deletable: bool = False,
) -> None:
    """One page of `jobs` (a page selector when there are more than `page_size`)."""
    message = st.session_state.pop(_DELETED, None)
    if message:
        st.success(message)
    if not jobs:
        st.caption("No jobs yet.")
        return
    for job in _page(listing_order(jobs), page_size, key):
        if job.active:
            _active_job(registry, job, log_lines, details)
        else:
            _finished_job(registry, job, log_lines, details, deletable)


def _page(jobs: list[Job], size: int, key: str) -> list[Job]:
    """The jobs of the page chosen (the first once the list's length changed)."""
    pages = page_count(len(jobs), size)
    if pages == 1:
        return jobs
    # never read the choice before the widget: once the list's length changes, its words
    # are no option, and Streamlit (the widget) puts it back on the first page
    page = st.selectbox(
        "Jobs shown",
        range(pages),
        format_func=lambda p: page_label(p, len(jobs), size),
        key=f"{key}-page",
        help="Running and queued jobs first, then the finished ones; newest first.",
    )
    return jobs[page * size : (page + 1) * size]


def _active_job(registry: JobRegistry, job: Job, log_lines: int, details: Details | None) -> None:
    """A queued or running job, whole: status, progress, message, cancel, details, log."""
    with st.container(border=True):
        head, actions = st.columns([5, 1])
        head.markdown(
            f"**#{job.id} {plain_markdown(job.title)}** · {job.outcome}",
            help=plain_markdown(job.command()),
        )
        waits = job.status == "queued" and job.after_id is not None
        note = f"starts once job #{job.after_id} is done" if waits else ""
        head.caption(plain_markdown(job.message or note))
        if job.status == "running":
            head.progress(job.progress, text=f"{job.progress:.0%}")
        if actions.button("Cancel", key=f"cancel-{job.id}", icon=":material/stop:"):
            registry.cancel(job.id)
            st.rerun()
        if details:
            details(job)
        _log(job, log_lines)


def finished_line(job: Job) -> str:
    """A finished job in one line: id, title, status, how long it ran."""
    took = job.seconds(time.time())
    ran = f"ran {duration(took)}" if took is not None else "never started"
    return f"#{job.id} {job.title} · {job.outcome} · {ran}"


def _finished_job(
    registry: JobRegistry, job: Job, log_lines: int, details: Details | None, deletable: bool
) -> None:
    """A finished job collapsed to one line; open: message, resume, delete, details, log."""
    with st.expander(plain_markdown(finished_line(job)), icon=_icon(job)):
        st.caption(plain_markdown(job.headline), help=plain_markdown(job.command()))
        if job.fix:  # a data problem: resuming as it stands would repeat it
            st.info(
                f"Resuming would repeat this. To fix: {plain_markdown(job.fix)}.",
                icon=":material/build:",
            )
        elif job.status != "done" and st.button(
            "Resume", key=f"resume-{job.id}", icon=":material/replay:"
        ):
            registry.resume(job.id)
            st.rerun()
        if deletable:
            delete_jobs_form(registry, [job.id], key=f"delete-job-{job.id}")
        if details:
            details(job)
        _log(job, log_lines)


def _log(job: Job, log_lines: int) -> None:
    with st.expander("Log", icon=_icon(job)):
        # tracebacks out of the whole log first: one may be longer than the tail
        shown = without_tracebacks(job.log_tail(None)).splitlines()[-log_lines:]
        st.code("\n".join(shown) or "(empty)", language=None)


def delete_jobs_form(registry: JobRegistry, job_ids: list[int], *, key: str) -> None:
    """A confirmation (what goes, what is kept and depends on the jobs), then a button
    that deletes the finished jobs of `job_ids` with their logs."""
    what = f"job #{job_ids[0]}" if len(job_ids) == 1 else f"all {len(job_ids)} finished jobs"
    if not st.checkbox(f"Delete {what}", key=key):
        return
    refused = refusals(registry, job_ids)
    going = [job_id for job_id in job_ids if job_id not in refused]
    lines = [f"- not deleted: {why}" for why in refused.values()]
    lines += [f"- kept: {line}" for line in job_dependents(registry, going)]
    st.warning(
        f"This removes {len(going)} job(s) from the list, with their logs under jobs/. "
        "The run folders they trained stay.\n\n" + plain_markdown_list(lines),
        icon=":material/delete:",
    )
    if st.button(
        f"Delete {len(going)} job(s) now", key=f"{key}-now", type="primary", disabled=not going
    ):
        deletion = delete_jobs(registry, going)
        st.session_state[_DELETED] = plain_markdown_list(
            [f"- {line[:1].upper()}{line[1:]}." for line in deletion.lines()]
        )
        st.session_state.pop(key, None)
        st.rerun()
