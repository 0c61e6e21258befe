"""Datasets uploaded as a zip of videos plus a manifest CSV, stored in the workspace.

`upload_dataset` streams the zip (a file, or the dashboard's upload) and the manifest
(beside the zip, or `manifest.csv` inside it) into `uploads/.staging/<name>/`, checks
and unpacks the zip there (`fer_audit.data.archive`), moves the dataset's folder to
`uploads/<name>/` and registers it as a manifest dataset: the same checks as a folder
registration. The files are moved into place before the registration, which records
their folder, so a registration never names a folder that is not there; when anything
fails, what was staged, moved or registered is removed again. All of it runs under the
dataset's workspace lock, which also makes `.staging/<name>` this upload's alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fer_audit.data.archive import (
    LIMITS,
    MANIFEST,
    ArchiveError,
    ArchiveLimits,
    ArchivePlan,
    copy_capped,
    extract,
    open_archive,
    plan_extraction,
    video_content_problem,
)
from fer_audit.data.index import AdapterResult, DatasetError, read_csv_table
from fer_audit.data.manifest import REQUIRED
from fer_audit.data.registry import Dataset, register_dataset
from fer_audit.workspace import MAX_NAME, UnsafeName, Workspace

#: the staging folder of uploads in progress, inside the uploads folder
STAGING = ".staging"
#: room left free on the workspace's disk beyond what an upload unpacks
FREE_MARGIN_BYTES = 100 << 20


@dataclass(frozen=True)
class Upload:
    """An uploaded dataset: its registration, what the manifest reading skipped, where
    its files are stored, and notes (entries left out, videos the manifest omits)."""

    dataset: Dataset
    result: AdapterResult
    stored_at: Path
    files: int
    bytes: int
    notes: list[str] = field(default_factory=list)


def upload_dataset(
    workspace: Workspace,
    archive: str | os.PathLike | BinaryIO,
    *,
    name: str,
    manifest: str | os.PathLike | BinaryIO | None = None,
    archive_name: str | None = None,
    limits: ArchiveLimits = LIMITS,
) -> Upload:
    """Store the videos of zip `archive` (a path, or a binary file such as Streamlit's
    UploadedFile, read in chunks) in the workspace and register them as dataset `name`,
    labelled by `manifest` (a CSV beside the zip) or by the zip's own manifest.csv.

    DatasetError (an ArchiveError for a refused zip, naming each offending entry) when
    the name is taken or not allowed, or the zip or manifest is refused; the
    workspace is then as it was."""
    shown = archive_name or (Path(archive).name if _is_path(archive) else "the upload")
    registration, stored = _checked_folders(workspace, name)
    with workspace.lock(f"dataset-{name}"):
        _check_free_name(registration, name)  # again under the lock
        staging = workspace.uploads_dir / STAGING / name
        _remove(staging)  # an upload of this name killed midway
        _remove(stored)  # the same, killed between the move and its registration
        try:
            plan, files, written = _stage(staging, archive, manifest, limits, shown)
            os.rename(staging / "data" / plan.root, stored)
        finally:
            _remove(staging)
            _remove_if_empty(staging.parent, workspace.uploads_dir)
        extra = {"upload": {"archive": shown, "files": files, "bytes": written}}
        try:
            dataset, result = register_dataset(
                workspace, name, stored / MANIFEST, kind="manifest", extra=extra
            )
        except BaseException:
            _remove(stored)
            _remove(registration)  # free of a registration (checked): what it wrote
            _remove_if_empty(workspace.uploads_dir, workspace.datasets_dir)
            raise
    return Upload(dataset, result, stored, files, written, _notes(plan, dataset))


def suggested_name(filename: str) -> str:
    """A dataset name from an upload's file name: its stem, each run of characters that
    names may not hold replaced by '-', trimmed to a letter or digit at the start and
    MAX_NAME characters ("my clips (2).zip" -> "my-clips-2")."""
    plain = re.sub(r"[^A-Za-z0-9_.+-]+", "-", Path(filename).stem)
    return re.sub(r"^[^A-Za-z0-9]+", "", plain)[:MAX_NAME].rstrip("-.")


def _is_path(value: object) -> bool:
    return isinstance(value, str | os.PathLike)


def _checked_folders(workspace: Workspace, name: str) -> tuple[Path, Path]:
    """The registration folder and the stored copy of `name`, both inside the
    workspace; DatasetError when the name is not allowed or already registered."""
    try:
        registration, stored = workspace.dataset_dir(name), workspace.upload_dir(name)
    except UnsafeName as exc:
        raise DatasetError(str(exc)) from None
    _check_free_name(registration, name)
    return registration, stored


def _check_free_name(registration: Path, name: str) -> None:
    if registration.exists():
        raise DatasetError(
            f"dataset {name!r} is already registered: choose another name, or delete it "
            f"first (fer-audit datasets delete {name}, or the Data page)"
        )


def _stage(
    staging: Path,
    archive: str | os.PathLike | BinaryIO,
    manifest: str | os.PathLike | BinaryIO | None,
    limits: ArchiveLimits,
    shown: str,
) -> tuple[ArchivePlan, int, int]:
    """Unpack and check the upload under `staging`; its plan, and the files and bytes
    it stores (the manifest given beside the zip included)."""
    staging.mkdir(parents=True)
    zip_path = _archive_file(archive, staging / "upload.zip", limits, shown)
    with open_archive(zip_path, limits, shown=shown) as opened:
        plan = _plan(opened, limits, manifest is not None, shown, staging)
        written = extract(opened, plan, staging / "data", limits)
    root = staging / "data" / plan.root
    if manifest is not None:
        with _opened(manifest) as source, open(root / MANIFEST, "xb") as out:
            written += copy_capped(source, out, limits.max_manifest_bytes, what="the manifest")
    _check_manifest_paths(root / MANIFEST)
    problems = [
        f"{video!r}: {problem}"
        for video in plan.videos()
        if (problem := video_content_problem(root / video))
    ]
    if problems:
        raise ArchiveError(f"{shown} is refused: {len(problems)} file(s) not video", problems)
    return plan, len(plan.members) + (manifest is not None), written


def _plan(
    opened: zipfile.ZipFile, limits: ArchiveLimits, manifest_given: bool, shown: str, staging: Path
) -> ArchivePlan:
    """The zip's checked plan, refused when the disk has no room for what it unpacks."""
    plan = plan_extraction(opened, limits, manifest_given=manifest_given, shown=shown)
    free = shutil.disk_usage(staging).free
    if plan.total_bytes + FREE_MARGIN_BYTES > free:
        raise ArchiveError(
            f"{shown} unpacks to {plan.total_bytes:,} bytes; the workspace's disk has "
            f"{free:,} free: make room first"
        )
    return plan


def _archive_file(
    archive: str | os.PathLike | BinaryIO, copy: Path, limits: ArchiveLimits, shown: str
) -> Path:
    """The zip as a file: a path as it is (its size checked), an upload copied to
    `copy` in chunks, up to the cap."""
    if _is_path(archive):
        path = Path(archive)
        if not path.is_file():
            raise ArchiveError(f"{shown} is not a file")
        if path.stat().st_size > limits.max_archive_bytes:
            raise ArchiveError(
                f"{shown} is refused: {path.stat().st_size:,} bytes, over the "
                f"{limits.max_archive_bytes:,} allowed"
            )
        return path
    with _opened(archive) as source, open(copy, "xb") as out:
        copy_capped(source, out, limits.max_archive_bytes, what=shown)
    return copy


@contextlib.contextmanager
def _opened(source: str | os.PathLike | BinaryIO):
    """A path opened for reading, or a binary file from its start (left open)."""
    if _is_path(source):
        if not Path(source).is_file():
            raise DatasetError(f"{source} is not a file")
        with open(source, "rb") as fh:
            yield fh
    else:
        source.seek(0)
        yield source


def _check_manifest_paths(manifest: Path) -> None:
    """DatasetError listing the manifest's rows whose path leaves the dataset's folder:
    an uploaded dataset holds its own files only."""
    frame = read_csv_table(manifest, what="manifest", required=REQUIRED)
    root = manifest.parent.resolve()
    outside = [
        f"row {number}: {path!r}"
        for number, path in enumerate(frame["path"].str.strip(), start=2)
        if path and root not in (root / path).resolve().parents
    ]
    if outside:
        raise DatasetError(
            f"the manifest names {len(outside)} file(s) outside the zip; give paths "
            "relative to the zip's root",
            outside,
        )


def _notes(plan: ArchivePlan, dataset: Dataset) -> list[str]:
    notes = []
    if plan.left_out:
        notes.append(
            f"{len(plan.left_out)} hidden or archiver entries (such as __MACOSX/ or "
            ".DS_Store) were left out"
        )
    indexed = set(dataset.index["path"])
    unlisted = [video for video in plan.videos() if video not in indexed]
    if unlisted:
        shown = ", ".join(unlisted[:10]) + (" ..." if len(unlisted) > 10 else "")
        notes.append(
            f"{len(unlisted)} of the zip's {len(plan.videos())} videos are not in the "
            f"manifest, so not in the dataset: {shown}"
        )
    return notes


def _remove(path: Path) -> None:
    """Remove a folder (or file) of this upload's; links are removed, never followed."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _remove_if_empty(*folders: Path) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def is_uploaded(workspace: Workspace, meta: dict) -> bool:
    """Whether the dataset of registration `meta` is an upload stored in the workspace."""
    try:
        return "upload" in meta or workspace.upload_dir(meta["name"]).exists()
    except UnsafeName:  # a folder put in datasets/ by hand
        return False
