"""Deleting a dataset: what depends on it, and removing its registration and, for an
upload, its stored copy. Nothing outside the workspace is ever removed: a folder
dataset's own folder is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fer_audit import atomic
from fer_audit.data.index import DatasetError
from fer_audit.data.registry import list_datasets
from fer_audit.errors import DamagedFile
from fer_audit.trash import counted_lines, discard
from fer_audit.workspace import UnsafeName, Workspace


@dataclass(frozen=True)
class Dependents:
    """What in the workspace was made from a dataset (nothing of it is deleted)."""

    runs: list[str] = field(default_factory=list)  # run ids trained on it
    predictions: list[str] = field(default_factory=list)  # predictions tables (files)
    audits: list[str] = field(default_factory=list)  # audit folders
    preprocessing: list[str] = field(default_factory=list)  # preprocessing keys
    active_jobs: list[str] = field(default_factory=list)  # queued or running jobs on it
    unchecked: list[str] = field(default_factory=list)  # files that could not be read

    def lines(self) -> list[str]:
        """One line per kind of dependent, with how many there are and their names."""
        kinds = (
            ("run(s) trained on it", self.runs),
            ("predictions table(s) of it", self.predictions),
            ("audit(s) of those predictions", self.audits),
            ("preprocessing result(s) of it (under cache/)", self.preprocessing),
            ("job(s) queued or running on it", self.active_jobs),
            ("file(s) that could not be read, so not checked", self.unchecked),
        )
        return counted_lines(kinds)


def dataset_dependents(workspace: Workspace, name: str) -> Dependents:
    """The runs, predictions tables, audits, preprocessing results and active jobs of
    the workspace made from (or reading) dataset `name`."""
    reports = workspace.cache_dir / "reports" / workspace.dataset_dir(name).name  # name checked
    unchecked: list[str] = []
    runs = _runs_on(workspace, name, unchecked)
    predictions = predictions_of(workspace, name, set(runs), unchecked)
    audits = audits_of(workspace, name, predictions, unchecked)
    preprocessing = sorted(p.stem for p in reports.glob("*.csv")) if reports.is_dir() else []
    return Dependents(
        runs=runs,
        predictions=[Path(p).name for p in predictions],
        audits=audits,
        preprocessing=preprocessing,
        active_jobs=_active_jobs_on(workspace, name, unchecked),
        unchecked=unchecked,
    )


def _runs_on(workspace: Workspace, name: str, unchecked: list[str]) -> list[str]:
    from fer_audit.train.runs import list_runs

    damaged: list[DamagedFile] = []
    runs = [m["run_id"] for m in list_runs(workspace, damaged=damaged) if m.get("dataset") == name]
    unchecked += [str(exc.path) for exc in damaged]
    return runs


def predictions_of(
    workspace: Workspace, name: str | None, runs: set[str], unchecked: list[str]
) -> list[str]:
    """The workspace's predictions tables (resolved paths) with a row of dataset `name`
    or of one of `runs`; a table that cannot be read goes to `unchecked`."""
    import pyarrow.parquet as pq

    found = []
    folder = workspace.predictions_dir
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        try:
            columns = [c for c in ("dataset", "run_id") if c in pq.read_schema(path).names]
            table = pq.read_table(path, columns=columns)
        except (OSError, ValueError):  # pyarrow's errors are both
            unchecked.append(str(path))
            continue
        values = {c: set(map(str, table.column(c).to_pylist())) for c in columns}
        if name in values.get("dataset", ()) or runs & values.get("run_id", set()):
            found.append(str(path.resolve()))
    return found


def audits_of(
    workspace: Workspace, name: str | None, predictions: list[str], unchecked: list[str]
) -> list[str]:
    """The workspace's saved audits of dataset `name` or of one of `predictions`."""
    found = []
    folder = workspace.audits_dir
    for path in sorted(folder.glob("*/audit.json")) if folder.is_dir() else []:
        try:
            source = atomic.read_json(path).get("source") or {}
        except (DamagedFile, OSError):
            unchecked.append(str(path))
            continue
        if not isinstance(source, dict):
            continue
        if name in (source.get("datasets") or []) or source.get("path") in predictions:
            found.append(path.parent.name)
    return found


def _active_jobs_on(workspace: Workspace, name: str, unchecked: list[str]) -> list[str]:
    """Queued or running jobs whose command names dataset `name` (preprocess NAME,
    train --dataset NAME)."""
    from fer_audit.jobs import jobs_or_unchecked

    jobs = jobs_or_unchecked(workspace, unchecked)
    return [
        f"#{job.id} {job.title}" for job in jobs if job.active and _names_dataset(job.argv, name)
    ]


def _names_dataset(argv: list[str], name: str) -> bool:
    positional = len(argv) > 1 and argv[0] == "preprocess" and argv[1] == name
    flagged = any(a == "--dataset" and b == name for a, b in zip(argv, argv[1:], strict=False))
    return positional or flagged


@dataclass(frozen=True)
class Deletion:
    """What deleting a dataset removed, what it left, and what depended on it."""

    name: str
    removed: list[str]
    kept: list[str]
    dependents: Dependents


def delete_dataset(workspace: Workspace, name: str) -> Deletion:
    """Remove dataset `name`'s registration (`datasets/<name>/`: dataset.json, index,
    subject table, test split) and, for an upload, its stored copy (`uploads/<name>/`).
    A folder dataset's own folder, and everything made from the dataset (runs,
    predictions, audits, preprocessing), are kept and listed.

    DatasetError when the name is not allowed, no such dataset exists, or a job on it
    is queued or running. Each folder is first renamed out of place (so it disappears
    at once), then removed."""
    try:
        registration, stored = workspace.dataset_dir(name), workspace.upload_dir(name)
    except UnsafeName as exc:
        raise DatasetError(str(exc)) from None
    with workspace.lock(f"dataset-{name}"):
        if not registration.exists() and not stored.exists():
            known = ", ".join(m["name"] for m in list_datasets(workspace, damaged=[])) or "none"
            raise DatasetError(
                f"no dataset named {name!r} in {workspace.root} (registered: {known})"
            )
        dependents = dataset_dependents(workspace, name)
        if dependents.active_jobs:
            raise DatasetError(
                f"dataset {name!r} is in use: cancel these jobs first (Train page)",
                dependents.active_jobs,
            )
        source = _registered_folder(registration)
        removed = []
        for folder, what in ((registration, "registration"), (stored, "stored copy")):
            if folder.exists():
                discard(workspace, folder)
                removed.append(f"its {what} {folder}")
    kept = []
    if source and source != stored.resolve():
        kept.append(f"its folder {source} is left untouched (not a copy fer-audit stored)")
    kept += [f"{line} (kept)" for line in dependents.lines() if "could not be read" not in line]
    return Deletion(name, removed, kept, dependents)


def _registered_folder(registration: Path) -> Path | None:
    """The data folder a registration names (None when it cannot be read)."""
    try:
        root = atomic.read_json(registration / "dataset.json").get("root")
    except (DamagedFile, OSError):
        return None
    return Path(root).resolve() if isinstance(root, str) else None
