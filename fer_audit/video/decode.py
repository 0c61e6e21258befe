"""Decoding with PyAV, once and in order (torchvision no longer decodes video).

Frame counts in container headers are often wrong; nothing here trusts them: frames
are counted as they are decoded, and a stream that breaks off part-way (a truncated
file) yields what it could decode, with a note.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np


class VideoError(Exception):
    """A video that cannot be used; `status` is one of the report's statuses."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class DecodedVideo:
    """Every frame's thumbnail (for keyframe selection) and the frames themselves.

    `frames` holds PyAV frames (YUV, as decoded): converting all of them to RGB would
    cost as much as decoding, and only the keyframes are ever converted.
    """

    fps: float
    width: int
    height: int
    times: np.ndarray  # seconds, per decoded frame
    thumbnails: np.ndarray  # (n, h, w) uint8 luma, subsampled
    frames: list = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def rgb(self, index: int) -> np.ndarray:
        return self.frames[index].to_ndarray(format="rgb24")


Source = str | Path | bytes


def _open(source: Source):
    if isinstance(source, bytes):
        if not source:
            raise VideoError("unreadable", "empty upload (0 bytes)")
        return av.open(io.BytesIO(source))
    path = Path(source)
    if not path.is_file():
        raise VideoError("unreadable", f"{path} does not exist")
    if path.stat().st_size == 0:
        raise VideoError("unreadable", "empty file (0 bytes)")
    return av.open(str(path))


def iter_frames(source: Source) -> Iterator[tuple[float, av.VideoFrame]]:
    """(time in seconds, frame) for every decodable frame, in order.

    Raises VideoError("unreadable") when the container cannot be opened or holds no
    video stream. Stops quietly at the first decode error after at least one frame
    (the caller sees fewer frames than the header promised).
    """
    try:
        container = _open(source)
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError("unreadable", f"not a readable video ({exc})") from None
    with container:
        if not container.streams.video:
            raise VideoError("unreadable", "the file holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.time_base) if stream.time_base else None
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        index = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and base:
                    time = frame.pts * base
                else:
                    time = index / rate if rate else float(index)
                yield time, frame
                index += 1
        except (av.error.FFmpegError, ValueError) as exc:
            if index == 0:
                raise VideoError("unreadable", f"no frame could be decoded ({exc})") from None


def luma_thumbnail(frame: av.VideoFrame, step: int) -> np.ndarray:
    """Every `step`-th pixel of the luma plane, read straight from the decoder's buffer
    (no colour conversion, no scaling)."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[::step, : plane.width : step].copy()


def decode(source: Source, *, thumb_width: int = 32) -> DecodedVideo:
    """Decode the whole video once: thumbnails for every frame, frames kept as decoded."""
    times, thumbs, frames = [], [], []
    step = None
    for time, frame in iter_frames(source):
        if frame.format.name not in ("yuv420p", "yuvj420p", "yuv422p", "yuv444p", "gray"):
            frame = frame.reformat(format="yuv420p")
        if step is None:
            step = max(1, frame.width // thumb_width)
            width, height = frame.width, frame.height
        times.append(time)
        thumbs.append(luma_thumbnail(frame, step))
        frames.append(frame)
    if not frames:
        raise VideoError("unreadable", "the video stream holds no frame")
    times_arr = np.asarray(times, float)
    duration = times_arr[-1] - times_arr[0]
    fps = (len(times) - 1) / duration if duration > 0 else 0.0
    return DecodedVideo(fps, width, height, times_arr, np.stack(thumbs), frames)
