"""The workspace: one folder on disk that holds everything the tool produces.

Layout (created on demand)::

    workspace/
      settings.json     data roots the dashboard may browse, other settings
      datasets/<name>/  dataset.json (registration) and index.csv (dataset index)
      cache/            preprocessed clips
      runs/<run_id>/    run.json, model.pt, metrics.jsonl, train.log
      predictions/      predictions tables (Parquet)
      audits/           audit results and reports
      jobs.sqlite       background job registry

The workspace is `./workspace` unless `FER_AUDIT_WORKSPACE` names another folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fer_audit import atomic

ENV_WORKSPACE = "FER_AUDIT_WORKSPACE"
ENV_DATA_ROOTS = "FER_AUDIT_DATA_ROOTS"
ENV_CHECKPOINTS = "FER_AUDIT_CHECKPOINTS"


def checkpoints_dir() -> Path:
    """Where imported models' run folders live: `$FER_AUDIT_CHECKPOINTS`, else
    `./checkpoints` (the repository's folder when run from its root)."""
    return Path(os.environ.get(ENV_CHECKPOINTS) or "checkpoints")


class OutsideDataRootsError(PermissionError):
    """A folder was chosen that lies outside every configured data root."""


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
        return self.datasets_dir / name

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
        if self.settings_path.exists():
            return atomic.read_json(self.settings_path)
        return {}

    def save_settings(self, settings: dict) -> None:
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
        """Folders and CSV files inside the data roots (hidden ones and symlinks that
        leave the roots skipped), breadth first, at most `limit`: what the dashboard
        offers to register."""
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
                    if entry.name.startswith(".") or not self._inside_roots(entry):
                        continue
                    if entry.is_dir() and depth + 1 <= max_depth:
                        found.append(entry)
                        following.append((entry, depth + 1))
                    elif entry.suffix.lower() == ".csv" and entry.is_file():
                        found.append(entry)
            level = following
        return found[:limit]

    def _inside_roots(self, path: Path) -> bool:
        try:
            self.resolve_data_path(path)
        except OutsideDataRootsError:
            return False
        return True
