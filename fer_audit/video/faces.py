"""Face detection (facenet-pytorch MTCNN) and the paper's square face crops.

One face per frame: the most confident detection (MTCNN's probability), which on
FER clips is the subject in front of the camera. Detection can run on a downscaled
copy of the frame (`detect_width`), with the box mapped back to full resolution.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

#: the crop side the paper's margins (video.settings.MARGINS) are pixels of, as
#: facenet-pytorch counts them
PAPER_CROP = 256


@dataclass(frozen=True)
class Detection:
    box: np.ndarray | None  # x1, y1, x2, y2 in full-resolution pixels
    probability: float


def resolve_device(device: str = "auto") -> str:
    """`auto` picks CUDA when present, else the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is available here")
    return device


@functools.lru_cache(maxsize=4)
def _mtcnn(device: str):
    from facenet_pytorch import MTCNN

    return MTCNN(keep_all=True, device=device, post_process=False)


class FaceDetector:
    """MTCNN from the facenet-pytorch wheel (weights ship inside it)."""

    name = "mtcnn"

    def __init__(self, device: str = "auto", detect_width: int | None = 320):
        self.device = resolve_device(device)
        self.detect_width = detect_width
        self.model = _mtcnn(self.device)

    def detect(self, frames: list[np.ndarray]) -> list[Detection]:
        """The most confident face of each RGB frame (box None when there is none)."""
        if not frames:
            return []
        height, width = frames[0].shape[:2]
        scale = 1.0
        if self.detect_width and width > self.detect_width:
            scale = width / self.detect_width
            size = (self.detect_width, int(round(height / scale)))
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
        same_size = len({f.shape for f in frames}) == 1
        if same_size:
            boxes, probs = self.model.detect(np.stack(frames))
        else:
            pairs = [self.model.detect(f) for f in frames]
            boxes, probs = [p[0] for p in pairs], [p[1] for p in pairs]
        return [_best(b, p, scale) for b, p in zip(boxes, probs, strict=True)]


def _best(boxes, probs, scale: float) -> Detection:
    if boxes is None or len(boxes) == 0:
        return Detection(None, 0.0)
    probs = np.asarray(probs, float)
    i = int(np.nanargmax(probs))
    return Detection(np.asarray(boxes[i], float) * scale, float(probs[i]))


class WholeFrame:
    """`--detector none`: the whole frame is taken as the face (synthetic data)."""

    name = "none"

    def detect(self, frames: list[np.ndarray]) -> list[Detection]:
        return [Detection(np.array([0, 0, f.shape[1], f.shape[0]], float), 1.0) for f in frames]


def square_crop(frame: np.ndarray, box: np.ndarray, *, margin: int, size: int) -> np.ndarray:
    """A square crop around `box`, widened by the paper's MTCNN margin, resized to `size`.

    As in facenet-pytorch, `margin` is in pixels of a PAPER_CROP (256) pixel crop: the
    box grows by margin / (256 - margin) of its size, half on each side. The square's
    side is the larger of the widened width and height; parts outside the frame are
    black.
    """
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + margin / (PAPER_CROP - margin))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    side = max(1, int(round(side)))
    height, width = frame.shape[:2]
    canvas = np.zeros((side, side, 3), np.uint8)
    sx0, sy0 = max(left, 0), max(top, 0)
    sx1, sy1 = min(left + side, width), min(top + side, height)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = frame[sy0:sy1, sx0:sx1]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interpolation)
