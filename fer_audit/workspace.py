"""The workspace: one folder on disk that holds everything the tool produces.

Layout (created on demand)::

    workspace/
      settings.json     data roots the dashboard may browse, other settings
      datasets/<name>/  dataset.json (registration) and index.csv (dataset index)
      uploads/<name>/   the clips and manifest of a dataset uploaded as a zip
      cache/            preprocessed clips
      runs/<run_id>/    run.json, model.pt, metrics.jsonl, train.log
      predictions/      predictions tables (Parquet)
      audits/           audit results and reports
      jobs.sqlite       background job registry (jobs/<id>.log: their logs)
      forms/            the Train form's last submitted values

The workspace is `./workspace` unless `FER_AUDIT_WORKSPACE` names another folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from fer_audit import atomic
from fer_audit.errors import DamagedFile

ENV_WORKSPACE = "FER_AUDIT_WORKSPACE"
ENV_DATA_ROOTS = "FER_AUDIT_DATA_ROOTS"
#: the workspace's own folders: what fer-audit writes, never offered as data
OWN_FOLDERS = (
    "audits", "cache", "checkpoints", "datasets", "jobs", "locks", "predictions", "runs",
    "studies", "uploads",
)  # fmt: skip
ENV_CHECKPOINTS = "FER_AUDIT_CHECKPOINTS"


def checkpoints_dir() -> Path:
    """Where imported models' run folders live: `$FER_AUDIT_CHECKPOINTS`, else
    `./checkpoints` (the repository's folder when run from its root)."""
    return Path(os.environ.get(ENV_CHECKPOINTS) or "checkpoints")


class OutsideDataRootsError(PermissionError):
    """A folder was chosen that lies outside every configured data root."""


#: the one pattern of every name a user gives: datasets, runs, audits, reports,
#: predictions files (ids of jobs are numbers)
NAME_RULE = (
    "1 to 100 characters: letters, digits, '_', '-', '.' or '+', starting with a letter or digit"
)
MAX_NAME = 100
#: ids fer-audit builds from names (run ids, default file names): the same characters,
#: longer, within the 255 bytes a file name may have
MAX_ID = 240
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


class UnsafeName(ValueError):
    """A name that is not plain, or a path that would leave its folder."""


def check_name(name: object, *, what: str, max_length: int = MAX_NAME) -> str:
    """`name` if it follows NAME_RULE (so it has no '/', no '..' of its own, no leading
    '.'), at most `max_length` long, else UnsafeName saying what is allowed."""
    plain = isinstance(name, str) and _PLAIN_NAME.fullmatch(name)
    if not plain or len(name) > max_length:
        rule = NAME_RULE.replace(str(MAX_NAME), str(max_length))
        raise UnsafeName(f"{what} name {name!r:.150} is not allowed: use {rule}")
    return name


def contained(
    folder: Path, name: str, *, what: str, suffix: str = "", max_length: int = MAX_NAME
) -> Path:
    """`folder/name` (plus `suffix` unless `name` ends with it), refused unless `name` is
    plain and the path, resolved with its symlinks, stays inside `folder`."""
    check_name(name, what=what, max_length=max_length)
    leaf = name if not suffix or name.endswith(suffix) else f"{name}{suffix}"
    path = Path(folder) / leaf
    base, resolved = Path(folder).resolve(), path.resolve()
    if resolved != base and base not in resolved.parents:
        raise UnsafeName(f"{what} {name!r} points outside {folder} (a link?); refused")
    return path


class Busy(RuntimeError):
    """Another process holds a workspace lock for longer than we wait."""


_THREAD = threading.local()


def _held_locks() -> set[Path]:
    """The workspace locks this thread holds."""
    if not hasattr(_THREAD, "held"):
        _THREAD.held = set()
    return _THREAD.held


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def from_env(cls, root: str | os.PathLike | None = None) -> Workspace:
        """The workspace at `root`, else `$FER_AUDIT_WORKSPACE`, else `./workspace`."""
        chosen = root or os.environ.get(ENV_WORKSPACE) or "workspace"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    def dataset_dir(self, name: str) -> Path:
        return contained(self.datasets_dir, name, what="dataset")

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    def upload_dir(self, name: str) -> Path:
        """Where dataset `name`'s uploaded clips are stored (fer_audit.data.uploads)."""
        return contained(self.uploads_dir, name, what="dataset")

    def run_dir(self, run_id: str) -> Path:
        return contained(self.runs_dir, run_id, what="run", max_length=MAX_ID)

    def predictions_path(self, name: str) -> Path:
        """A predictions table in the workspace; `.parquet` is added when missing."""
        return contained(
            self.predictions_dir, name, what="predictions", suffix=".parquet", max_length=MAX_ID
        )

    def audit_dir(self, name: str) -> Path:
        return contained(self.audits_dir, name, what="audit", max_length=MAX_ID)

    @contextlib.contextmanager
    def lock(self, name: str, *, timeout: float = 60.0) -> Iterator[None]:
        """Hold the workspace lock `name` (e.g. `dataset-<name>`, `settings`): writes of
        shared metadata by two processes never interleave; the second one waits up to
        `timeout` seconds, then fails with Busy."""
        digest = hashlib.sha256(name.encode()).hexdigest()[:24]  # any name, one plain file
        path = self.root.resolve() / "locks" / f"{digest}.lock"  # one key per folder
        held = _held_locks()
        if path in held:  # taken further up this thread: flock would wait for itself
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:  # only our own wait: a Timeout inside the block is not ours
            raise Busy(
                f"another fer-audit process has held the workspace lock {name!r} for over "
                f"{timeout:.0f} s (registering, splitting or saving settings; lock file "
                f"{path}); try again when it has finished"
            ) from None
        held.add(path)
        try:
            yield
        finally:
            held.discard(path)
            lock.release()

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def predictions_dir(self) -> Path:
        return self.root / "predictions"

    @property
    def audits_dir(self) -> Path:
        return self.root / "audits"

    @property
    def jobs_db(self) -> Path:
        return self.root / "jobs.sqlite"

    @property
    def settings_path(self) -> Path:
        return self.root / "settings.json"

    def settings(self) -> dict:
        """settings.json ({} without one); DamagedFile naming it when it is not a JSON
        object or its `data_roots` is not a list of folder names."""
        if not self.settings_path.exists():
            return {}
        hint = (
            'repair the JSON by hand, e.g. {"data_roots": ["/data"]}, or delete it '
            "to go back to the defaults (only the workspace is a data root)"
        )
        settings = atomic.read_json(self.settings_path, hint=hint)
        roots = settings.get("data_roots", [])
        if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
            raise DamagedFile(self.settings_path, hint, "data_roots is not a list of folders")
        return settings

    def save_settings(self, settings: dict) -> None:
        with self.lock("settings"):
            atomic.write_json(self.settings_path, settings)

    def data_roots(self) -> list[Path]:
        """Folders the dashboard may open datasets from.

        `$FER_AUDIT_DATA_ROOTS` (os.pathsep-separated) wins over `settings.json`'s
        `data_roots`; with neither, only the workspace itself.
        """
        env = os.environ.get(ENV_DATA_ROOTS)
        raw = env.split(os.pathsep) if env else self.settings().get("data_roots", [])
        roots = [Path(r).expanduser().resolve() for r in raw if r]
        return roots or [self.root]

    def resolve_data_path(self, path: str | os.PathLike) -> Path:
        """Resolve `path` (symlinks followed) and refuse it unless it lies inside a data
        root. Relative paths are taken relative to the first data root."""
        roots = self.data_roots()
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = roots[0] / candidate
        resolved = candidate.resolve()
        if any(resolved == root or root in resolved.parents for root in roots):
            return resolved
        shown = ", ".join(str(r) for r in roots)
        raise OutsideDataRootsError(
            f"{path} is outside the configured data roots ({shown}); "
            f"add its folder to {ENV_DATA_ROOTS} or to data_roots in {self.settings_path}"
        )

    def browse_data_roots(self, *, max_depth: int = 3, limit: int = 500) -> list[Path]:
        """Folders and CSV files inside the data roots (hidden ones, the workspace's own
        folders and symlinks that leave the roots skipped), breadth first, at most
        `limit`: what the dashboard offers to register."""
        found: list[Path] = []
        level = [(root, 0) for root in self.data_roots() if root.is_dir()]
        found += [root for root, _ in level]
        while level and len(found) < limit:
            following = []
            for folder, depth in level:
                try:
                    entries = sorted(folder.iterdir())
                except OSError:
                    continue
                for entry in entries:
                    if (
                        entry.name.startswith(".")
                        or self._own_folder(entry)
                        or not self._inside_roots(entry)
                    ):
                        continue
                    if entry.is_dir() and depth + 1 <= max_depth:
                        found.append(entry)
                        following.append((entry, depth + 1))
                    elif entry.suffix.lower() == ".csv" and entry.is_file():
                        found.append(entry)
            level = following
        return found[:limit]

    def _own_folder(self, path: Path) -> bool:
        """One of the workspace's own folders (or inside one): never data."""
        own = [self.root.resolve() / name for name in OWN_FOLDERS]
        resolved = path.resolve()
        return any(resolved == folder or folder in resolved.parents for folder in own)

    def _inside_roots(self, path: Path) -> bool:
        try:
            self.resolve_data_path(path)
        except OutsideDataRootsError:
            return False
        return True
