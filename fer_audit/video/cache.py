"""The clip cache: one entry per (video content, preprocessing settings).

`cache/clips/<settings key>/<sha256 of the video>.npz` holds the K face crops (uint8),
their frame numbers, times, boxes and face-found flags; `<sha256>.json` beside it
holds the status (ok, no_face, unreadable, too_short) and the reason. The JSON is
written last, atomically: an entry without it was interrupted and is redone.
Entries are keyed by content, so renaming or moving a video keeps its cache. Shards
take disjoint videos; two identical files share one entry (written atomically, so
either write is whole).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import numpy as np

from fer_audit import atomic
from fer_audit.video.clip import ClipResult, PreprocessSettings

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

    def _paths(self, digest: str) -> tuple[Path, Path]:
        return self.folder / f"{digest}.npz", self.folder / f"{digest}.json"

    def status(self, digest: str) -> dict | None:
        """The recorded status of a video, or None when it was never finished."""
        path = self._paths(digest)[1]
        return atomic.read_json(path) if path.exists() else None

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
        """The arrays of a finished `ok` entry."""
        with np.load(self._paths(digest)[0]) as data:
            return {name: data[name] for name in data.files}
