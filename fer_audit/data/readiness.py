"""Readiness of a dataset for training and audit under one preprocessing: which subjects
have no usable clip (every video failed: no face, unreadable, too short), and what that
leaves each training set and each test group, with what to change. Read before a job
would fail on it ("no usable clip for subjects ...", "too few training subjects to hold
one out for validation", "found only female")."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from fer_audit.data.fixes import FIX_PREPROCESSING, FIX_SPLIT
from fer_audit.data.splits import REGULAR, HeldOutSplit

#: training subjects a training set needs: one is held out for validation
MIN_TRAINING_SUBJECTS = 2


@dataclass(frozen=True)
class Readiness:
    #: subject -> gender, for subjects none of whose videos came out usable
    without_clips: dict[str, str]
    #: training set -> its training subjects (not held out) that have a usable clip
    training_subjects: dict[str, int]
    #: what stops the audit (the test split), each with what to change
    test_problems: list[str] = field(default_factory=list)
    #: training set -> what stops training it, with what to change
    train_problems: dict[str, str] = field(default_factory=dict)
    #: what weakens the audit without stopping it (test subjects lost from a group)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [*self.test_problems, *self.train_problems.values(), *self.notes]

    @property
    def ready(self) -> bool:
        return not self.problems

    def training_words(self) -> str | None:
        """ "training subjects with a usable clip per training set: regular 4, female 2,
        male 2 (...)"; None before a split is drawn (nothing counted)."""
        if not self.training_subjects:
            return None
        counts = ", ".join(f"{t} {n}" for t, n in self.training_subjects.items())
        return (
            f"training subjects with a usable clip per training set: {counts} (at least one "
            "of each set is held out for validation)"
        )

    def training_blockers(self, train_sets: list[str]) -> list[str]:
        """What stops training `train_sets`: no test split yet (training leaves its
        subjects out), or a set left without enough training subjects."""
        if not self.training_subjects:  # no split drawn: readiness counted nothing
            return list(self.test_problems)
        return [self.train_problems[t] for t in train_sets if t in self.train_problems]

    def blocking(self, train_sets: list[str]) -> list[str]:
        """What stops a study of `train_sets`: the test split's problems and theirs."""
        return [*self.test_problems, *(self.train_problems[t] for t in train_sets
                                       if t in self.train_problems)]  # fmt: skip


def sentence(problem: str) -> str:
    """A readiness problem as a sentence of its own: capitalised, with a full stop."""
    return f"{problem[:1].upper()}{problem[1:]}."


def readiness(
    subjects: pd.DataFrame, usable_videos: pd.DataFrame, split: HeldOutSplit | None
) -> Readiness:
    """`subjects` (subject, gender), `usable_videos` (subject of each usable video),
    `split` the held-out test subjects (None: not drawn yet)."""
    usable = set(usable_videos["subject"])
    gender = dict(zip(subjects["subject"], subjects["gender"], strict=True))
    without = {s: gender[s] for s in sorted(gender) if s not in usable}
    problems: list[str] = []
    if split is None:
        return Readiness(without, {}, ["no test split yet: draw one (Data page, Test split)"])
    train_problems: dict[str, str] = {}
    notes: list[str] = []
    held_out = set(split.all_test_subjects())
    for group in split.groups:
        lost = [s for s in split.test_subjects[group] if s not in usable]
        if lost and len(lost) == len(split.test_subjects[group]):
            problems.append(
                f"no {group} test subject has a usable clip ({', '.join(lost)}): the audit "
                f"would find no {group} videos; {FIX_SPLIT} or {FIX_PREPROCESSING}"
            )
        elif lost:
            notes.append(
                f"{group} test subject(s) {', '.join(lost)} have no usable clip: the audit "
                f"compares fewer {group} subjects than the split holds; {FIX_SPLIT} or "
                f"{FIX_PREPROCESSING}"
            )
    counts = {}
    for train_set in (REGULAR, *split.groups):
        pool = [s for s in gender if s not in held_out and s in usable]
        if train_set != REGULAR:
            pool = [s for s in pool if gender[s] == train_set]
        counts[train_set] = len(pool)
        if len(pool) < MIN_TRAINING_SUBJECTS:
            train_problems[train_set] = (
                f"training set {train_set} has {len(pool)} training subject(s) with a usable "
                f"clip; it needs at least {MIN_TRAINING_SUBJECTS} (one is held out for "
                f"validation): {FIX_PREPROCESSING}, or hold out fewer test subjects: "
                f"{FIX_SPLIT}"
            )
    return Readiness(without, counts, problems, train_problems, notes)
