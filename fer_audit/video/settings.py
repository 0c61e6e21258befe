"""Preprocessing settings: how clips become keyframe face crops, declared once (each
setting's option, help and choices live on its field; see `fer_audit.options`).

Light on purpose (no video or array libraries): the command line builds its options
from it at start-up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from fer_audit.options import setting
from fer_audit.seeding import MAX_SEED

#: part of every cache key: bump it when a change alters what preprocessing produces
CACHE_VERSION = 2
KS = (10, 20, 50)  # the paper's keyframe counts
#: the paper's MTCNN margins (pixels in a 256-pixel crop, as facenet-pytorch counts them)
MARGINS = (0, 25, 40, 65)
DETECTORS = ("mtcnn", "none")
MODES = ("fast", "paper")


@dataclass(frozen=True)
class PreprocessSettings:
    """How clips become keyframe face crops; `key()` names a preprocessing (its cache
    folder, and the preprocessing a training run reads)."""

    k: int = setting(
        20, help="keyframes: 10, 20 (skips the first second) or 50 (20 + 30)", choices=KS
    )
    margin: int = setting(40, help="MTCNN margin in pixels, as in the paper", choices=MARGINS)
    size: int = setting(224, help="crop size in pixels (16-1024)", low=16, high=1024)
    detector: str = setting(
        "mtcnn", help="none: the whole frame is the face (synthetic data)", choices=DETECTORS
    )
    mode: str = setting(
        "fast",
        help="paper: MTCNN on every frame, then K-means (slow; for comparison)",
        choices=MODES,
    )
    detect_width: int = 320  # faces are detected on copies this wide
    seed: int = setting(0, help="seed of the K-means keyframe choice", low=0, high=MAX_SEED)

    def __post_init__(self) -> None:
        problems = []
        if self.k < 1:
            problems.append("k must be at least 1")
        if not 0 <= self.margin < 200:
            problems.append("margin must lie in [0, 200) (the paper used 0, 25, 40, 65)")
        if self.size < 16:
            problems.append("size must be at least 16 pixels")
        if self.detector not in DETECTORS:
            problems.append(f"detector must be one of {', '.join(DETECTORS)}")
        if self.mode not in MODES:
            problems.append(f"mode must be one of {', '.join(MODES)}")
        if problems:
            raise ValueError("; ".join(problems))

    def key(self) -> str:
        """A folder-safe name that changes whenever a setting changes."""
        payload = {**asdict(self), "cache_version": CACHE_VERSION}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return f"k{self.k}-m{self.margin}-s{self.size}-{self.detector}-{self.mode}-{digest[:8]}"
