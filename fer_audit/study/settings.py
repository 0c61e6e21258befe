"""A study's own settings (`StudySettings`: which architectures, training sets and seeds,
the test split it draws when there is none) and the whole study (`Study`: those plus
the training, preprocessing and audit settings, each declared once where it belongs).

Light on purpose (no torch): the command line builds its options from it at start-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from fer_audit.fairness.settings import AuditSettings
from fer_audit.labels import TRAIN_SETS
from fer_audit.options import csv_list, setting
from fer_audit.seeding import parse_seeds
from fer_audit.train.config import TrainConfig
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import check_name

DEVICES = ("auto", "cpu", "cuda")
#: the training and audit settings a study sets itself (per run, or from the study)
PER_RUN = ("arch", "train_set", "seed")
#: what a study's training template holds where each run has its own value
EACH = "(each run's own)"
AUDIT_FROM_STUDY = ("seed", "scheme", "group", "groups")


@dataclass(frozen=True)
class StudySettings:
    """What the study trains, beyond each run's training settings."""

    name: str | None = setting(
        None,
        help="the study's name, also its predictions table's and audit folder's "
        "(default: study-DATASET-YYYYMMDD-HHMM)",
    )
    archs: str = setting("3dcnn", help="architectures, comma-separated, or all (the six)")
    train_sets: str = setting(
        ",".join(TRAIN_SETS), help="training sets, comma-separated (default regular,male,female)"
    )
    seeds: str = setting("1", help="seeds, comma-separated (e.g. 1,2,3)")
    test_per_group: int = setting(
        5,
        help="held-out test subjects per gender, drawn only when the dataset has no test "
        "split yet (default 5)",
        low=1,
        high=10_000,
    )
    workers: int = setting(1, help="preprocessing processes (1-64)", low=1, high=64)
    device: str = setting("auto", help="where to train and evaluate", choices=DEVICES)

    def arch_list(self) -> list[str]:
        """The architectures, in the registry's order for `all`; ValueError naming an
        unknown one."""
        from fer_audit.models import MODELS

        chosen = csv_list(self.archs)
        if chosen == ["all"]:
            return list(MODELS)
        unknown = [arch for arch in chosen if arch not in MODELS]
        if unknown or not chosen:
            raise ValueError(
                f"architectures {', '.join(unknown) or '(none)'}: choose from "
                f"{', '.join(MODELS)} (or all)"
            )
        return list(dict.fromkeys(chosen))

    def train_set_list(self) -> list[str]:
        chosen = list(dict.fromkeys(csv_list(self.train_sets)))
        if not chosen:
            raise ValueError("choose at least one training set")
        return chosen

    def seed_list(self) -> list[int]:
        return parse_seeds(self.seeds)


@dataclass(frozen=True)
class Study:
    """A whole study: preprocess, train each architecture x training set x seed,
    evaluate them all on the held-out subjects, audit, report."""

    name: str
    settings: StudySettings
    #: every run's settings but its architecture, training set and seed
    train: TrainConfig
    audit: AuditSettings

    def __post_init__(self) -> None:
        check_name(self.name, what="study")

    @classmethod
    def of(
        cls,
        name: str,
        settings: StudySettings,
        *,
        train: dict,
        preprocess: PreprocessSettings,
        audit: dict,
    ) -> Study:
        """The study from its parts: `train` and `audit` are the training and audit
        settings but those the study sets (`PER_RUN`, `AUDIT_FROM_STUDY`)."""
        template = TrainConfig(**train, arch=EACH, train_set=EACH, seed=0, preprocess=preprocess)
        return cls(name, settings, template, AuditSettings(**audit, scheme=template.scheme))

    @property
    def dataset(self) -> str:
        return self.train.dataset

    @property
    def preprocess(self) -> PreprocessSettings:
        return self.train.preprocess

    def record(self) -> dict:
        """The study's settings as its record (study.json) keeps them."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "settings": asdict(self.settings),
            "train": {**asdict(self.train), "preprocess": asdict(self.preprocess)},
            "audit": asdict(self.audit),
        }

    @classmethod
    def from_record(cls, record: dict) -> Study:
        train = dict(record["train"])
        train["preprocess"] = PreprocessSettings(**train["preprocess"])
        return cls(
            name=record["name"],
            settings=StudySettings(**record["settings"]),
            train=TrainConfig(**train),
            audit=AuditSettings(**record["audit"]),
        )


def default_study_name(dataset: str, *, now: datetime | None = None) -> str:
    """study-DATASET-YYYYMMDD-HHMM (UTC), cut to a plain name's length."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M")
    return f"study-{dataset}"[: 100 - len(stamp) - 1] + f"-{stamp}"
