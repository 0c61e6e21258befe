"""Removing a file or folder of the workspace, and nothing else: the path must lie
inside the workspace once resolved (symlinks followed) and not be a link itself, so a
name with '..', a linked folder or a folder whose parent links elsewhere is refused
and nothing outside the workspace is touched. A folder is first moved into the
workspace's trash (so it disappears at once), then removed there; links inside it
are removed as links, never followed.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from fer_audit.workspace import UnsafeName, Workspace

#: where deleted folders go before they are removed
TRASH = ".deleting"


def counted_lines(kinds: Iterable[tuple[str, list[str]]]) -> list[str]:
    """What a deletion names, one line per kind that has any: "2 audit(s) of those
    tables: a, b" for each (kind words, names)."""
    return [f"{len(names)} {what}: {', '.join(names)}" for what, names in kinds if names]


def outside_reason(workspace: Workspace, path: Path) -> str | None:
    """Why `path` may not be removed (it is a link, or does not lie inside the
    workspace once resolved), or None when it may."""
    root = workspace.root.resolve()
    if path.is_symlink():
        return f"{path} is a link (to {path.resolve()}), not a folder of the workspace; refused"
    resolved = path.resolve()
    if resolved == root or root not in resolved.parents:
        return f"{path} resolves to {resolved}, outside the workspace {root}; refused"
    return None


def discard(workspace: Workspace, path: Path) -> None:
    """Remove the file or folder `path` of the workspace; UnsafeName (nothing removed)
    when `outside_reason` gives a reason."""
    path = Path(path)
    reason = outside_reason(workspace, path)
    if reason:
        raise UnsafeName(reason)
    if not path.is_dir():
        path.unlink()
        return
    trash = workspace.root / TRASH
    trash.mkdir(exist_ok=True)
    moved = trash / f"{path.parent.name}-{path.name}-{uuid.uuid4().hex[:8]}"
    path.rename(moved)
    shutil.rmtree(moved)
    with contextlib.suppress(OSError):
        trash.rmdir()
