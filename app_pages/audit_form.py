"""The Audit page's "New audit" form and its jobs: a predictions table (or the published
results) audited by `fer-audit audit` as a background job, the same command as on a
cluster; the page opens the saved audit when the job ends."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.ui import job_list, page_guard, plain_markdown
from fer_audit.commands import audit_argv
from fer_audit.fairness.settings import (
    CORRECTIONS,
    FAMILIES,
    MAX_RESAMPLES,
    REFERENCES,
    AuditSettings,
)
from fer_audit.jobs import JobRegistry
from fer_audit.labels import SCHEMES
from fer_audit.report.sources import (
    CORRECTION_WORDS,
    FAMILY_WORDS,
    PREDICTIONS,
    SAVED,
    AuditSource,
    default_audit_name,
    predictions_tables,
    saved_audits,
)
from fer_audit.seeding import MAX_SEED
from fer_audit.workspace import UnsafeName, Workspace

PUBLISHED = "the published results (Domnich & Anbarjafari 2021)"
#: the audit folder a job of this session writes, opened when the job ends
_OPENING = "audit_form_opening"


def new_audit_form(
    workspace: Workspace, registry: JobRegistry | None, *, table: Path | None = None
) -> None:
    """Settings for `fer-audit audit` of a predictions table (`table` first) or of the
    published results; queues the job."""
    tables = predictions_tables(workspace)
    choices: list[Path | None] = [*tables, None]
    if table is not None and table in choices:
        choices.remove(table)
        choices.insert(0, table)
    with st.form("new_audit"):
        picked = st.selectbox(
            "Audit",
            range(len(choices)),
            format_func=lambda i: choices[i].name if choices[i] else PUBLISHED,
        )
        left, middle, right = st.columns(3)
        bootstrap = left.number_input(
            "Bootstrap resamples", 100, MAX_RESAMPLES, AuditSettings().bootstrap, 500
        )
        permutations = middle.number_input(
            "Permutations (0: as many as resamples)", 0, MAX_RESAMPLES, 0, 500
        )
        seed = right.number_input("Seed", 0, MAX_SEED, 0)
        correction = left.selectbox(
            "Correction for many tests", CORRECTIONS, format_func=CORRECTION_WORDS.get
        )
        family = middle.selectbox("Corrected over", FAMILIES, format_func=FAMILY_WORDS.get)
        scheme = right.selectbox("Label scheme", list(SCHEMES))
        group = left.text_input(
            "Group column(s)", "gender", help="comma-separated for intersectional groups"
        )
        groups = middle.text_input(
            "Groups compared (optional)", "", help="comma-separated: the first minus the second"
        )
        name = right.text_input("Audit folder name (empty: from the table and settings)", "")
        st.caption(
            "The published results hold counts only: their groups, label scheme and "
            "permutations are the paper's; resamples and correction apply."
        )
        if not st.form_submit_button("Queue the audit", type="primary"):
            return
    settings = AuditSettings(
        bootstrap=int(bootstrap),
        permutations=int(permutations) or None,
        seed=int(seed),
        group=group.strip() or "gender",
        groups=groups.strip() or None,
        scheme=scheme,
        correction=correction,
        family=family,
    )
    _queue(workspace, registry, choices[picked], settings, name.strip())


def _queue(
    workspace: Workspace,
    registry: JobRegistry | None,
    table: Path | None,
    settings: AuditSettings,
    name: str,
) -> None:
    name = name or default_audit_name(table, settings)
    try:
        folder = workspace.audit_dir(name)
    except UnsafeName as exc:
        st.error(f"Nothing was queued: {plain_markdown(exc)}.")
        return
    if folder.exists():
        st.error(
            f"Nothing was queued: an audit named {plain_markdown(name)} exists already "
            f"({folder}). Choose another name, or open it as a source above."
        )
        return
    if registry is None:
        st.error("Nothing was queued: the job registry is damaged (see above).")
        return
    if table is not None:
        argv = audit_argv(settings, out=folder, predictions=table)
    else:
        argv = audit_argv(settings, out=folder, reference=REFERENCES[0])
    made_from = table.name if table else "the published results"
    registry.submit(argv, title=f"audit {made_from} into audits/{name}")
    st.session_state[_OPENING] = str(folder)
    st.success(
        f"Queued the audit of {plain_markdown(made_from)} into {folder}: it opens here "
        "when the job ends."
    )


def audit_jobs(registry: JobRegistry | None) -> None:
    """The audit jobs (newest five), followed live while one is queued or running; the
    page runs again when they end (`open_finished` then opens this session's audit)."""
    if registry is None:
        return
    jobs = [job for job in registry.refresh() if job.kind == "audit"]
    if not jobs:
        return
    active = any(job.active for job in jobs)

    @st.fragment(run_every=2 if active else None)
    @page_guard()
    def panel() -> None:
        current = [job for job in registry.refresh() if job.kind == "audit"]
        job_list(registry, current, log_lines=12, key="audit-jobs")  # in pages of ten
        if active and not any(job.active for job in current):
            st.rerun(scope="app")

    with st.expander("Audit jobs", expanded=active, icon=":material/pending_actions:"):
        panel()


def open_finished(workspace: Workspace) -> None:
    """Once the audit this session queued is saved, choose it as the page's source
    (call before the source selector)."""
    folder = st.session_state.get(_OPENING)
    if folder is None:
        return
    for saved in saved_audits(workspace, damaged=[]):
        if str(saved.folder) == folder:
            st.session_state["audit_source"] = AuditSource(saved.label, SAVED, folder)
            del st.session_state[_OPENING]


def offer_audit(workspace: Workspace, registry: JobRegistry | None):
    """What the source selector calls for a predictions table without a saved audit:
    the form to audit it, and its jobs."""

    def offer(source: AuditSource) -> None:
        assert source.kind == PREDICTIONS
        new_audit_form(workspace, registry, table=Path(source.path))
        audit_jobs(registry)

    return offer
