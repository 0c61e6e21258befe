"""Deleting a saved audit (its folder under `audits/`, report.html included) or a
predictions table (a file under `predictions/`): what depends on it, and removing it.

Only the workspace's own files are ever removed: a name (or a path) must name an entry
directly inside `audits/` or `predictions/`, and resolve there with its links
followed; anything else is refused and nothing is touched. What depends on what is
deleted (saved audits made from a table, studies that name it) is kept and listed; a
job queued or running that writes or reads it refuses the deletion. Like
`fer_audit.data.deletion` for datasets.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from fer_audit import atomic
from fer_audit.data.index import DatasetError
from fer_audit.errors import DamagedFile
from fer_audit.report.sources import SavedAudit, file_sha256, saved_audits
from fer_audit.trash import counted_lines, discard
from fer_audit.workspace import MAX_ID, UnsafeName, Workspace, contained

AUDIT, TABLE = "saved audit", "predictions table"


class DeletionRefused(DatasetError):
    """A saved audit or predictions table that cannot be deleted: not the workspace's,
    not there, or in use (`problems` names the jobs)."""


@dataclass(frozen=True)
class Removal:
    """What deleting a saved audit or a predictions table removes, what it keeps that
    depends on it, and what stops it (active jobs)."""

    what: str  # AUDIT or TABLE
    name: str  # the folder's or the file's name
    path: Path  # the folder or file removed (in the workspace)
    removes: list[str]
    kept: list[str]
    active_jobs: list[str] = field(default_factory=list)  # queued or running jobs on it
    unchecked: list[str] = field(default_factory=list)  # files that could not be read

    def notes(self) -> list[str]:
        """The jobs that stop it and the files that could not be read, one line each."""
        return counted_lines(
            [
                ("job(s) queued or running on it", self.active_jobs),
                ("file(s) that could not be read, so not checked", self.unchecked),
            ]
        )


# ------------------------------------------------------------------ names


def audit_folder(workspace: Workspace, name: str | os.PathLike) -> Path:
    """The folder of saved audit `name` (a name, or a path to a folder directly in
    `audits/`); DeletionRefused for anything else or a folder that is not there."""
    folder = _own_entry(workspace.audits_dir, name, what="audit", suffix="")
    if not folder.is_dir():
        known = ", ".join(a.folder.name for a in saved_audits(workspace, damaged=[])) or "none"
        raise DeletionRefused(
            f"no saved audit named {folder.name!r} in {workspace.audits_dir} (saved: {known})"
        )
    return folder


def table_file(workspace: Workspace, name: str | os.PathLike) -> Path:
    """The predictions table `name` (a name, `.parquet` added unless it ends with
    `.parquet` or `.csv`, or a path to a file directly in `predictions/`);
    DeletionRefused for anything else or a file that is not there."""
    text = os.fspath(name)
    suffix = "" if text.lower().endswith((".csv", ".parquet")) else ".parquet"
    path = _own_entry(workspace.predictions_dir, text, what="predictions", suffix=suffix)
    if not path.is_file():
        folder = workspace.predictions_dir
        there = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        raise DeletionRefused(
            f"no predictions table named {path.name!r} in {folder} "
            f"(tables: {', '.join(there) or 'none'})"
        )
    return path


def own_table(workspace: Workspace, folder: Path) -> Path | None:
    """The predictions table the saved audit in `folder` was made from when it is one of
    the workspace's own and still there (what can be deleted with the audit in view);
    None otherwise, and when its audit.json cannot be read."""
    try:
        table = SavedAudit(folder, atomic.read_json(folder / "audit.json")).table
    except (DamagedFile, OSError, AttributeError):  # AttributeError: not a JSON object
        return None
    own = table is not None and table.parent.resolve() == workspace.predictions_dir.resolve()
    return table if own and table.is_file() else None


def _own_entry(folder: Path, name: str | os.PathLike, *, what: str, suffix: str) -> Path:
    """`folder/<name>`, where `name` is a plain name or a path whose parent is `folder`;
    refused (DeletionRefused) unless it resolves inside `folder`, links followed."""
    text = os.fspath(name)
    if os.sep in text or (os.altsep and os.altsep in text):
        given = Path(os.path.abspath(Path(text).expanduser()))  # the leaf's link kept
        if given.parent.resolve() != folder.resolve():
            raise DeletionRefused(
                f"{text} is not in {folder}: only the workspace's own {what} files can be "
                "deleted; refused"
            )
        text = given.name
    try:
        return contained(folder, text, what=what, suffix=suffix, max_length=MAX_ID)
    except UnsafeName as exc:
        raise DeletionRefused(str(exc)) from None


# ------------------------------------------------------------------ what depends on it


def audit_removal(workspace: Workspace, name: str | os.PathLike) -> Removal:
    """What deleting saved audit `name` removes (its folder), keeps (its predictions
    table, the studies that name it) and what stops it (jobs writing or reading it)."""
    folder = audit_folder(workspace, name)
    unchecked: list[str] = []
    kept: list[str] = []
    if folder.is_symlink():  # what depends on it names the folder it points to, kept
        removes = [f"the link {folder} (the folder it points to, {folder.resolve()}, is kept)"]
    else:
        files = sum(len(names) for _, _, names in os.walk(folder))
        report = ", its HTML report report.html" if (folder / "report.html").exists() else ""
        removes = [
            f"its folder {folder} ({files} file(s): the audit's tables and settings{report})"
        ]
        kept += _table_kept(workspace, folder, unchecked)
        kept += _records_naming(workspace, "audit", folder, unchecked)
    jobs = _active_jobs_on(workspace, folder, unchecked)
    return Removal(AUDIT, folder.name, folder, removes, kept, jobs, unchecked)


def _table_kept(workspace: Workspace, folder: Path, unchecked: list[str]) -> list[str]:
    """The line about the predictions table the audit in `folder` was made from."""
    audits = _saved(workspace, unchecked)
    this = next((a for a in audits if a.folder == folder), None)
    if this is None or this.table is None or not this.table.is_file():
        return []  # damaged, of the published results, or its table gone
    others = {a.source.get("sha256") for a in audits if a.table and a.folder != folder}
    offered = file_sha256(this.table) not in others
    then = (
        "the Audit page offers it for a new audit" if offered else "other saved audits of it stay"
    )
    return [f"its predictions table {this.table} ({then})"]


def table_removal(workspace: Workspace, name: str | os.PathLike) -> Removal:
    """What deleting predictions table `name` removes (the file), keeps (the saved
    audits made from it, the studies that name it) and what stops it (jobs writing or
    reading it)."""
    path = table_file(workspace, name)
    unchecked: list[str] = []
    if path.is_symlink():  # audits record the file it points to, kept
        removes = [f"the link {path} (the file it points to, {path.resolve()}, is kept)"]
        kept = []
    else:
        removes = [f"its file {path} ({path.stat().st_size:,} bytes)"]
        kept = _table_dependents(workspace, path, unchecked)
    jobs = _active_jobs_on(workspace, path, unchecked)
    return Removal(TABLE, path.name, path, removes, kept, jobs, unchecked)


def _table_dependents(workspace: Workspace, path: Path, unchecked: list[str]) -> list[str]:
    """The saved audits made from table `path` and the studies naming it, a line each."""
    kept = []
    audits = _audits_of(workspace, path, unchecked)
    if audits:
        kept.append(
            f"{len(audits)} saved audit(s) made from it: {', '.join(audits)} (they open as "
            "saved, and say their predictions table is gone)"
        )
    return kept + _records_naming(workspace, "predictions", path, unchecked)


def _audits_of(workspace: Workspace, table: Path, unchecked: list[str]) -> list[str]:
    """The saved audits made from `table` (as it is now or earlier), SYNTHETIC marked."""
    target = table.resolve()
    return [
        _audit_name(a) for a in _saved(workspace, unchecked) if a.table and _same(a.table, target)
    ]


def _saved(workspace: Workspace, unchecked: list[str]) -> list[SavedAudit]:
    """The workspace's saved audits; the audit.json files that cannot be read go to
    `unchecked`."""
    damaged: list[DamagedFile] = []
    audits = saved_audits(workspace, damaged=damaged)
    unchecked += [str(exc.path) for exc in damaged]
    return audits


def _audit_name(audit: SavedAudit) -> str:
    return audit.folder.name + (" [SYNTHETIC]" if audit.settings.get("synthetic") else "")


def _records_naming(
    workspace: Workspace, output: str, path: Path, unchecked: list[str]
) -> list[str]:
    """A line for the study records, and one for the demo's record, that name `path` as
    their `output` ("audit", "predictions")."""
    from fer_audit.demo.build import MARKER, demo_record
    from fer_audit.study.chain import list_studies

    damaged: list[DamagedFile] = []
    studies = list_studies(workspace, damaged=damaged)
    unchecked += [str(exc.path) for exc in damaged]
    target = path.resolve()
    named = [str(s["name"]) for s in studies if _names(s["outputs"].get(output), target)]
    lines = [f"{len(named)} study record(s) naming it as their {output}: {', '.join(named)}"]
    try:
        demo = demo_record(workspace) or {}
    except DamagedFile as exc:
        unchecked.append(str(exc.path))
        demo = {}
    if isinstance(demo, dict) and _names(demo.get(output), target):
        lines.append(
            f"the demo's record {MARKER}, which names it as its {output} (make demo-reset "
            "builds the demo again)"
        )
    return lines if named else lines[1:]


def _names(recorded: object, target: Path) -> bool:
    """Whether a record's path `recorded` is `target` (resolved)."""
    return isinstance(recorded, str) and _same(Path(recorded), target)


def _active_jobs_on(workspace: Workspace, path: Path, unchecked: list[str]) -> list[str]:
    """Queued or running jobs whose command names `path` or a file inside it (an audit
    job's `--out FOLDER`, an evaluation's `--out TABLE`, an audit of TABLE, a report of
    FOLDER)."""
    from fer_audit.jobs import jobs_or_unchecked

    jobs = jobs_or_unchecked(workspace, unchecked)
    target = path.resolve()
    return [
        f"#{job.id} {job.title}"
        for job in jobs
        if job.active and any(_within(Path(arg), target) for arg in job.argv)
    ]


def _same(path: Path, target: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return path.resolve() == target
    return False


def _within(path: Path, target: Path) -> bool:
    """Whether `path` (relative ones from here, as jobs resolve them) is `target` or
    lies inside it."""
    with contextlib.suppress(OSError, ValueError):
        resolved = path.resolve()
        return resolved == target or target in resolved.parents
    return False


# ------------------------------------------------------------------ deleting


def delete_audit(workspace: Workspace, name: str | os.PathLike) -> Removal:
    """Remove saved audit `name`'s folder (tables, settings, report.html); its
    predictions table and the studies that name it are kept (and listed).

    DeletionRefused when `name` is not a saved audit of this workspace (a path outside
    `audits/`, a link that leaves it, a name like ../x) or a job writing or reading it
    is queued or running; nothing is touched then. audit.json goes first, so a folder
    whose removal stops half-way never reads as a saved audit."""
    folder = audit_folder(workspace, name)
    with workspace.lock(f"audit-{folder.name}"):
        removal = audit_removal(workspace, folder.name)
        _refuse_in_use(removal)
        if folder.is_symlink():
            folder.unlink()  # the link only: what it points to is kept
        else:
            (folder / "audit.json").unlink(missing_ok=True)
            discard(workspace, folder)
    return removal


def delete_table(workspace: Workspace, name: str | os.PathLike) -> Removal:
    """Remove predictions table `name`; the saved audits made from it and the studies
    that name it are kept (and listed).

    DeletionRefused when `name` is not a predictions table of this workspace (a path
    outside `predictions/`, a link that leaves it, a name like ../x) or a job writing or
    reading it is queued or running; nothing is touched then."""
    path = table_file(workspace, name)
    with workspace.lock(f"predictions-{path.name}"):
        removal = table_removal(workspace, path.name)
        _refuse_in_use(removal)
        path.unlink()
    return removal


def _refuse_in_use(removal: Removal) -> None:
    if removal.active_jobs:
        raise DeletionRefused(
            f"{removal.what} {removal.name!r} is in use: cancel these jobs first "
            "(Audit or Train page)",
            removal.active_jobs,
        )
