"""The Data page's data roots: the folders the dashboard may read clips from, added and
removed after a confirmation (fer_audit.data.roots keeps them in settings.json)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.ui import plain_markdown
from fer_audit.data.roots import RootRefused, add_data_root, managed_here, remove_data_root
from fer_audit.workspace import Busy, Workspace

_PENDING = "_data_root_pending"  # (action, folder) waiting for its confirmation


def data_roots_panel(workspace: Workspace, roots: list[Path]) -> None:
    """The roots, each removable, and a folder to add; every change confirmed first."""
    st.caption(
        "Datasets can be registered only from folders inside these data roots: "
        + ", ".join(f"`{root}`" for root in roots)
    )
    locked = managed_here()
    if locked:
        st.caption(plain_markdown(f"Set outside the dashboard: {locked}."))
        return
    with st.expander("Add or remove a data root", icon=":material/folder_open:"):
        folder = st.text_input(
            "Folder to add (a full path on the server)", key="data_root_new"
        ).strip()
        left, right = st.columns(2)
        if left.button("Add this folder", disabled=not folder):
            st.session_state[_PENDING] = ("add", folder)
        removable = [str(root) for root in roots]
        gone = right.selectbox("Data root to remove", removable, index=None)
        if right.button("Remove it", disabled=gone is None):
            st.session_state[_PENDING] = ("remove", gone)
        _confirm(workspace)


def _confirm(workspace: Workspace) -> None:
    pending = st.session_state.get(_PENDING)
    if pending is None:
        return
    action, folder = pending
    if action == "add":
        st.warning(
            f"Add `{plain_markdown(folder)}` as a data root? The dashboard may then read "
            "every folder and CSV inside it (hidden ones excepted) and register them as "
            "datasets; it never writes there."
        )
    else:
        st.warning(
            f"Remove `{plain_markdown(folder)}` from the data roots? Datasets already "
            "registered from it stay registered; new registrations from it are refused."
        )
    yes, no = st.columns(2)
    if no.button("Cancel", key="data_root_no"):
        del st.session_state[_PENDING]
        st.rerun()
    if yes.button(f"Yes, {action} it", type="primary", key="data_root_yes"):
        del st.session_state[_PENDING]
        try:
            if action == "add":
                added = add_data_root(workspace, folder)
                st.session_state["_data_root_done"] = f"Added {added} to the data roots."
            else:
                remove_data_root(workspace, folder)
                st.session_state["_data_root_done"] = f"Removed {folder} from the data roots."
        except (RootRefused, Busy, OSError) as exc:
            st.error(f"Nothing was changed: {plain_markdown(exc)}.")
            return
        st.rerun()


def data_root_done() -> None:
    """What the last change did, once."""
    message = st.session_state.pop("_data_root_done", None)
    if message:
        st.success(plain_markdown(message))
