"""Training augmentation on cached clips (the paper's section 3.2.3).

Horizontal flip, a small rotation and a brightness change, each applied with
probability 0.5 and drawn once per clip, so every frame of a clip gets the same
transformation (a flip that changed between frames would be a motion the face
never made).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augment:
    p: float = 0.5
    max_degrees: float = 10.0
    max_brightness: float = 0.2  # +-20%

    def draw(self, rng: np.random.Generator) -> dict:
        """One clip's transformation."""
        return {
            "flip": bool(rng.random() < self.p),
            "degrees": float(rng.uniform(-self.max_degrees, self.max_degrees))
            if rng.random() < self.p
            else 0.0,
            "brightness": float(1 + rng.uniform(-self.max_brightness, self.max_brightness))
            if rng.random() < self.p
            else 1.0,
        }

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """`clip` (K, H, W, 3) uint8 -> the same shape, one draw for all K frames."""
        return apply(clip, **self.draw(rng))


def apply(clip: np.ndarray, *, flip: bool, degrees: float, brightness: float) -> np.ndarray:
    out = clip[:, :, ::-1] if flip else clip
    if degrees:
        height, width = clip.shape[1:3]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        out = np.stack(
            [
                cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
                for frame in out
            ]
        )
    if brightness != 1.0:
        out = np.clip(out.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)
