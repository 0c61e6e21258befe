"""The emotion vocabulary and the label schemes that map emotions to classes.

Every dataset adapter writes one of the canonical emotion names below into the
`emotion` column of the dataset index. A label scheme then maps emotions to the
classes a model predicts. Emotions a scheme does not cover (neutral, calm, fear
under the SASE-FE schemes) are reported and excluded, never silently mapped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

#: The six emotions of SASE-FE, in the order the paper lists them.
SASEFE_EMOTIONS: tuple[str, ...] = (
    "anger",
    "contempt",
    "disgust",
    "happiness",
    "sadness",
    "surprise",
)

#: Emotions that other datasets hold and that no SASE-FE scheme covers.
OTHER_EMOTIONS: tuple[str, ...] = ("neutral", "calm", "fear")

EMOTIONS: tuple[str, ...] = SASEFE_EMOTIONS + OTHER_EMOTIONS

#: The paper's training sets, in the order it reports them: every training subject
#: (Regular), then the female and the male training subjects alone.
TRAIN_SETS: tuple[str, ...] = ("regular", "female", "male")


def train_set_order(train_sets: Iterable[str]) -> list[str]:
    """The training sets present: TRAIN_SETS' order first, then any others sorted."""
    present = set(train_sets)
    known = [t for t in TRAIN_SETS if t in present]
    return known + sorted(present - set(known))


_ALIASES: dict[str, str] = {
    "angry": "anger",
    "ang": "anger",
    "contemptuous": "contempt",
    "disgusted": "disgust",
    "dis": "disgust",
    "happy": "happiness",
    "hap": "happiness",
    "joy": "happiness",
    "sad": "sadness",
    "surprised": "surprise",
    "sur": "surprise",
    "neu": "neutral",
    "fearful": "fear",
    "fea": "fear",
    "afraid": "fear",
}


class UnknownEmotionError(ValueError):
    """An emotion name that is neither canonical nor a known alias."""


def normalize_emotion(name: str) -> str:
    """Return the canonical emotion for `name` (case and common spellings ignored)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in EMOTIONS:
        raise UnknownEmotionError(
            f"unknown emotion {name!r}; expected one of {', '.join(EMOTIONS)} "
            f"(or a common spelling such as happy, angry, surprised)"
        )
    return key


@dataclass(frozen=True)
class LabelScheme:
    """A mapping from canonical emotions to the classes of a model."""

    name: str
    classes: tuple[str, ...]
    mapping: dict[str, str]
    description: str

    def class_of(self, emotion: str) -> str | None:
        """The class of `emotion`, or None when this scheme does not cover it."""
        return self.mapping.get(emotion)

    def unmapped(self, emotions: Iterable[str]) -> dict[str, int]:
        """Count the emotions in `emotions` that this scheme does not cover."""
        return dict(Counter(e for e in emotions if e not in self.mapping))


PAPER4 = LabelScheme(
    name="paper4",
    classes=("surprised", "upset", "sad", "happy"),
    mapping={
        "surprise": "surprised",
        "anger": "upset",
        "disgust": "upset",
        "contempt": "upset",
        "sadness": "sad",
        "happiness": "happy",
    },
    description="The paper's four classes: Surprised, Upset (anger + disgust + contempt), "
    "Sad, Happy.",
)

SIX = LabelScheme(
    name="six",
    classes=SASEFE_EMOTIONS,
    mapping={e: e for e in SASEFE_EMOTIONS},
    description="All six SASE-FE emotions as separate classes.",
)

SCHEMES: dict[str, LabelScheme] = {s.name: s for s in (PAPER4, SIX)}


def get_scheme(name: str) -> LabelScheme:
    """Look up a label scheme by name (`paper4` or `six`)."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(
            f"unknown label scheme {name!r}; choose one of {', '.join(SCHEMES)}"
        ) from None


@dataclass(frozen=True)
class SchemeApplication:
    """A dataset index restricted to the emotions a scheme covers."""

    index: pd.DataFrame  # the covered rows, with a `label` column added
    excluded: dict[str, int]  # emotion -> number of videos left out

    def describe_excluded(self) -> str:
        if not self.excluded:
            return "no videos excluded"
        parts = ", ".join(f"{n} {e}" for e, n in sorted(self.excluded.items()))
        return f"excluded (not covered by the scheme): {parts}"


def apply_scheme(index: pd.DataFrame, scheme: LabelScheme | str) -> SchemeApplication:
    """Add a `label` column from `emotion`; rows the scheme does not cover are excluded
    and counted, never mapped to a nearby class."""
    scheme = get_scheme(scheme) if isinstance(scheme, str) else scheme
    labels = index["emotion"].map(scheme.mapping)
    covered = labels.notna()
    mapped = index.loc[covered].copy()
    mapped["label"] = labels[covered].astype(str)
    return SchemeApplication(index=mapped, excluded=scheme.unmapped(index["emotion"]))


@dataclass(frozen=True)
class ModelClasses:
    """A model's classes in output order and the canonical emotion each stands for
    (None: none of EMOTIONS), so that its outputs map onto any label scheme.

    A class maps onto a scheme through its emotion; a class without an emotion, or
    whose emotion the scheme does not cover (fear, neutral under `paper4`), is
    *unmapped* there: reported, never given to a nearby class.
    """

    classes: tuple[str, ...]
    emotions: tuple[str | None, ...]

    def unmapped(self, scheme: LabelScheme) -> list[str]:
        """The model's classes that have no class under `scheme`, in output order."""
        return [
            c
            for c, e in zip(self.classes, self.emotions, strict=True)
            if e is None or scheme.class_of(e) is None
        ]

    def never_predicted(self, scheme: LabelScheme) -> list[str]:
        """The classes of `scheme` that no class of the model maps onto (the model can
        never predict them there)."""
        reached = {scheme.class_of(e) for e in self.emotions if e is not None}
        return [c for c in scheme.classes if c not in reached]

    def onto(self, probabilities, scheme: LabelScheme):
        """(N, len(classes)) probabilities -> ((N, len(scheme.classes)) probabilities,
        (N,) unmapped share).

        A scheme class's probability is the sum over the model classes mapped onto it;
        unmapped classes are left out and each row renormalised over the mapped ones. A
        row whose whole probability lies on unmapped classes gets equal probabilities
        (its unmapped share, 1, says so).
        """
        import numpy as np

        probabilities = np.asarray(probabilities, float)
        mapped = np.zeros((len(probabilities), len(scheme.classes)))
        for j, emotion in enumerate(self.emotions):
            cls = None if emotion is None else scheme.class_of(emotion)
            if cls is not None:
                mapped[:, scheme.classes.index(cls)] += probabilities[:, j]
        covered = mapped.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            normalised = np.where(covered > 0, mapped / covered, 1 / len(scheme.classes))
        return normalised, 1 - covered[:, 0]
