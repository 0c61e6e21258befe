"""Where an explicit `--out PATH` may write.

A path given on the command line may point anywhere, but what is already there is
replaced only when it is fer-audit's own: a predictions table or HTML report that
carries fer-audit's mark, an audit or model folder that fer-audit wrote (or an empty
one), or anything inside the workspace's predictions and audits folders. Anything
else is refused unless the user adds `--force`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: the mark fer-audit leaves in what it writes: Parquet metadata key, HTML generator
GENERATOR = "fer-audit"
PARQUET_KEY = b"fer_audit"
HTML_MARK = f'<meta name="generator" content="{GENERATOR}">'


class WouldOverwrite(ValueError):
    """The output path holds something fer-audit did not write."""


def _is_predictions(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return False
    return PARQUET_KEY in metadata


def _is_report(path: Path) -> bool:
    with open(path, "rb") as fh:
        return HTML_MARK.encode() in fh.read(4096)


def _folder_holding(marker: str) -> Callable[[Path], bool]:
    def check(path: Path) -> bool:
        return path.is_dir() and (not any(path.iterdir()) or (path / marker).is_file())

    return check


_OURS: dict[str, tuple[str, Callable[[Path], bool]]] = {
    "predictions": ("a file", lambda p: p.is_file() and _is_predictions(p)),
    "report": ("a file", lambda p: p.is_file() and _is_report(p)),
    "audit": ("a folder", _folder_holding("audit.json")),
    "model": ("a folder", _folder_holding("run.json")),
}


def check_output(path: str | Path, *, kind: str, force: bool = False, workspace=None) -> Path:
    """`path` if writing a `kind` ("predictions", "report", "audit", "model") there
    replaces nothing but fer-audit's own; else WouldOverwrite naming `--force`."""
    path = Path(path)
    if force or not (path.exists() or path.is_symlink()):
        return path
    shape, ours = _OURS[kind]
    own_folders = (workspace.predictions_dir, workspace.audits_dir) if workspace else ()
    if ours(path) or any(_inside(path, folder) for folder in own_folders):
        return path
    raise WouldOverwrite(
        f"{path} already exists and is not a fer-audit {kind} ({shape} fer-audit wrote); "
        "choose another --out, or add --force to replace it"
    )


def _inside(path: Path, folder: Path) -> bool:
    resolved, base = path.resolve(), Path(folder).resolve()
    return base in resolved.parents
