"""The renderer: the facial-action vocabulary (`ACTIONS`, `EXPRESSIONS`, `SKIN_TONES`),
each frame's actions (`expression_track`, where a planted bias acts), the drawn face
(`draw_face`, `render_video`) and its H.264 encoding (`write_video`).

The faces are cartoons drawn with OpenCV, not people. Each video starts from a
neutral face and ramps, from a subject-specific onset, to the target expression
at a subject-specific intensity; the faked codes (`H2N2A`, ...) first show the
"before" emotion, return to neutral, then ramp to the target, as in SASE-FE.
An expression is a vector of facial actions (brow raise and tilt, eye opening,
mouth curve, opening and asymmetry, nose wrinkle, upper-lip raise).
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from fer_audit.data.sasefe import CODES
from fer_audit.data.synthetic.bias import (
    Subject,
    SyntheticSettings,
    displayed_emotion,
    displays_other,
)
from fer_audit.seeding import seeded_rng

ACTIONS = (
    "brow_raise",
    "brow_tilt",
    "eye_open",
    "mouth_curve",
    "mouth_open",
    "mouth_asym",
    "nose_wrinkle",
    "lip_raise",
)

#: Full-intensity facial actions of each emotion (0 everywhere is the neutral face).
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happiness": {"mouth_curve": 1.0, "mouth_open": 0.35, "eye_open": -0.35},
    "sadness": {"mouth_curve": -1.1, "brow_tilt": 1.0, "eye_open": -0.45},
    "surprise": {"brow_raise": 1.0, "eye_open": 1.0, "mouth_open": 1.0},
    "anger": {"brow_raise": -0.9, "brow_tilt": -1.0, "eye_open": -0.4, "mouth_curve": -0.25},
    "disgust": {
        "nose_wrinkle": 1.0,
        "lip_raise": 1.0,
        "brow_raise": -0.5,
        "mouth_curve": -0.45,
        "eye_open": -0.5,
    },
    "contempt": {"mouth_asym": 1.0, "eye_open": -0.15, "brow_raise": 0.15},
}
#: The emotion a faked video shows first, from the first letter of its code.
_BEFORE = {"H": "happiness", "S": "sadness", "D": "disgust"}
SKIN_TONES = [
    (189, 224, 255),
    (160, 200, 240),
    (120, 170, 225),
    (90, 135, 190),
    (60, 100, 150),
    (45, 75, 115),
]  # BGR


def expression_track(
    subject: Subject, code: str, settings: SyntheticSettings, n_frames: int
) -> np.ndarray:
    """Facial actions per frame, shape (n_frames, len(ACTIONS))."""
    emotion, authenticity = CODES[code]
    strength = subject.intensity * (0.85 if authenticity == "fake" else 1.0)
    shown = emotion
    for bias in settings.biases:
        if not bias.applies(subject, emotion):
            continue
        if bias.shown_as is None:
            strength *= bias.factor
        elif displays_other(subject, code, bias, settings.seed):
            shown = displayed_emotion(subject, code, bias, settings.seed)
    t = np.linspace(0, 1, n_frames)
    target = _vector(shown) * strength
    ramp_up = np.clip((t - subject.onset) / subject.ramp, 0, 1)
    track = ramp_up[:, None] * target[None, :]
    if authenticity == "fake":
        before = _vector(_BEFORE[code[0].upper()]) * subject.intensity
        fade = np.clip(1 - t / max(subject.onset, 1e-3), 0, 1)
        track += fade[:, None] * before[None, :]
    return track + _vector_from(subject.resting)[None, :]


def render_video(subject: Subject, code: str, settings: SyntheticSettings) -> np.ndarray:
    """The frames of one video, uint8 RGB, shape (n, size, size, 3)."""
    n_frames = max(2, int(round(settings.fps * settings.duration_s)))
    track = expression_track(subject, code, settings, n_frames)
    rng = seeded_rng(settings.seed, subject.name, code)
    shift = rng.normal(0, 0.015, size=2)
    brightness = rng.uniform(0.85, 1.15)
    frames = np.empty((n_frames, settings.size, settings.size, 3), np.uint8)
    for i, actions in enumerate(track):
        jitter = shift + rng.normal(0, 0.003, size=2)
        canvas = draw_face(subject, dict(zip(ACTIONS, actions, strict=True)), settings.size, jitter)
        noisy = canvas.astype(np.float32) * brightness + rng.normal(0, 3, canvas.shape)
        frames[i] = np.clip(noisy, 0, 255).astype(np.uint8)[..., ::-1]
    return frames


def draw_face(
    subject: Subject, a: dict[str, float], size: int, offset: tuple[float, float] = (0.0, 0.0)
) -> np.ndarray:
    """One BGR frame of `subject` making the facial actions `a`, shifted by `offset`
    (fractions of the frame)."""
    scale = 16  # draw with 4-bit sub-pixel precision
    s = size * scale
    img = np.full((size, size, 3), (200, 205, 210), np.uint8)
    cx, cy = (0.5 + offset[0]) * s, (0.52 + offset[1]) * s
    fw, fh = subject.face_w * s, subject.face_h * s

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(cx + x * fw), int(cy + y * fh)

    def line(p, q, color, width):
        cv2.line(img, pt(*p), pt(*q), color, width, cv2.LINE_AA, 4)

    hair = (40, 45, 60)
    if subject.gender == "female":
        cv2.ellipse(
            img, pt(0, 0.15), (int(fw * 1.2), int(fh * 1.15)), 0, 180, 360, hair, -1, cv2.LINE_AA, 4
        )
        cv2.rectangle(img, pt(-1.2, 0.1), pt(1.2, 0.9), hair, -1, cv2.LINE_AA, 4)
    cv2.ellipse(img, pt(0, 0), (int(fw), int(fh)), 0, 0, 360, subject.skin, -1, cv2.LINE_AA, 4)
    if subject.gender != "female":
        cv2.ellipse(
            img,
            pt(0, -0.55),
            (int(fw * 0.95), int(fh * 0.5)),
            0,
            180,
            360,
            hair,
            -1,
            cv2.LINE_AA,
            4,
        )

    dark, width = (30, 30, 40), max(1, size // 40)
    gap = subject.eye_gap / subject.face_w
    eye_y, eye_h = -0.12, 0.07 * (1 + 0.8 * a["eye_open"])
    for side in (-1, 1):
        ex = side * gap
        cv2.ellipse(
            img,
            pt(ex, eye_y),
            (int(0.2 * fw), max(1, int(eye_h * fh))),
            0,
            0,
            360,
            (245, 245, 245),
            -1,
            cv2.LINE_AA,
            4,
        )
        cv2.circle(
            img,
            pt(ex, eye_y),
            max(1, int(0.06 * fw * max(0.4, 1 + 0.5 * a["eye_open"]))),
            dark,
            -1,
            cv2.LINE_AA,
            4,
        )
        brow_y = eye_y - 0.16 - 0.12 * a["brow_raise"]
        inner, outer = ex - side * 0.18, ex + side * 0.2
        tilt = 0.15 * a["brow_tilt"]  # positive: inner end up (sadness), negative: anger
        line((inner, brow_y - tilt), (outer, brow_y + tilt * 0.3), dark, width * 2)
    line((0, -0.05), (0, 0.18), tuple(int(c * 0.7) for c in subject.skin), width)
    if a["nose_wrinkle"] > 0.05:
        for dy in (-0.02, 0.03):
            w = 0.12 * a["nose_wrinkle"]
            line((-w, dy), (w, dy - 0.02), tuple(int(c * 0.6) for c in subject.skin), width)

    mouth_y, mw = 0.45 - 0.06 * a["lip_raise"], 0.38
    curve = 0.16 * a["mouth_curve"]
    corner_l = mouth_y - curve - 0.14 * a["mouth_asym"]
    corner_r = mouth_y - curve
    xs = np.linspace(-mw, mw, 21)
    bow = 1 - (xs / mw) ** 2
    base = corner_l + (corner_r - corner_l) * (xs + mw) / (2 * mw)
    upper = base + curve * bow - 0.04 * a["lip_raise"] * bow
    opening = 0.22 * max(a["mouth_open"], 0.0) * bow
    lower = upper + opening
    lips = (40, 40, 150)
    if a["mouth_open"] > 0.05:
        poly = np.array(
            [pt(x, y) for x, y in zip(xs, upper, strict=True)]
            + [pt(x, y) for x, y in zip(xs[::-1], lower[::-1], strict=True)]
        )
        cv2.fillPoly(img, [poly], (30, 20, 60), cv2.LINE_AA, 4)
    for ys in (upper, lower):
        poly = np.array([pt(x, y) for x, y in zip(xs, ys, strict=True)])
        cv2.polylines(img, [poly], False, lips, width * 2, cv2.LINE_AA, 4)
    return img


def write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    """Encode RGB frames as H.264 (yuv420p) MP4."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "fast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _vector(emotion: str) -> np.ndarray:
    return _vector_from(EXPRESSIONS[emotion])


def _vector_from(actions: dict[str, float]) -> np.ndarray:
    return np.array([actions.get(a, 0.0) for a in ACTIONS])
