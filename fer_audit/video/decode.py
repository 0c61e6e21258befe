"""Decoding with PyAV, streamed, in order (torchvision no longer decodes video).

Memory stays bounded whatever the clip's length: `decode` keeps, of every frame, only
its time and a small luma thumbnail (about 600 bytes for 720p), which is all keyframe
selection needs; the K keyframes are read again at full resolution by a second pass
(`DecodedVideo.rgb_frames`), which converts only them. A caller that needs more of
every frame (the paper mode's face detection) sees each one as it is decoded
(`on_frame`) and keeps what it needs of it.

Frame counts in container headers are often wrong; nothing here trusts them: frames
are counted as they are decoded, and a stream that breaks off part-way (a truncated
file) yields what it could decode, with a note.

`fer-audit predict` and the live demo read clips up to MAX_CLIP_SECONDS and
MAX_CLIP_FRAMES (VideoError "too_long" beyond); dataset preprocessing has no cap.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter


class VideoError(Exception):
    """A video that cannot be used; `status` is one of the report's statuses."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


Source = str | Path | bytes
#: the long side, in pixels, above which frames are read downscaled
MAX_SIDE = 1280
#: the longest clip `fer-audit predict` and the live demo read (10 minutes)
MAX_CLIP_SECONDS = 600.0
#: the most frames they read (10 minutes at 60 fps)
MAX_CLIP_FRAMES = 36_000
#: a container's stated duration may exceed the last frame's time by this much
_HEADER_SLACK_S = 1.0


def clock(seconds: float) -> str:
    """750 -> '12:30', 3725 -> '1:02:05' (whole seconds)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _too_long(length: str, max_seconds: float) -> VideoError:
    return VideoError(
        "too_long", f"clip is {length} long; fer-audit reads clips up to {clock(max_seconds)}"
    )


@dataclass
class DecodedVideo:
    """Every frame's time and luma thumbnail (for keyframe selection), not the frames.

    `rgb_frames` decodes the clip again and converts only the frames asked for (the
    keyframes), so memory does not grow with the clip's length.
    """

    fps: float
    width: int  # of the frames as read (downscaled beyond `max_side`)
    height: int
    times: np.ndarray  # seconds, per decoded frame
    thumbnails: np.ndarray  # (n, h, w) uint8 luma, every `thumb_step`-th pixel
    source: Source = field(repr=False)
    thumb_step: int = 1
    max_side: int = MAX_SIDE
    notes: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.times)

    def rgb_frames(self, indices) -> list[np.ndarray]:
        """RGB frames (as read: full resolution up to `max_side`) at `indices`, in the
        order given, from a second decoding pass that stops after the last one.

        Each frame's thumbnail is checked against the first pass's: VideoError
        ("unreadable") when the clip does not decode the same way again.
        """
        indices = [int(i) for i in indices]
        if not indices:
            return []
        wanted, last = set(indices), max(indices)
        if min(indices) < 0 or last >= self.n_frames:
            raise IndexError(f"frames {sorted(wanted)} of a clip of {self.n_frames} frames")
        found: dict[int, np.ndarray] = {}
        to_rgb = VideoReformatter()  # one colour converter for the clip, not one per frame
        with closing(normalized_frames(self.source, max_side=self.max_side)) as frames:
            for index, _, frame in frames:
                if index in wanted:
                    thumbnail = luma_thumbnail(frame, self.thumb_step)
                    if not np.array_equal(thumbnail, self.thumbnails[index]):
                        raise VideoError(
                            "unreadable", "the clip decoded differently when read again"
                        )
                    found[index] = to_rgb.reformat(frame, format="rgb24").to_ndarray()
                if index >= last:
                    break
        if len(found) < len(wanted):
            raise VideoError("unreadable", "the clip held fewer frames when read again")
        return [found[i] for i in indices]

    def rgb(self, index: int) -> np.ndarray:
        return self.rgb_frames([index])[0]


def open_video(source: Source):
    """The opened container of a video that holds a video stream (use it in a `with`);
    VideoError("unreadable") saying why not: missing, empty, not a readable container,
    no video stream."""
    try:
        container = _open(source)
    except VideoError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError("unreadable", f"not a readable video ({type(exc).__name__})") from None
    if not container.streams.video:
        container.close()
        raise VideoError("unreadable", "the file holds no video stream")
    return container


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


def _stated_seconds(container, stream) -> float | None:
    """The duration the container states (not trusted for anything but a quick no)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def iter_frames(
    source: Source,
    notes: list[str] | None = None,
    *,
    max_seconds: float | None = None,
    max_frames: int | None = None,
) -> Iterator[tuple[float, av.VideoFrame]]:
    """(seconds since the first frame, frame) for every decodable frame, in order.

    Raises VideoError("unreadable") when the container cannot be opened or holds no
    video stream. Stops at the first decode error after at least one frame, adding a
    note to `notes` (a truncated file yields the frames before the damage). Raises
    VideoError("too_long") when the container states a duration beyond `max_seconds`
    (before decoding), or when a frame lies beyond `max_seconds` or `max_frames`.
    """
    notes = notes if notes is not None else []
    with open_video(source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if max_seconds is not None:
            stated = _stated_seconds(container, stream)
            if stated is not None and stated > max_seconds + _HEADER_SLACK_S:
                # a quick no before decoding minutes of video; the message says whose word
                # it is, in case the header is wrong
                raise VideoError(
                    "too_long",
                    f"the file says the clip is {clock(stated)} long; fer-audit reads clips "
                    f"up to {clock(max_seconds)}",
                )
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
                if max_seconds is not None and time - start > max_seconds:
                    raise _too_long(f"over {clock(max_seconds)}", max_seconds)
                if max_frames is not None and index >= max_frames:
                    raise VideoError(
                        "too_long",
                        f"clip holds over {max_frames} frames; fer-audit reads clips of "
                        f"up to {max_frames} frames",
                    )
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


_DIRECT_FORMATS = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray")


def normalized_frames(
    source: Source,
    notes: list[str] | None = None,
    *,
    max_side: int = MAX_SIDE,
    max_seconds: float | None = None,
    max_frames: int | None = None,
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """(index, seconds, frame) as `iter_frames`, every frame at the first one's size
    (downscaled when its long side exceeds `max_side`) in a planar YUV or gray format
    whose first plane is luma. Both of `decode`'s passes read frames through here."""
    notes = notes if notes is not None else []
    size = None
    # one scaler for the clip: a frame's own reformat() sets one up per frame (on the
    # demo's small clips that setup was about a tenth of preprocessing)
    scaler = VideoReformatter()
    frames = iter_frames(source, notes, max_seconds=max_seconds, max_frames=max_frames)
    for index, (time, frame) in enumerate(frames):
        if size is None:
            scale = min(1.0, max_side / max(frame.width, frame.height))
            size = (int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2)
            if scale < 1:
                notes.append(
                    f"frames of {frame.width}x{frame.height} read at "
                    f"{size[0]}x{size[1]}; boxes are in those pixels"
                )
        if (frame.width, frame.height) != size or frame.format.name not in _DIRECT_FORMATS:
            frame = scaler.reformat(frame, width=size[0], height=size[1], format="yuv420p")
        yield index, time, frame


def luma_thumbnail(frame: av.VideoFrame, step: int) -> np.ndarray:
    """Every `step`-th pixel of the luma plane, read straight from the decoder's buffer
    (no colour conversion, no scaling)."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[::step, : plane.width : step].copy()


def decode(
    source: Source,
    *,
    thumb_width: int = 32,
    max_side: int = MAX_SIDE,
    max_seconds: float | None = None,
    max_frames: int | None = None,
    on_frame: Callable[[int, float, av.VideoFrame], None] | None = None,
) -> DecodedVideo:
    """One streaming pass over the video: every frame's time and luma thumbnail
    (about `thumb_width` pixels wide); no frame is kept.

    Frames larger than `max_side` on their long side are read downscaled; a frame
    whose size differs from the first is scaled to it. `on_frame(index, seconds,
    frame)` sees every frame as read, while it is decoded. Beyond `max_seconds` or
    `max_frames`: VideoError("too_long").
    """
    times, thumbs, notes = [], [], []
    step = size = None
    frames = normalized_frames(
        source, notes, max_side=max_side, max_seconds=max_seconds, max_frames=max_frames
    )
    for index, time, frame in frames:
        if size is None:
            size = (frame.width, frame.height)
            step = max(1, size[0] // thumb_width)
        times.append(time)
        thumbs.append(luma_thumbnail(frame, step))
        if on_frame is not None:
            on_frame(index, time, frame)
    if not times:
        raise VideoError("unreadable", "the video stream holds no frame")
    times_arr = np.asarray(times, float)
    duration = times_arr[-1] - times_arr[0]
    fps = (len(times) - 1) / duration if duration > 0 else 0.0
    return DecodedVideo(
        fps, size[0], size[1], times_arr, np.stack(thumbs), source, step, max_side, notes
    )
