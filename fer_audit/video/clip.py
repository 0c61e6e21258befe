"""One clip in, keyframes with face crops, boxes and frame times out.

Two orders of work, both picking K representative frames by K-means:

- `fast` (default): decode once keeping luma thumbnails, choose the K keyframes by
  K-means on the whole-frame thumbnails, read only those K frames again (a second
  decoding pass) in RGB, detect faces on downscaled copies of them (boxes mapped
  back), crop at full resolution.
  A keyframe where no face is found borrows the box of the nearest keyframe that has
  one (`face_found` says which); with faces in fewer than half the keyframes the clip
  is `no_face`.
- `paper`: the paper's order: MTCNN on every frame at full resolution, then K-means
  on the face crops of the frames where a face was found. The detector runs on each
  frame as it is decoded, keeping its box and a 32x32 grey copy of its crop (what
  K-means reads); the chosen frames are read again to crop them.

Neither order holds every frame: what they keep grows by about a kilobyte a frame
at most (times and luma thumbnails, see `decode`; the paper order's 32x32 features).

The two orders cluster different features (whole frames against face crops), so
they pick similar moments, not the same frames: `benchmarks/bench_preprocess.py`
measures how often they agree.

The live demo and the dataset preprocessing both call `process_clip`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from fer_audit.video.decode import DecodedVideo, Source, VideoError, decode
from fer_audit.video.faces import FaceDetector, WholeFrame, square_crop
from fer_audit.video.keyframes import select_keyframes
from fer_audit.video.settings import PreprocessSettings

STATUSES = ("ok", "no_face", "unreadable", "too_short", "too_long")
#: below this share of keyframes with a face, a clip is `no_face`
PREVIEW_SIDE = 320
MIN_FACE_SHARE = 0.5


@dataclass
class ClipResult:
    status: str
    reason: str = ""
    crops: np.ndarray | None = None  # (K, size, size, 3) uint8 RGB
    frame_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # full-res pixels
    face_found: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    notes: list[str] = field(default_factory=list)
    #: the keyframes themselves, long side at most PREVIEW_SIDE, when asked for (not
    #: cached; for display)
    previews: list[np.ndarray] = field(default_factory=list, repr=False)
    preview_scale: float = 1.0  # preview pixels per pixel of `boxes`

    @property
    def preview_boxes(self) -> np.ndarray:
        """`boxes` in the pixels of `previews`."""
        return self.boxes * self.preview_scale

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def make_detector(settings: PreprocessSettings, device: str = "auto"):
    if settings.detector == "none":
        return WholeFrame()
    width = settings.detect_width if settings.mode == "fast" else None
    return FaceDetector(device, detect_width=width)


def process_clip(
    source: Source,
    settings: PreprocessSettings | None = None,
    *,
    detector=None,
    previews: bool = False,
    max_seconds: float | None = None,
    max_frames: int | None = None,
) -> ClipResult:
    """Keyframes and face crops of one clip (a path or the bytes of an upload); with
    `previews` (fast mode), also the keyframes themselves, downscaled, for display.

    Never raises for a bad clip: the result's status says ok, no_face, unreadable,
    too_short or too_long (beyond `max_seconds` or `max_frames`, when given), and
    `reason` says why (an unexpected decoder failure is `unreadable`, with the
    error's type and message).
    """
    settings = settings or PreprocessSettings()
    detector = detector or make_detector(settings)
    faces = _PaperFaces(detector, settings) if settings.mode == "paper" else None
    try:
        video = decode(source, max_seconds=max_seconds, max_frames=max_frames, on_frame=faces)
    except VideoError as exc:
        return ClipResult(exc.status, exc.reason)
    except Exception as exc:  # a decoder can fail in many ways; one clip must not stop a batch
        if faces is not None and faces.busy:  # the detector failed, not the decoder
            raise
        return ClipResult("unreadable", f"decoding failed: {type(exc).__name__}: {exc}")
    try:
        if faces is not None:
            return _paper(video, settings, faces)
        return _fast(video, settings, detector, previews=previews)
    except VideoError as exc:
        return _describe(ClipResult(exc.status, exc.reason), video)


def _describe(result: ClipResult, video: DecodedVideo) -> ClipResult:
    result.n_frames, result.fps = video.n_frames, video.fps
    result.width, result.height = video.width, video.height
    result.notes += video.notes
    return result


def _fast(
    video: DecodedVideo, settings: PreprocessSettings, detector, *, previews: bool = False
) -> ClipResult:
    keys = select_keyframes(video.thumbnails, video.times, k=settings.k, seed=settings.seed)
    frames = video.rgb_frames(keys)
    detections = detector.detect(frames)
    found = np.array([d.box is not None for d in detections])
    result = ClipResult(
        "ok",
        frame_numbers=keys,
        times=video.times[keys],
        face_found=found,
        probabilities=np.array([d.probability for d in detections]),
    )
    if previews and frames:
        result.previews = [_preview(f) for f in frames]
        result.preview_scale = min(1.0, PREVIEW_SIDE / max(frames[0].shape[:2]))
    _describe(result, video)
    if found.mean() < MIN_FACE_SHARE:
        result.status = "no_face"
        result.reason = (
            f"no face in any of the {len(keys)} keyframes"
            if not found.any()
            else f"a face in only {int(found.sum())} of {len(keys)} keyframes"
        )
        result.boxes = np.array(
            [d.box if d.box is not None else np.full(4, np.nan) for d in detections]
        )
        return result
    boxes = _fill_missing_boxes([d.box for d in detections], video.times[keys])
    result.boxes = boxes
    result.crops = np.stack(
        [
            square_crop(f, b, margin=settings.margin, size=settings.size)
            for f, b in zip(frames, boxes, strict=True)
        ]
    )
    if not found.all():
        result.notes.append(
            f"no face found in {int((~found).sum())} of {len(keys)} keyframes; "
            "their crops use the nearest keyframe's box"
        )
    return result


def _preview(frame: np.ndarray) -> np.ndarray:
    scale = PREVIEW_SIDE / max(frame.shape[:2])
    if scale >= 1:
        return frame
    size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _fill_missing_boxes(boxes: list, times: np.ndarray) -> np.ndarray:
    """Boxes for every keyframe: a missing one takes the box nearest in time."""
    have = [i for i, b in enumerate(boxes) if b is not None]
    out = np.zeros((len(boxes), 4))
    for i, box in enumerate(boxes):
        nearest = (
            box if box is not None else boxes[min(have, key=lambda j: abs(times[j] - times[i]))]
        )
        out[i] = nearest
    return out


class _PaperFaces:
    """The paper order's pass over every frame, as it is decoded: the detector on the
    frame at full resolution; of each frame with a face, its index, box, probability
    and the 32x32 grey copy of its crop that K-means reads (not the crop itself)."""

    def __init__(self, detector, settings: PreprocessSettings):
        self.detector, self.settings = detector, settings
        self.kept: list[int] = []
        self.boxes: list[np.ndarray] = []
        self.probabilities: list[float] = []
        self.features: list[np.ndarray] = []
        self.busy = False  # inside the detector (an error there is not the decoder's)
        self.to_rgb = VideoReformatter()  # one converter for the clip, not one per frame

    def __call__(self, index: int, time: float, frame) -> None:
        self.busy = True
        rgb = self.to_rgb.reformat(frame, format="rgb24").to_ndarray()
        (detection,) = self.detector.detect([rgb])
        if detection.box is not None:
            self.kept.append(index)
            self.boxes.append(detection.box)
            self.probabilities.append(detection.probability)
            self.features.append(_feature(self.crop(rgb, detection.box)))
        self.busy = False

    def crop(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        return square_crop(frame, box, margin=self.settings.margin, size=self.settings.size)


def _feature(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (32, 32))


def _paper(video: DecodedVideo, settings: PreprocessSettings, faces: _PaperFaces) -> ClipResult:
    result = _describe(ClipResult("ok"), video)
    if not faces.kept:
        result.status, result.reason = "no_face", f"no face in any of {video.n_frames} frames"
        return result
    kept_arr = np.asarray(faces.kept)
    features = np.stack(faces.features)
    chosen = select_keyframes(features, video.times[kept_arr], k=settings.k, seed=settings.seed)
    result.frame_numbers = kept_arr[chosen]
    result.times = video.times[result.frame_numbers]
    boxes = [faces.boxes[i] for i in chosen]
    frames = video.rgb_frames(result.frame_numbers)
    result.crops = np.stack([faces.crop(f, b) for f, b in zip(frames, boxes, strict=True)])
    result.boxes = np.stack(boxes)
    result.probabilities = np.asarray([faces.probabilities[i] for i in chosen])
    result.face_found = np.ones(len(chosen), bool)
    return result
