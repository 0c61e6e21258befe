"""The planted bias (`PlantedBias`, `DEFAULT_BIAS`, and which videos a display bias
changes), with the records it is read against: a drawn `Subject` and the
`SyntheticSettings` that carry the biases.

A planted bias acts on one emotion of one group, in one of two ways:

- intensity: `PlantedBias("female", "sadness", 0.4)`: female subjects' sadness
  reaches only 40% of its usual intensity. Weak but still distinct, a model that
  sees such faces in training often learns them anyway, so the gap it leaves is
  small and depends on the draw.
- display: `PlantedBias("female", "sadness", 0.75, shown_as="anger+disgust+contempt")`:
  75% of female subjects' sadness videos (each chosen by a seeded draw) show one of
  the anger, disgust or contempt expressions while still labelled sadness, as if
  those subjects displayed sadness the way others display the Upset emotions. A
  model sees each such look labelled upset five times as often as sadness, so it
  reads those videos as upset: sadness TPR is lower for women (and upset FPR higher)
  by about the share. This is the default: the gap it plants is one an audit must
  find. (With a single shown emotion, e.g. `shown_as="anger"`, the look is labelled
  sadness often enough that a model partly learns it from the women's hair, and the
  gap it leaves depends on the draw.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fer_audit.data.sasefe import CODES
from fer_audit.labels import SASEFE_EMOTIONS
from fer_audit.seeding import seeded_rng


@dataclass(frozen=True)
class PlantedBias:
    """For subjects of `group`: without `shown_as`, scale the intensity of `emotion`
    by `factor`; with it, let a share `factor` of their `emotion` videos show the
    `shown_as` expression instead (still labelled `emotion`)."""

    group: str
    emotion: str
    factor: float
    shown_as: str | None = None

    def __post_init__(self) -> None:
        for name in (self.emotion, *self.shown):
            if name not in SASEFE_EMOTIONS:
                raise ValueError(f"bias emotion {name!r} is not one of {SASEFE_EMOTIONS}")
        if self.emotion in self.shown:
            raise ValueError(f"bias shows {self.emotion} as itself: choose another emotion")
        limit = 1 if self.shown_as else 2
        if not 0 <= self.factor <= limit:
            raise ValueError(f"bias factor {self.factor} must lie in [0, {limit}]")

    @classmethod
    def parse(cls, text: str) -> PlantedBias:
        """From `group:emotion:factor[:shown_as]`, e.g. `female:sadness:0.4` (intensity)
        or `female:sadness:0.75:anger+disgust+contempt` (display)."""
        parts = [p.strip().lower() for p in text.split(":")]
        try:
            if len(parts) not in (3, 4):
                raise ValueError
            factor = float(parts[2])
        except ValueError:
            raise ValueError(
                f"bias {text!r} is not group:emotion:factor[:shown_as] "
                f"(e.g. female:sadness:0.4 or female:sadness:0.75:anger+disgust+contempt)"
            ) from None
        return cls(parts[0], parts[1], factor, parts[3] if len(parts) == 4 else None)

    @property
    def shown(self) -> tuple[str, ...]:
        """The emotions a display bias shows instead (`anger+disgust`: one of them)."""
        return tuple(self.shown_as.split("+")) if self.shown_as else ()

    def describe(self) -> str:
        if self.shown_as:
            what = (
                f"the {self.shown[0]} expression"
                if len(self.shown) == 1
                else f"one of the {', '.join(self.shown[:-1])} or {self.shown[-1]} expressions"
            )
            return (
                f"for {self.group} subjects {self.factor:.0%} of {self.emotion} videos "
                f"show {what} (still labelled {self.emotion})"
            )
        return (
            f"for {self.group} subjects the {self.emotion} expression reaches "
            f"{self.factor:.0%} of its usual intensity"
        )

    def applies(self, subject: Subject, emotion: str) -> bool:
        return subject.gender == self.group and emotion == self.emotion


#: The bias `fer-audit synth` and the demo plant unless told otherwise. The displayed
#: expressions are spread over the three emotions of the Upset class, so each of them
#: is seen labelled upset five times as often as labelled sadness: a model cannot learn
#: to read them as sad, even from the women's hair.
DEFAULT_BIAS = PlantedBias("female", "sadness", 0.75, shown_as="anger+disgust+contempt")


@dataclass(frozen=True)
class SyntheticSettings:
    subjects_per_group: dict[str, int] = field(default_factory=lambda: {"female": 12, "male": 12})
    biases: tuple[PlantedBias, ...] = (DEFAULT_BIAS,)
    seed: int = 0
    size: int = 112
    fps: int = 25
    duration_s: float = 3.0

    def __post_init__(self) -> None:
        problems = []
        if not self.subjects_per_group or any(n < 1 for n in self.subjects_per_group.values()):
            problems.append("give at least one group with at least one subject")
        if self.size < 32 or self.size % 2:
            problems.append(f"size must be even and at least 32 (H.264 4:2:0), not {self.size}")
        if self.fps < 1 or self.duration_s <= 0 or self.fps * self.duration_s < 2:
            problems.append("fps and duration must give at least 2 frames")
        for bias in self.biases:
            if bias.group not in self.subjects_per_group:
                problems.append(
                    f"bias group {bias.group!r} is not one of the generated groups "
                    f"{', '.join(self.subjects_per_group)}"
                )
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Subject:
    name: str
    gender: str
    intensity: float
    onset: float  # fraction of the video where the ramp starts
    ramp: float  # fraction of the video the ramp lasts
    skin: tuple[int, int, int]
    face_w: float
    face_h: float
    eye_gap: float
    resting: dict[str, float]  # the subject's own resting-face offsets


def displays_other(subject: Subject, code: str, bias: PlantedBias, seed: int) -> bool:
    """Whether this video of a display bias shows `bias.shown_as` (a seeded draw)."""
    draw = seeded_rng(seed, subject.name, code, "display-bias").uniform()
    return (
        bias.shown_as is not None and bias.applies(subject, CODES[code][0]) and (draw < bias.factor)
    )


def displayed_emotion(subject: Subject, code: str, bias: PlantedBias, seed: int) -> str:
    """Which of a display bias's emotions this video shows (a seeded draw)."""
    choice = seeded_rng(seed, subject.name, code, "display-which").integers(len(bias.shown))
    return bias.shown[int(choice)]
