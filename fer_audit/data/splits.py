"""Subject-level splits (DESIGN.md section 4): never a subject on both sides.

- Test: `per_group` subjects from each gender group (default 5 + 5), drawn once with a
  recorded seed and stored beside the dataset (`split.json`).
- Training sets: `regular` (every non-test subject) or one gender group (`male`,
  `female`, or any other label of the dataset).
- Validation: 15% of a run's training subjects, drawn per run from the run's seed,
  stratified by gender so model selection does not lean on one group.
- Test sets: `test` (all test subjects) and one per group.
- Optional balanced test subset: per test subject, the same number of videos in every
  class (the paper's 80-video test set subsamples Upset to 2 videos per subject).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fer_audit import atomic
from fer_audit.data.fixes import FIX_PREPROCESSING, FIX_SPLIT
from fer_audit.data.index import DatasetError
from fer_audit.data.subjects import normalize_gender
from fer_audit.errors import DamagedFile, DataProblem, one_line
from fer_audit.seeding import seeded_rng

REGULAR = "regular"
ALL_TEST = "test"


@dataclass(frozen=True)
class HeldOutSplit:
    """The held-out test subjects of a dataset, per gender group."""

    dataset: str
    seed: int
    per_group: int
    groups: tuple[str, ...]
    test_subjects: dict[str, list[str]]
    data_fingerprint: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def all_test_subjects(self) -> list[str]:
        return sorted(s for group in self.groups for s in self.test_subjects[group])

    def to_dict(self) -> dict:
        data = asdict(self)
        data["groups"] = list(self.groups)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> HeldOutSplit:
        return cls(**{**data, "groups": tuple(data["groups"])})


@dataclass(frozen=True)
class RunSplit:
    """The subjects one training run uses, as recorded in its run.json."""

    train_set: str
    seed: int
    train: list[str]
    validation: list[str]
    test: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def draw_test_split(
    subjects: pd.DataFrame,
    *,
    per_group: int = 5,
    groups: list[str] | None = None,
    seed: int = 0,
    dataset: str = "",
    data_fingerprint: str | None = None,
) -> HeldOutSplit:
    """Draw `per_group` test subjects from each group of `subjects` (columns subject, gender).

    `groups` defaults to every gender label present. Each group must keep at least one
    subject for training. Subjects of other groups stay in training only.
    """
    available = sorted(subjects["gender"].unique())
    if groups:  # accept "Female" for "female", as registration normalises labels
        groups = sorted({g if g in available else (normalize_gender(g) or g) for g in groups})
    else:
        groups = available
    unknown = [g for g in groups if g not in available]
    if unknown:
        raise DatasetError(
            f"no subjects of group(s) {', '.join(unknown)}; the dataset has {', '.join(available)}"
        )
    if per_group < 1:
        raise DatasetError("per_group must be at least 1")
    chosen: dict[str, list[str]] = {}
    for group in groups:
        members = sorted(subjects.loc[subjects["gender"] == group, "subject"])
        if len(members) <= per_group:
            raise DatasetError(
                f"group {group!r} has {len(members)} subject(s): too few to hold out "
                f"{per_group} for testing and keep some for training; lower --per-group "
                f"or choose the groups to compare with --groups"
            )
        picked = seeded_rng(seed, group).choice(members, size=per_group, replace=False)
        chosen[group] = sorted(picked.tolist())
    return HeldOutSplit(dataset, seed, per_group, tuple(groups), chosen, data_fingerprint)


def training_pool(subjects: pd.DataFrame, split: HeldOutSplit, train_set: str) -> list[str]:
    """The non-test subjects of training set `train_set` (`regular` or a group label)."""
    held_out = set(split.all_test_subjects())
    pool = subjects[~subjects["subject"].isin(held_out)]
    if train_set != REGULAR:
        if train_set not in set(subjects["gender"]):
            raise DatasetError(
                f"unknown training set {train_set!r}; choose {REGULAR} or one of "
                f"{', '.join(sorted(subjects['gender'].unique()))}"
            )
        pool = pool[pool["gender"] == train_set]
    return sorted(pool["subject"])


def draw_validation(
    pool: pd.DataFrame, *, fraction: float = 0.15, seed: int = 0, salt: str = ""
) -> list[str]:
    """Validation subjects: fraction * n rounded half up, per gender group of `pool`
    (subject, gender); at least one subject overall, never a group's last training
    subject."""
    if len(pool) < 2:
        raise _too_few_training_subjects()
    rng = seeded_rng(seed, salt, "validation")
    chosen: list[str] = []
    groups = sorted(pool["gender"].unique())
    for group in groups:
        members = sorted(pool.loc[pool["gender"] == group, "subject"])
        k = min(int(np.floor(fraction * len(members) + 0.5)), len(members) - 1)
        if k > 0:
            chosen += rng.choice(members, size=k, replace=False).tolist()
    if not chosen:
        largest = max(groups, key=lambda g: (pool["gender"] == g).sum())
        members = sorted(pool.loc[pool["gender"] == largest, "subject"])
        if len(members) < 2:
            members = sorted(pool["subject"])
        chosen = [str(rng.choice(members))]
    return sorted(chosen)


def _too_few_training_subjects() -> DataProblem:
    return DataProblem(
        "too few training subjects (with a usable clip) to hold one out for validation",
        fix=f"hold out fewer test subjects per gender: {FIX_SPLIT}; or {FIX_PREPROCESSING}",
    )


def run_split(
    subjects: pd.DataFrame,
    split: HeldOutSplit,
    *,
    train_set: str,
    seed: int,
    val_fraction: float = 0.15,
) -> RunSplit:
    """The training, validation and test subjects of one run."""
    pool_subjects = training_pool(subjects, split, train_set)
    pool = subjects[subjects["subject"].isin(pool_subjects)]
    validation = draw_validation(pool, fraction=val_fraction, seed=seed, salt=train_set)
    train = sorted(set(pool_subjects) - set(validation))
    result = RunSplit(train_set, seed, train, validation, split.all_test_subjects())
    check_disjoint(result)
    return result


def check_disjoint(split: RunSplit) -> None:
    """Raise when any subject is in more than one of train, validation and test."""
    sides = {
        "train": set(split.train),
        "validation": set(split.validation),
        "test": set(split.test),
    }
    names = list(sides)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = sides[a] & sides[b]
            if shared:
                raise AssertionError(f"subjects on both {a} and {b}: {sorted(shared)}")


def evaluation_sets(index: pd.DataFrame, split: HeldOutSplit) -> dict[str, pd.DataFrame]:
    """`test` (every test subject's videos) and one set per group."""
    sets = {ALL_TEST: index[index["subject"].isin(split.all_test_subjects())]}
    for group in split.groups:
        sets[group] = index[index["subject"].isin(split.test_subjects[group])]
    return sets


def balanced_subset(index: pd.DataFrame, *, seed: int = 0, label: str = "label") -> pd.DataFrame:
    """Per subject, keep the same number of videos in every class: the subject's smallest
    class count. Larger classes (Upset under `paper4`) are subsampled, alternating between
    genuine and fake videos so both stay represented. Seeded."""
    rng = seeded_rng(seed, "balanced")
    kept = []
    for _, videos in index.groupby("subject", sort=True):
        k = int(videos[label].value_counts().min())
        for _, in_class in videos.groupby(label, sort=True):
            kept.append(_pick_alternating(in_class, k, rng))
    return pd.concat(kept).sort_index() if kept else index.iloc[0:0]


def _pick_alternating(videos: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(videos) <= k:
        return videos
    queues = [
        list(rng.permutation(group.index.to_numpy()))
        for _, group in videos.groupby("authenticity", sort=True)
    ]
    picked = []
    while len(picked) < k:
        for queue in queues:
            if queue and len(picked) < k:
                picked.append(queue.pop())
    return videos.loc[picked]


def split_path(dataset_dir: Path) -> Path:
    return dataset_dir / "split.json"


def save_split(dataset_dir: Path, split: HeldOutSplit) -> None:
    atomic.write_json(split_path(dataset_dir), split.to_dict())


class DamagedDatasetFile(DamagedFile, DatasetError):
    """A damaged file of a registered dataset (a DatasetError too, for the callers that
    catch those)."""


def load_split(dataset_dir: Path) -> HeldOutSplit | None:
    """The dataset's test split, None when none was drawn; DamagedDatasetFile (a DamagedFile
    and a DatasetError) naming the file when it cannot be read."""
    path = split_path(dataset_dir)
    if not path.exists():
        return None
    hint = (
        f"delete it, then draw the test split again (fer-audit datasets split "
        f"{Path(dataset_dir).name}, or the Data page)"
    )
    data = atomic.read_json(path, hint=hint, error=DamagedDatasetFile)
    try:
        split = HeldOutSplit.from_dict(data)
        if not all(isinstance(split.test_subjects[g], list) for g in split.groups):
            raise TypeError("test_subjects is not a list per group")
    except (KeyError, TypeError) as exc:
        raise DamagedDatasetFile(
            path, hint, f"a field is missing or wrong: {one_line(exc)}"
        ) from None
    return split
