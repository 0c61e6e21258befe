"""The data roots a user manages from the Data page: folders the dashboard may read
clips from, kept in the workspace's settings.json (`data_roots`) under its lock.

A folder is refused as a root when it is not an existing folder, is a system folder
(the file system's root, or one of or inside /bin, /boot, /dev, /etc, /lib, /proc,
/run, /sbin, /sys, /usr, /var), or is one of the workspace's own folders. While
$FER_AUDIT_DATA_ROOTS is set it decides alone (the server's setting): nothing is
changed here then.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fer_audit.workspace import ENV_DATA_ROOTS, OWN_FOLDERS, Workspace

#: folders no dataset lives in, refused as roots with everything inside them
SYSTEM_FOLDERS = tuple(
    Path(p)
    for p in (
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/proc",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/var",
    )  # fmt: skip
)


class RootRefused(ValueError):
    """A folder that cannot be a data root, and why."""


def managed_here() -> str | None:
    """Why the data roots cannot be changed from the dashboard (None: they can)."""
    if os.environ.get(ENV_DATA_ROOTS):
        return (
            f"the data roots are set by {ENV_DATA_ROOTS} where the dashboard was started; "
            "change them there (a folder added here would not be used while it is set)"
        )
    return None


def root_problem(workspace: Workspace, folder: Path) -> str | None:
    """Why `folder` (resolved) cannot be a data root, or None."""
    if not folder.is_dir():
        return f"{folder} is not an existing folder"
    if folder == Path(folder.anchor):
        return f"{folder} is the file system's root: choose the folder that holds the clips"
    system = next((s for s in SYSTEM_FOLDERS if folder == s or s in folder.parents), None)
    if system is not None:
        return f"{folder} is a system folder ({system}): no dataset should live there"
    own = [workspace.root.resolve() / name for name in OWN_FOLDERS]
    if any(folder == o or o in folder.parents for o in own):
        return f"{folder} is one of the workspace's own folders: fer-audit writes there"
    return None


def add_data_root(workspace: Workspace, folder: str | os.PathLike) -> Path:
    """Add `folder` to settings.json's data roots (resolved; the workspace stays a root
    when it was the only one); RootRefused saying why not."""
    why = managed_here()
    resolved = Path(folder).expanduser().resolve()
    why = why or root_problem(workspace, resolved)
    if why:
        raise RootRefused(why)
    _change_roots(
        workspace, lambda roots: roots if str(resolved) in roots else [*roots, str(resolved)]
    )
    return resolved


def remove_data_root(workspace: Workspace, folder: str | os.PathLike) -> None:
    """Remove `folder` from settings.json's data roots (datasets registered from it stay
    registered); RootRefused when the roots are set elsewhere or it is not one."""
    why = managed_here()
    if why:
        raise RootRefused(why)

    def without(roots: list[str]) -> list[str]:
        if str(folder) not in roots:
            raise RootRefused(f"{folder} is not a data root")
        return [root for root in roots if root != str(folder)]

    _change_roots(workspace, without)


def _change_roots(workspace: Workspace, change: Callable[[list[str]], list[str]]) -> None:
    """settings.json's data roots replaced by `change(roots)`, under the settings lock
    (the workspace itself when none are set yet); nothing written when unchanged."""
    with workspace.lock("settings"):
        settings = workspace.settings()
        roots = settings.get("data_roots") or [str(workspace.root.resolve())]
        changed = change(roots)
        if changed != roots:
            workspace.save_settings({**settings, "data_roots": changed})
