"""Deleting the saved audit a page shows, or a predictions table, after a confirmation
that lists what is removed and what depends on it (kept). (Helpers of the Audit and
Reports pages; they lay out and call fer_audit.report.housekeeping.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from app_pages.ui import plain_markdown, plain_markdown_list
from fer_audit.report.housekeeping import (
    AUDIT,
    TABLE,
    Removal,
    audit_removal,
    delete_audit,
    delete_table,
    own_table,
    table_removal,
)
from fer_audit.report.sources import PREDICTIONS, SAVED, AuditSource
from fer_audit.workspace import Busy, Workspace

#: errors whose message is written for people (DeletionRefused is a ValueError)
_USER_ERRORS = (ValueError, OSError, Busy)
_DONE = "_housekeeping_done"  # what the last deletion removed, shown once


def show_deleted() -> None:
    """What the last deletion removed and kept, once (call above the source selector)."""
    message = st.session_state.pop(_DONE, None)
    if message:
        st.success(message, icon=":material/delete:")


def deletion_panel(workspace: Workspace, source: AuditSource) -> None:
    """For a saved audit: delete it, or the predictions table it was made from while
    that is there in the workspace; for a predictions table not audited yet: delete it
    (also when either cannot be read). Nothing for the published results."""
    if source.kind == SAVED:
        table = own_table(workspace, Path(source.path))
        title = "Delete this saved audit" + (" or its predictions table" if table else "")
        with st.expander(title, icon=":material/delete:"):
            _confirmed_deletion(workspace, source.path, audit_removal, delete_audit, what=AUDIT)
            if table:
                _confirmed_deletion(workspace, str(table), table_removal, delete_table, what=TABLE)
    elif source.kind == PREDICTIONS:
        with st.expander("Delete this predictions table", icon=":material/delete:"):
            _confirmed_deletion(workspace, source.path, table_removal, delete_table, what=TABLE)


def _confirmed_deletion(
    workspace: Workspace,
    path: str,
    plan: Callable[[Workspace, str], Removal],
    delete: Callable[[Workspace, str], Removal],
    *,
    what: str,
) -> None:
    """A "Delete this <what>" checkbox, then what is removed and what depends on it,
    then the button (disabled while a job writes or reads it)."""
    key = f"housekeeping:{what}:{path}"
    if not st.checkbox(f"Delete this {what}", key=key):
        return
    try:
        planned = plan(workspace, path)
    except _USER_ERRORS as exc:
        st.error(f"It cannot be deleted: {plain_markdown(exc)}")
        return
    kept = ["Kept:", *[f"- {line}" for line in planned.kept]] if planned.kept else []
    st.warning(
        plain_markdown_list(
            [f"This removes {line}." for line in planned.removes]
            + ["", *(kept or ["Nothing else in the workspace depends on it."])]
            + ["", *planned.notes()]
        ),
        icon=":material/warning:",
    )
    if not st.button(
        f"Delete {planned.name} now",
        type="primary",
        key=f"{key}:button",
        disabled=bool(planned.active_jobs),
        help="Cancel the jobs on it first" if planned.active_jobs else None,
    ):
        return
    try:
        removal = delete(workspace, path)
    except _USER_ERRORS as exc:
        st.error(f"Nothing was deleted: {plain_markdown(exc)}")
        return
    st.session_state.pop(key, None)
    done = [f"Deleted the {removal.what} {removal.name}."]
    done += [f"Removed {line}." for line in removal.removes]
    done += [f"Kept: {line}." for line in removal.kept]
    st.session_state[_DONE] = plain_markdown("\n\n".join(done))
    st.rerun()
