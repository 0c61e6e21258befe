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
#: the long side, in pixels, above which decoded frames are kept downscaled
MAX_SIDE = 1280


def _open(source: Source):
    if isinstance(source, bytes):
        if not source:
            raise VideoError("unreadable", "empty upload (0 bytes)")
        return av.open(io.BytesIO(source))
    path = Path(source)
    if not path.is_file():
        raise VideoError("unreadable", "file not found")
    if path.stat().st_size == 0:
        raise VideoError("unreadable", "empty file (0 bytes)")
    return av.open(str(path))


def iter_frames(
    source: Source, notes: list[str] | None = None
) -> Iterator[tuple[float, av.VideoFrame]]:
    """(seconds since the first frame, frame) for every decodable frame, in order.

    Raises VideoError("unreadable") when the container cannot be opened or holds no
    video stream. Stops at the first decode error after at least one frame, adding a
    note to `notes` (a truncated file yields the frames before the damage).
    """
    notes = notes if notes is not None else []
    try:
        container = _open(source)
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError("unreadable", f"not a readable video ({type(exc).__name__})") from None
    with container:
        if not container.streams.video:
            raise VideoError("unreadable", "the file holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = float(stream.time_base) if stream.time_base else None
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        index, start, last = 0, None, None
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and base:
                    time = frame.pts * base
                else:  # no timestamp: one frame period after the previous frame
                    time = (last + 1 / rate) if last is not None else 0.0
                start = time if start is None else start
                last = time
                yield time - start, frame
                index += 1
        except (av.error.FFmpegError, ValueError) as exc:
            if index == 0:
                raise VideoError("unreadable", "no frame could be decoded") from None
            notes.append(
                f"decoding stopped after {index} frames ({type(exc).__name__}): "
                "the file is probably truncated"
            )
        promised = stream.frames or 0
        if promised and index < 0.9 * promised:
            notes.append(f"decoded {index} frames; the header promised {promised}")


def luma_thumbnail(frame: av.VideoFrame, step: int) -> np.ndarray:
    """Every `step`-th pixel of the luma plane, read straight from the decoder's buffer
    (no colour conversion, no scaling)."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[::step, : plane.width : step].copy()


_DIRECT_FORMATS = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray")


def decode(source: Source, *, thumb_width: int = 32, max_side: int = MAX_SIDE) -> DecodedVideo:
    """Decode the whole video once: thumbnails for every frame, frames kept as decoded.

    Frames larger than `max_side` on their long side are kept downscaled (memory stays
    about 1.4 MB a frame); a frame whose size differs from the first is scaled to it.
    """
    times, thumbs, frames, notes = [], [], [], []
    step = size = None
    for time, frame in iter_frames(source, notes):
        if size is None:
            scale = min(1.0, max_side / max(frame.width, frame.height))
            size = (int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2)
            if scale < 1:
                notes.append(
                    f"frames of {frame.width}x{frame.height} kept at "
                    f"{size[0]}x{size[1]}; boxes are in those pixels"
                )
            step = max(1, size[0] // thumb_width)
        if (frame.width, frame.height) != size or frame.format.name not in _DIRECT_FORMATS:
            frame = frame.reformat(width=size[0], height=size[1], format="yuv420p")
        times.append(time)
        thumbs.append(luma_thumbnail(frame, step))
        frames.append(frame)
    if not frames:
        raise VideoError("unreadable", "the video stream holds no frame")
    times_arr = np.asarray(times, float)
    duration = times_arr[-1] - times_arr[0]
    fps = (len(times) - 1) / duration if duration > 0 else 0.0
    return DecodedVideo(fps, size[0], size[1], times_arr, np.stack(thumbs), frames, notes)
