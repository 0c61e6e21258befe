"""The Data page's forms for uploaded datasets: upload a zip of clips with its manifest,
say where an upload is stored, and delete a dataset after listing what depends on it.
(Helpers of app_pages/data.py; they lay out and call fer_audit.data.uploads and
fer_audit.data.deletion.)"""

from __future__ import annotations

import streamlit as st

from app_pages.ui import plain_markdown

# paths in `code` are the workspace's own (names follow NAME_RULE): shown as they are,
# since Markdown escapes would show inside code; text from users goes through
# plain_markdown
from fer_audit.data.archive import LIMITS, MANIFEST
from fer_audit.data.deletion import dataset_dependents, delete_dataset
from fer_audit.data.index import first_problems
from fer_audit.data.uploads import is_uploaded, suggested_name, upload_dataset
from fer_audit.workspace import Busy, Workspace

#: errors whose message is written for people (DatasetError and DamagedFile are ValueErrors)
_USER_ERRORS = (ValueError, OSError, Busy)
_DONE = "_data_upload_done"  # the last upload's or deletion's message, shown once


def show_problems(exc: Exception) -> None:
    """The error's summary and its first problems, as plain text."""
    problems = getattr(exc, "problems", [])
    summary = getattr(exc, "summary", str(exc))
    lines = [plain_markdown(p) for p in first_problems(problems)]
    st.error(plain_markdown(summary) + "".join(f"\n- {line}" for line in lines))


def show_done() -> None:
    """The message the last upload or deletion left, once."""
    message = st.session_state.pop(_DONE, None)
    if message:
        st.success(message)


def upload_form(workspace: Workspace) -> None:
    """Upload a zip of videos and a manifest; stored in the workspace and registered."""
    limit_mb = st.get_option("server.maxUploadSize")
    st.caption(
        "Upload a zip of videos with a manifest CSV `path, subject, gender, emotion"
        "[, authenticity]` (paths relative to the zip's root), or a zip holding "
        f"`{MANIFEST}` at its root. The clips are **stored in the workspace** under "
        f"`{workspace.uploads_dir}/NAME` until you delete the dataset "
        f"(Datasets tab). At most {limit_mb} MB per upload, {LIMITS.describe()}; links, "
        "paths leaving the zip's folder and files that are not videos are refused."
    )
    round_ = st.session_state.setdefault("_data_upload_round", 0)  # new widgets after each
    archive = st.file_uploader("Zip of videos", type=["zip"], key=f"upload-zip-{round_}")
    manifest = st.file_uploader(
        f"Manifest CSV (leave empty when the zip holds {MANIFEST})",
        type=["csv"],
        key=f"upload-manifest-{round_}",
    )
    default = suggested_name(archive.name) if archive is not None else ""
    # keyed by the zip: another zip brings its own suggestion; what is typed stays
    name = st.text_input("Dataset name", value=default, key=f"upload-name-{round_}-{default}")
    if st.button("Upload and register", type="primary", disabled=archive is None):
        with st.spinner("Checking and unpacking the zip..."):
            try:
                upload = upload_dataset(
                    workspace,
                    archive,
                    name=name.strip(),
                    manifest=manifest,
                    archive_name=archive.name,
                )
            except _USER_ERRORS as exc:
                show_problems(exc)
                return
        meta = upload.dataset.meta
        skipped = len(upload.result.skipped)
        lines = [
            f"Registered {meta['name']}: {meta['n_videos']} videos of {meta['n_subjects']} "
            f"subjects" + (" (SYNTHETIC data)" if upload.dataset.synthetic else "") + ".",
            f"Stored in the workspace at {upload.stored_at} ({upload.files} files, "
            f"{upload.bytes / 2**20:.1f} MiB). To delete it: Datasets tab, choose "
            f"{meta['name']}, 'Delete this dataset' (or fer-audit datasets delete "
            f"{meta['name']}).",
            *([f"{skipped} manifest row(s) skipped: see the Datasets tab."] if skipped else []),
            *upload.notes,
        ]
        st.session_state[_DONE] = plain_markdown("\n\n".join(lines))
        st.session_state["_data_upload_round"] = round_ + 1  # drops the upload from memory
        st.rerun()


def stored_note(workspace: Workspace, meta: dict) -> None:
    """Where an uploaded dataset is stored, and how to delete it."""
    if not is_uploaded(workspace, meta):
        return
    upload = meta.get("upload", {})
    size = f" ({upload['files']} files, {upload['bytes'] / 2**20:.1f} MiB)" if upload else ""
    st.info(
        f"Uploaded{' from ' + plain_markdown(upload['archive']) if upload else ''}: "
        f"stored in the workspace at `{workspace.upload_dir(meta['name'])}`"
        f"{size}. 'Delete this dataset' below removes this copy and the registration."
    )


def delete_form(workspace: Workspace, meta: dict) -> None:
    """Delete dataset `meta`'s registration (and an upload's stored copy), after listing
    what is removed and what was made from it (kept)."""
    name = meta["name"]
    if not st.checkbox("Delete this dataset", key=f"delete-{name}"):
        return
    removes = f"This removes its registration `{workspace.dataset_dir(name)}`"
    if is_uploaded(workspace, meta):
        removes += f" and its stored copy `{workspace.upload_dir(name)}`."
    else:
        removes += f"; its folder `{meta['root']}` is left untouched."
    dependents = dataset_dependents(workspace, name)
    made = [plain_markdown(line) for line in dependents.lines()]
    st.warning(
        removes
        + "\n\nMade from it, kept (they can no longer be redone from this dataset):"
        + ("".join(f"\n- {line}" for line in made) if made else " nothing.")
    )
    if st.button(f"Delete {name} now", type="primary", disabled=bool(dependents.active_jobs)):
        try:
            deletion = delete_dataset(workspace, name)
        except _USER_ERRORS as exc:
            show_problems(exc)
            return
        lines = [f"Deleted {name}."] + [f"Removed {line}." for line in deletion.removed]
        lines += [f"Kept: {line}." for line in deletion.kept]
        st.session_state[_DONE] = plain_markdown("\n\n".join(lines))
        st.rerun()
