"""Registered datasets in a workspace: `datasets/<name>/dataset.json` and `index.csv`.

`dataset.json` records where the data lives, which adapter read it, the subject
table, what was skipped, whether it is synthetic, and the SHA-256 of `index.csv`
(written first), so a reader never pairs an index with another registration.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from fer_audit import atomic
from fer_audit.data.cremad import read_cremad
from fer_audit.data.index import (
    SYNTHETIC_MARKER,
    AdapterResult,
    DatasetError,
    read_index,
    subjects_table,
)
from fer_audit.data.manifest import read_manifest
from fer_audit.data.ravdess import read_ravdess
from fer_audit.data.sasefe import read_sasefe
from fer_audit.data.splits import (
    DamagedDatasetFile,
    HeldOutSplit,
    draw_test_split,
    load_split,
    save_split,
    split_path,
)
from fer_audit.data.subjects import check_allowed_genders, table_from_pairs
from fer_audit.errors import DamagedFile, read_all
from fer_audit.version import code_version
from fer_audit.workspace import Busy, UnsafeName, Workspace

KINDS: tuple[str, ...] = ("sasefe", "ravdess", "cremad", "manifest")


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: its registration record and its index."""

    meta: dict
    index: pd.DataFrame

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def root(self) -> Path:
        return Path(self.meta["root"])

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic"))

    def subjects(self) -> pd.DataFrame:
        return subjects_table(self.index)

    def video_path(self, relative: str) -> Path:
        return self.root / relative


def read_folder(
    path: str | Path,
    *,
    kind: str,
    name: str,
    subjects: str | Path | None = None,
    allowed_genders: Collection[str] | None = None,
) -> AdapterResult:
    """Run the adapter of `kind` on `path` (for `manifest`, the CSV file)."""
    readers: dict[str, Callable[[], AdapterResult]] = {
        "sasefe": lambda: read_sasefe(
            path, subjects=subjects, dataset=name, allowed_genders=allowed_genders
        ),
        "ravdess": lambda: read_ravdess(path, dataset=name),
        "cremad": lambda: read_cremad(path, demographics=subjects, dataset=name),
        "manifest": lambda: read_manifest(path, dataset=name),
    }
    if kind not in readers:
        raise DatasetError(f"unknown dataset kind {kind!r}; choose one of {', '.join(KINDS)}")
    if subjects is not None and kind in ("ravdess", "manifest"):
        raise DatasetError(f"--subjects does not apply to {kind}: its genders come from the data")
    result = readers[kind]()
    if allowed_genders:
        check_allowed_genders(result.index, allowed_genders)
    return result


def register_dataset(
    workspace: Workspace,
    name: str,
    path: str | Path,
    *,
    kind: str,
    subjects: str | Path | None = None,
    allowed_genders: Collection[str] | None = None,
    replace: bool = False,
    subject_rows: Iterable[tuple[object, object]] | None = None,
    subject_source: str = "filled in on the page",
    extra: dict | None = None,
) -> tuple[Dataset, AdapterResult]:
    """Read `path` with the adapter of `kind` and record it in the workspace as `name`.

    The subject table is a file (`subjects`) or, from the dashboard, (subject, gender)
    rows (`subject_rows`, from `subject_source`: the file the user gave, as messages
    name it), validated and kept as the dataset's `subjects.csv`.
    `extra` fields are added to dataset.json (an upload records itself there).
    Nothing is written when reading fails (DatasetError) or `name` exists and
    `replace` is false.
    """
    check_can_register(workspace, name, replace=replace)
    with workspace.lock(f"dataset-{name}"):
        # checked again under the lock: another process may have registered it meanwhile
        check_can_register(workspace, name, replace=replace)
        return _register(
            workspace,
            name,
            path,
            kind=kind,
            subjects=subjects,
            allowed_genders=allowed_genders,
            subject_rows=subject_rows,
            subject_source=subject_source,
            extra=extra or {},
        )


def _register(
    workspace: Workspace,
    name: str,
    path: str | Path,
    *,
    kind: str,
    subjects: str | Path | None,
    allowed_genders: Collection[str] | None,
    subject_rows: Iterable[tuple[object, object]] | None,
    subject_source: str,
    extra: dict,
) -> tuple[Dataset, AdapterResult]:
    folder = workspace.dataset_dir(name)
    with tempfile.TemporaryDirectory() as staging:
        table_bytes = None
        if subject_rows is not None:
            if subjects is not None:
                raise DatasetError("give a subject table file or subject rows, not both")
            table = table_from_pairs(subject_rows, source=subject_source)
            text = io.StringIO()
            csv.writer(text).writerows([("subject", "gender"), *table.items()])
            table_bytes = text.getvalue().encode()
            subjects = Path(staging) / "subjects.csv"
            subjects.write_bytes(table_bytes)
        result = read_folder(
            path, kind=kind, name=name, subjects=subjects, allowed_genders=allowed_genders
        )
    if table_bytes is not None:
        subjects = folder / "subjects.csv"
        atomic.write_bytes(subjects, table_bytes)
    root = Path(path).resolve()
    root = root.parent if kind == "manifest" else root
    index_bytes = _csv_bytes(result.index)
    meta = {
        "name": name,
        "kind": kind,
        "root": str(root),
        "source": str(Path(path).resolve()),
        "subjects_file": str(Path(subjects).resolve()) if subjects else None,
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "n_videos": len(result.index),
        "n_subjects": int(result.index["subject"].nunique()),
        "subjects_per_gender": _subjects_per_gender(result.index),
        "videos_per_emotion": result.index["emotion"].value_counts().sort_index().to_dict(),
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "notes": result.notes,
        "index_sha256": hashlib.sha256(index_bytes).hexdigest(),
        "fingerprint": data_fingerprint(result.index, root),
        **_synthetic_fields(root),
        **extra,
    }
    atomic.write_bytes(folder / "index.csv", index_bytes)
    atomic.write_json(folder / "dataset.json", meta)
    _drop_stale_split(folder, meta["fingerprint"], result)
    return Dataset(meta, result.index), result


def _drop_stale_split(folder: Path, fingerprint: str, result: AdapterResult) -> None:
    """A test split drawn on other data would put subjects on the wrong side: remove it."""
    path = split_path(folder)
    if not path.exists():
        return
    try:
        stale = load_split(folder).data_fingerprint != fingerprint
    except DatasetError:
        stale = True
    if stale:
        path.unlink()
        result.notes.append(
            "the data changed, so its old test split was removed; draw a new "
            "one (fer-audit datasets split)"
        )


def check_can_register(workspace: Workspace, name: str, *, replace: bool = False) -> None:
    """DatasetError unless `name` is a valid name, free or allowed to be replaced."""
    try:
        folder = workspace.dataset_dir(name)
    except UnsafeName as exc:
        raise DatasetError(str(exc)) from None
    if (folder / "dataset.json").exists() and not replace:
        raise DatasetError(f"dataset {name!r} is already registered (use --replace to redo it)")


#: fields of dataset.json that readers rely on; a record without one is damaged
META_FIELDS = ("name", "kind", "root", "n_videos", "n_subjects", "subjects_per_gender")


def load_dataset(workspace: Workspace, name: str) -> Dataset:
    """Dataset `name`: DatasetError when none is registered under it, DamagedDatasetFile
    (a DatasetError too) naming dataset.json or index.csv when either cannot be read."""
    folder = workspace.dataset_dir(name)
    meta_path = folder / "dataset.json"
    if not meta_path.exists():
        known = ", ".join(m["name"] for m in list_datasets(workspace, damaged=[])) or "none"
        raise DatasetError(f"no dataset named {name!r} in {workspace.root} (registered: {known})")
    try:
        return _read_registration(folder, name)
    except HalfWritten as first:
        # a registration being written right now looks like this: read it once more
        # when the writer has finished (writers hold this lock), or say what was found
        try:
            with workspace.lock(f"dataset-{name}", timeout=REREAD_WAIT_S):
                return _read_registration(folder, name)
        except (Busy, OSError):
            raise first from None


class HalfWritten(DamagedDatasetFile):
    """index.csv and dataset.json of two registrations: damaged, or being written."""


#: how long a reader waits for a registration in progress before calling it damaged
REREAD_WAIT_S = 10.0


def _read_registration(folder: Path, name: str) -> Dataset:
    meta = _read_meta(folder / "dataset.json")
    index_path = folder / "index.csv"
    again = (
        f"register the dataset again: fer-audit datasets add {name} {meta['source']} "
        f"--kind {meta['kind']} --replace (Data page: tick 'Replace a dataset of the same "
        "name')"
    )
    try:
        index_bytes = index_path.read_bytes()
    except FileNotFoundError:
        raise DamagedDatasetFile(index_path, again, "missing") from None
    if hashlib.sha256(index_bytes).hexdigest() != meta["index_sha256"]:
        raise HalfWritten(
            index_path,
            again,
            "it does not match dataset.json: truncated, edited by hand, or being "
            "registered again right now",
        )
    return Dataset(meta, read_index(index_path))


def _read_meta(meta_path: Path) -> dict:
    """A dataset.json, checked for the fields readers rely on."""
    name = meta_path.parent.name
    hint = (
        f"register the dataset again: fer-audit datasets add {name} FOLDER --kind KIND "
        f"--replace (Data page: tick 'Replace a dataset of the same name'), or delete "
        f"{meta_path.parent}"
    )
    meta = atomic.read_json(meta_path, hint=hint, error=DamagedDatasetFile)
    missing = [f for f in (*META_FIELDS, "index_sha256") if f not in meta]
    if missing:
        raise DamagedDatasetFile(meta_path, hint, f"no {', '.join(missing)}")
    if meta["name"] != name:  # the folder's name was checked; the file's is not
        raise DamagedDatasetFile(meta_path, hint, f"it names another dataset, {meta['name']!r:.60}")
    meta.setdefault("source", meta["root"])
    return meta


def list_datasets(workspace: Workspace, *, damaged: list[DamagedFile] | None = None) -> list[dict]:
    """The registration records of every dataset in the workspace, by name.

    A dataset.json that cannot be read is added to `damaged` when a list is given (so a
    listing shows it as an error and goes on), else raised (DamagedDatasetFile)."""
    if not workspace.datasets_dir.is_dir():
        return []
    return read_all(sorted(workspace.datasets_dir.glob("*/dataset.json")), _read_meta, damaged)


def data_fingerprint(index: pd.DataFrame, root: Path) -> str:
    """SHA-256 over the index (less the dataset name) and each video's size: changes when
    labels or files change, not when the same data is registered under another name."""
    digest = hashlib.sha256(_csv_bytes(index.drop(columns="dataset")))
    for relative in index["path"]:
        path = root / relative
        size = path.stat().st_size if path.exists() else -1
        digest.update(f"{relative}\0{size}\n".encode())
    return digest.hexdigest()


def _csv_bytes(index: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    index.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def _subjects_per_gender(index: pd.DataFrame) -> dict[str, int]:
    return subjects_table(index)["gender"].value_counts().sort_index().to_dict()


def _synthetic_fields(root: Path) -> dict:
    marker = root / SYNTHETIC_MARKER
    if marker.is_file():
        return {"synthetic": True, "synthetic_info": atomic.read_json(marker)}
    return {"synthetic": False}


def draw_dataset_split(
    workspace: Workspace,
    name: str,
    *,
    per_group: int = 5,
    groups: list[str] | None = None,
    seed: int = 0,
) -> HeldOutSplit:
    """Draw dataset `name`'s test split (`per_group` subjects of each group) and save
    it, replacing any earlier one."""
    with workspace.lock(f"dataset-{name}"):
        return _draw_split(workspace, name, per_group=per_group, groups=groups, seed=seed)


def _draw_split(
    workspace: Workspace, name: str, *, per_group: int, groups: list[str] | None, seed: int
) -> HeldOutSplit:
    dataset = load_dataset(workspace, name)
    split = draw_test_split(
        dataset.subjects(),
        per_group=per_group,
        groups=groups,
        seed=seed,
        dataset=dataset.name,
        data_fingerprint=dataset.meta["fingerprint"],
    )
    save_split(workspace.dataset_dir(name), split)
    return split
