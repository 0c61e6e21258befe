"""The clip cache: one entry per (video content, preprocessing settings).

`cache/clips/<settings key>/<sha256 of the video>.npz` holds the K face crops (uint8),
their frame numbers, times, boxes and face-found flags; `<sha256>.json` beside it
holds the status (ok, no_face, unreadable, too_short) and the reason. The JSON is
written last, atomically: an entry without it was interrupted and is redone. A damaged
entry (a status that is not JSON, crops that cannot be read) is removed with a note and
redone the same way: it is a cache.
Entries are keyed by content, so renaming or moving a video keeps its cache. Shards
take disjoint videos; two identical files share one entry (written atomically, so
either write is whole).
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from fer_audit import atomic
from fer_audit.errors import DamagedFile, one_line
from fer_audit.video.clip import ClipResult
from fer_audit.video.settings import PreprocessSettings

ARRAYS = ("crops", "frame_numbers", "times", "boxes", "face_found", "probabilities")


def content_hash(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class ClipCache:
    def __init__(self, cache_dir: Path, settings: PreprocessSettings):
        self.settings = settings
        self.folder = Path(cache_dir) / "clips" / settings.key()
        self.notes: list[str] = []  # damaged entries removed (to be computed again)

    def _paths(self, digest: str) -> tuple[Path, Path]:
        return self.folder / f"{digest}.npz", self.folder / f"{digest}.json"

    def status(self, digest: str) -> dict | None:
        """The recorded status of a video, or None when it was never finished. A damaged
        entry (status unreadable, or an `ok` one whose crops are missing or unreadable)
        is removed with a note (logged, and kept in `notes`) and counts as never
        finished, so it is computed again: it is a cache."""
        npz_path, json_path = self._paths(digest)
        if not json_path.exists():
            return None
        try:
            status = atomic.read_json(json_path)
            if not isinstance(status.get("status"), str) or "reason" not in status:
                raise DamagedFile(json_path, RECOMPUTE, "no status or reason")
            if status["status"] == "ok":
                _check_npz(npz_path)
        except DamagedFile as exc:
            self._drop(digest, exc)
            return None
        return status

    def _drop(self, digest: str, problem: DamagedFile) -> None:
        note = (
            f"clip cache entry {problem.path} is damaged ({problem.detail}): removed; "
            "the video is preprocessed again"
        )
        _log.warning(note)
        self.notes.append(note)
        for path in self._paths(digest)[::-1]:  # the status first: it marks an entry done
            path.unlink(missing_ok=True)

    def store(self, digest: str, result: ClipResult, *, source: str) -> dict:
        """Write the crops (when there are any) and then the status."""
        npz_path, json_path = self._paths(digest)
        if result.crops is not None:
            with atomic.atomic_path(npz_path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **{name: getattr(result, name) for name in ARRAYS})
        status = {
            "status": result.status,
            "reason": result.reason,
            "source": source,
            "content_sha256": digest,
            "n_frames": result.n_frames,
            "fps": round(result.fps, 3),
            "width": result.width,
            "height": result.height,
            "keyframes": int(len(result.frame_numbers)),
            "faces_found": int(np.sum(result.face_found)),
            "notes": result.notes,
            "settings": asdict(self.settings),
        }
        atomic.write_json(json_path, status)
        return status

    def load(self, digest: str) -> dict[str, np.ndarray]:
        """The arrays of a finished `ok` entry. When they cannot be read the entry is
        removed and DamagedFile says to preprocess again (which recomputes it)."""
        path = self._paths(digest)[0]
        try:
            with np.load(path) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            problem = DamagedFile(path, RECOMPUTE, one_line(exc))
            self._drop(digest, problem)
            raise problem from None


#: what to do about a damaged entry that could not simply be recomputed on the spot
RECOMPUTE = (
    "it was removed from the cache; run the preprocessing of its dataset again with the "
    "same settings (only the missing clips are computed)"
)
_log = logging.getLogger("fer_audit")


def _check_npz(path: Path) -> None:
    """DamagedFile unless `path` is a readable archive holding every array."""
    try:
        with np.load(path) as data:
            missing = [name for name in ARRAYS if name not in data.files]
    except FileNotFoundError:
        raise DamagedFile(path, RECOMPUTE, "missing") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DamagedFile(path, RECOMPUTE, one_line(exc)) from None
    if missing:
        raise DamagedFile(path, RECOMPUTE, f"no {', '.join(missing)}")
