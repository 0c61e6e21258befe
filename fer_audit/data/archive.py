"""A zip of videos a user uploads, read without trusting it.

Before anything is written, the zip's directory is checked: the entry count (read from
its end record, before Python parses every entry), each entry's path (no `..`, no
absolute path, no drive letter, no backslash), its type (no symbolic link or special
file, no encryption), its extension (videos only, plus `manifest.csv` and
`SYNTHETIC.json` at the dataset's root) and its declared size, per entry and in all.
Every offending entry is named in one ArchiveError. Extraction then counts the bytes it
writes against the same caps, whatever the headers said, and each video is opened with
PyAV to check that it holds a video stream.
"""

from __future__ import annotations

import contextlib
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from fer_audit.data.index import SYNTHETIC_MARKER, VIDEO_EXTENSIONS, DatasetError

MANIFEST = "manifest.csv"
#: files other than videos a dataset's root may hold
ROOT_FILES = (MANIFEST, SYNTHETIC_MARKER)
MIB = 1 << 20
GIB = 1 << 30
CHUNK = MIB
#: folders archivers add that hold no data (macOS Finder's resource forks)
_ARCHIVER_FOLDERS = ("__MACOSX",)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """What an upload may hold; beyond any of these it is refused."""

    max_archive_bytes: int = 20 * GIB  # the zip file itself
    max_entries: int = 20_000  # entries in its directory, folders included
    max_directory_bytes: int = 64 * MIB  # its directory, which is read into memory
    max_entry_bytes: int = 4 * GIB  # one file, uncompressed
    max_total_bytes: int = 20 * GIB  # all files, uncompressed
    max_manifest_bytes: int = 50 * MIB  # the manifest or SYNTHETIC.json, read into memory

    def describe(self) -> str:
        """The limits in words, for the page and the README."""
        return (
            f"at most {self.max_entries:,} entries, {_size(self.max_entry_bytes)} per file "
            f"and {_size(self.max_total_bytes)} in all once unpacked"
        )


LIMITS = ArchiveLimits()


class ArchiveError(DatasetError):
    """An archive refused; `problems` names each offending entry and why."""


@dataclass(frozen=True)
class ArchivePlan:
    """What will be extracted from a checked zip."""

    root: str  # the dataset's root inside the zip: "" or "folder/"
    members: list[tuple[str, zipfile.ZipInfo]]  # the files to extract: path, entry
    manifest_inside: bool  # the zip holds the manifest (at `root`)
    total_bytes: int  # declared, uncompressed
    left_out: list[str] = field(default_factory=list)  # hidden and archiver entries

    @property
    def root_files(self) -> set[str]:
        """The entries of the files other than videos the dataset's root may hold."""
        return {self.root + name for name in ROOT_FILES}

    def cap(self, path: str, limits: ArchiveLimits) -> int:
        """The most bytes entry `path` may unpack to: a file read into memory (the
        manifest, SYNTHETIC.json) is held to the manifest's cap."""
        small = path in self.root_files
        return limits.max_manifest_bytes if small else limits.max_entry_bytes

    def videos(self) -> list[str]:
        """The video entries, relative to the dataset's root."""
        return [
            path[len(self.root) :]
            for path, _ in self.members
            if PurePosixPath(path).suffix.lower() in VIDEO_EXTENSIONS
        ]


@contextlib.contextmanager
def open_archive(path: Path, limits: ArchiveLimits, *, shown: str) -> Iterator[zipfile.ZipFile]:
    """The zip at `path` (named `shown` in messages), opened only when it is a zip
    whose end record counts at most `limits.max_entries` entries."""
    with open(path, "rb") as fh:
        try:
            # zipfile's own reader of the end record (stable since Python 2): it gives
            # the count before ZipFile builds an object per entry in memory
            end = zipfile._EndRecData(fh)  # noqa: SLF001
        except OSError:
            end = None
        if not end:
            raise ArchiveError(f"{shown} is not a zip archive")
        count = end[zipfile._ECD_ENTRIES_TOTAL]  # noqa: SLF001
        if count > limits.max_entries:
            raise ArchiveError(
                f"{shown} is refused: it has {count:,} entries, more than the "
                f"{limits.max_entries:,} allowed"
            )
        directory = end[zipfile._ECD_SIZE]  # noqa: SLF001 - ZipFile reads this many bytes
        if directory > limits.max_directory_bytes:
            raise ArchiveError(
                f"{shown} is refused: its directory is {_size(directory)}, over the "
                f"{_size(limits.max_directory_bytes)} allowed"
            )
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError) as exc:
            raise ArchiveError(f"{shown} is not a readable zip archive: {exc}") from None
        with archive:
            if len(archive.infolist()) > limits.max_entries:  # an end record that lied
                raise ArchiveError(f"{shown} is refused: more than {limits.max_entries:,} entries")
            yield archive


def entry_parts(name: str) -> tuple[list[str], str | None]:
    """An entry's path as parts, and why it would leave the folder (None when safe)."""
    if "\\" in name:
        return [], "a backslash in its path (a Windows separator could leave the folder)"
    if name.startswith("/"):
        return [], "an absolute path"
    if _DRIVE.match(name):
        return [], "a drive letter"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        return [], "'..' in its path (it would leave the folder)"
    if not parts:
        return [], "an empty name"
    if any(len(p.encode()) > 255 for p in parts):
        return [], "a name longer than 255 bytes"
    return parts, None


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "a special file (device, pipe or socket)"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


def _ignored(parts: list[str]) -> bool:
    return parts[0] in _ARCHIVER_FOLDERS or any(p.startswith(".") for p in parts)


def plan_extraction(
    archive: zipfile.ZipFile, limits: ArchiveLimits, *, manifest_given: bool, shown: str
) -> ArchivePlan:
    """Check every entry of `archive` and say what to extract; ArchiveError naming
    each offending entry (and the reason) when any is refused."""
    problems: list[str] = []
    files: dict[str, zipfile.ZipInfo] = {}  # normalised path ("./a.mp4" -> "a.mp4")
    folders: set[str] = set()
    left_out: list[str] = []
    for info in archive.infolist():
        parts, unsafe = entry_parts(info.filename)
        problem = unsafe or _kind_problem(info)
        if problem:
            problems.append(f"{info.filename!r}: {problem}")
        elif not info.is_dir() and _ignored(parts):
            left_out.append(info.filename)
        elif not info.is_dir():
            path = "/".join(parts)
            if path in files:
                problems.append(f"{info.filename!r}: appears twice")
            files[path] = info
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    problems += [f"{p!r}: both a file and a folder" for p in sorted(folders & files.keys())]
    root = _dataset_root(files)
    manifest_inside = root is not None
    root = root or ""
    if manifest_given and manifest_inside:
        problems.append(
            f"{root + MANIFEST!r}: a manifest inside the zip, and another was given beside "
            "it; give one of the two"
        )
    elif not manifest_given and not manifest_inside:
        problems.append(
            f"no {MANIFEST} at the zip's root (nor in its only top folder): add one, or "
            "give the manifest beside the zip"
        )
    total = sum(info.file_size for info in files.values())
    plan = ArchivePlan(root, list(files.items()), manifest_inside, total, left_out)
    for path, info in files.items():
        suffix = PurePosixPath(path).suffix.lower()
        if suffix not in VIDEO_EXTENSIONS and path not in plan.root_files:
            problems.append(f"{path!r}: not a video ({suffix or 'no extension'})")
        elif info.file_size > plan.cap(path, limits):
            problems.append(
                f"{path!r}: {_size(info.file_size)} unpacked, over the "
                f"{_size(plan.cap(path, limits))} allowed for this file"
            )
    if total > limits.max_total_bytes:
        problems.append(
            f"all entries: {_size(total)} unpacked, over the {_size(limits.max_total_bytes)} "
            "allowed in all"
        )
    if problems:
        raise ArchiveError(f"{shown} is refused: {len(problems)} problem(s)", problems)
    if not plan.videos():
        raise ArchiveError(f"{shown} holds no video ({', '.join(sorted(VIDEO_EXTENSIONS))})")
    return plan


def _dataset_root(files: dict[str, zipfile.ZipInfo]) -> str | None:
    """Where the zip's own manifest lies, as the dataset's root: "" (the zip's root), or
    "folder/" (a zipped folder: its only top folder); None when it holds none there."""
    if MANIFEST in files:
        return ""
    tops = {path.split("/")[0] for path in files}
    if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in files:
        return f"{next(iter(tops))}/"
    return None


def extract(archive: zipfile.ZipFile, plan: ArchivePlan, dest: Path, limits: ArchiveLimits) -> int:
    """Write the plan's files under `dest` (a new folder), counting the bytes written
    against the caps whatever the headers declared; the bytes written."""
    dest.mkdir(parents=True)
    base = dest.resolve()
    written = 0
    for path, info in plan.members:
        target = dest.joinpath(*path.split("/"))
        if base not in target.resolve().parents:  # checked already; kept as the last word
            raise ArchiveError(f"{path!r} would leave the folder")
        cap = min(plan.cap(path, limits), limits.max_total_bytes - written)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "xb") as out:
                written += copy_capped(source, out, cap, what=repr(path))
        except _DAMAGED as exc:
            raise ArchiveError(f"{path!r} cannot be unpacked (damaged): {exc}") from None
        except OSError as exc:
            raise ArchiveError(f"{path!r} cannot be written: {exc}") from None
    return written


#: what zipfile raises for an entry it cannot unpack
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def copy_capped(source: BinaryIO, out: BinaryIO, cap: int, *, what: str) -> int:
    """Copy `source` into `out` in chunks, never writing more than `cap` bytes: an
    ArchiveError naming `what` as soon as the source holds more."""
    written = 0
    while block := source.read(CHUNK):
        if written + len(block) > cap:
            raise ArchiveError(f"{what} is refused: over {_size(cap)} (more than allowed)")
        out.write(block)
        written += len(block)
    return written


def video_content_problem(path: Path) -> str | None:
    """Why the file at `path` is not a video by its content (None when it opens as the
    preprocessing opens a video and holds a video stream)."""
    from fer_audit.video.decode import VideoError, open_video

    try:
        with open_video(path):
            return None
    except VideoError as exc:
        return f"not a video by its content: {exc.reason}"


def _size(n: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
