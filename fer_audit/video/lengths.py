"""How long a dataset's clips are, from a sample of their containers' headers (no frame
decoded), and which of the paper's keyframe counts K they allow: K=10 needs 10 frames,
K=20 needs 20 after the first second (the paper skips it), K=50 needs 20 in the
first half and 30 in the second."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fer_audit.video.settings import KS

#: the paper's K, tried first when the clips allow it
PAPER_K = 20
SKIP_SECONDS = 1.0  # K=20 skips the first second (video.keyframes)


@dataclass(frozen=True)
class ClipLengths:
    sampled: int  # clips whose header could be read
    shortest_frames: int
    shortest_seconds: float
    median_seconds: float
    fps: float  # of the shortest clip

    def describe(self) -> str:
        return (
            f"shortest {self.shortest_seconds:.1f} s ({self.shortest_frames} frames at "
            f"{self.fps:.0f} fps), median {self.median_seconds:.1f} s, over {self.sampled} "
            "clips sampled"
        )


def frames_needed(k: int, fps: float) -> int:
    """The fewest frames a clip at `fps` needs for K keyframes."""
    if k == 20:
        return math.ceil(SKIP_SECONDS * fps) + 20
    if k == 50:
        return 60  # 20 from the first half and 30 from the second: halves of >= 30
    return k


def suggested_k(lengths: ClipLengths | None) -> int | None:
    """The paper's K=20 when the shortest sampled clip allows it, else the largest K
    that it allows; None when it allows none (the clips are too short for any)."""
    if lengths is None:
        return PAPER_K
    fitting = [k for k in KS if lengths.shortest_frames >= frames_needed(k, lengths.fps)]
    if PAPER_K in fitting:
        return PAPER_K
    return max(fitting, default=None)


def clip_lengths(paths: Sequence[Path], *, sample: int = 24) -> ClipLengths | None:
    """The lengths of up to `sample` of `paths` (spread evenly over them), read from
    their headers; None when none can be read (or none says its frame rate)."""
    from fer_audit.video.decode import VideoError, open_video

    step = max(1, len(paths) // sample)
    measured: list[tuple[int, float, float]] = []  # frames, seconds, fps
    for path in list(paths)[::step][:sample]:
        try:
            with open_video(path) as container:
                length = _length(container.streams.video[0], container)
        except VideoError:
            continue
        if length is not None:
            measured.append(length)
    if not measured:
        return None
    frames, seconds, fps = min(measured)
    return ClipLengths(
        sampled=len(measured),
        shortest_frames=frames,
        shortest_seconds=seconds,
        median_seconds=statistics.median(m[1] for m in measured),
        fps=fps,
    )


def _length(stream, container) -> tuple[int, float, float] | None:
    """(frames, seconds, fps) from the header; None when it gives no frame rate or no
    length (such a clip is left out of the sample, never given a guessed rate)."""
    fps = float(stream.average_rate or 0)
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    else:
        seconds = (container.duration or 0) / 1_000_000
    frames = int(stream.frames or round(seconds * fps))
    if fps <= 0 or frames <= 0:
        return None
    return frames, seconds or frames / fps, fps
