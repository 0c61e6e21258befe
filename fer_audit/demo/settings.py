"""The demo's settings (`DemoSettings`; `QUICK_DEMO` for tests), the `fer-audit demo`
command line that gives them back, and each build step's estimated seconds."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from fer_audit.labels import TRAIN_SETS


@dataclass(frozen=True)
class DemoSettings:
    dataset: str = "demo-synthetic"
    per_group: int = 16
    #: 8 + 8 held out: enough permutations of subjects (12870) for an adjusted p-value
    #: under 0.05 to be possible at all
    test_per_group: int = 8
    seeds: tuple[int, ...] = (1, 2)
    train_sets: tuple[str, ...] = TRAIN_SETS
    #: these small models learn slowly for their first epochs; early stopping would end
    #: them before they start (patience is as long as the run). The best epoch on the
    #: validation subjects is kept.
    epochs: int = 30
    patience: int = 30
    #: at the paper's constant rate these models swing from epoch to epoch (held-out
    #: accuracy 0.24 to 0.81, men's sadness TPR 0.0 to 1.0 on consecutive epochs), so
    #: which epoch validation picks decides the gap; a cosine decay lets the last
    #: epochs settle (measured, 12 + 12 subjects, 3 seeds: men's sadness TPR 0.7 to
    #: 1.0 and women's 0.0 to 0.1 over each run's last 8 epochs). Two builds of this
    #: demo (405 s and 415 s): the planted gap's interval was below zero for all 4
    #: Regular and Male runs each time (gaps -0.44 to -0.81)
    lr_schedule: str = "cosine"
    frame_size: int = 48  # of the generated videos
    fps: int = 12
    duration_s: float = 2.5
    k: int = 10
    crop: int = 32  # preprocessing crop size, also the model's input size
    workers: int = 2
    n_boot: int = 2000
    data_seed: int = 0

    @classmethod
    def from_record(cls, record: dict) -> DemoSettings:
        """The settings a demo.json or demo-progress.json recorded (JSON lists back to
        tuples; fields it does not know are left out)."""
        known = {f.name for f in fields(cls)}
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in record.items() if k in known}
        )


#: a demo small enough to build in about 30 s on 2 cores (4 + 4 subjects, one 2-epoch
#: run): for checks of the build itself, not of its findings
QUICK_DEMO = DemoSettings(
    per_group=4, test_per_group=2, seeds=(1,), train_sets=("regular",), epochs=2, patience=2
)


#: seconds of each step of the default demo, measured on a 2-core machine (one build,
#: DemoSettings(); the sample download is a guess: it was cached). Other settings scale
#: them by their videos, training subject-epochs and test subjects, over the seconds a
#: job takes to start (its imports).
_JOB_START_S = 3.0
_REFERENCE_S = {"samples": 20.0, "fer model": 4.0, "test split": 1.0, "audit": 2.0, "report": 3.0}
_SYNTH_S_PER_SUBJECT = (9.1 - _JOB_START_S) / 32
_PREPROCESS_S_PER_SUBJECT = (18.9 - _JOB_START_S) / 32
#: 168.7 s for Regular: 8 + 8 training subjects, 2 seeds, 30 epochs
_TRAIN_S_PER_SUBJECT_EPOCH = (168.7 - _JOB_START_S) / (16 * 2 * 30)
_EVALUATE_S_PER_RUN_SUBJECT = (10.1 - _JOB_START_S) / (6 * 16)


def step_estimates(settings: DemoSettings) -> dict[str, float]:
    """Estimated seconds of each step of a build with `settings`, in build order."""
    subjects = 2 * settings.per_group
    train_subjects = settings.per_group - settings.test_per_group
    estimates = {
        "samples": _REFERENCE_S["samples"],
        "fer model": _REFERENCE_S["fer model"],
        "synthetic data": _JOB_START_S + _SYNTH_S_PER_SUBJECT * subjects,
        "test split": _REFERENCE_S["test split"],
        "preprocess": _JOB_START_S + _PREPROCESS_S_PER_SUBJECT * subjects,
    }
    for train_set in settings.train_sets:
        groups = 2 if train_set == "regular" else 1
        subject_epochs = groups * train_subjects * settings.epochs * len(settings.seeds)
        estimates[f"train {train_set}"] = _JOB_START_S + _TRAIN_S_PER_SUBJECT_EPOCH * subject_epochs
    runs = len(settings.train_sets) * len(settings.seeds)
    test_subjects = 2 * settings.test_per_group
    estimates["evaluate"] = _JOB_START_S + _EVALUATE_S_PER_RUN_SUBJECT * runs * test_subjects
    estimates["audit"] = _REFERENCE_S["audit"]
    estimates["report"] = _REFERENCE_S["report"]
    return estimates


#: the DemoSettings `fer-audit demo` has options for (patience follows epochs)
_COMMAND_LINE_FIELDS = ("per_group", "test_per_group", "seeds", "train_sets", "epochs")


def demo_argv(settings: DemoSettings) -> list[str]:
    """`fer-audit` arguments that build the demo with `settings`; ValueError when a
    setting has no command-line option and differs from its default."""
    given = {name: getattr(settings, name) for name in _COMMAND_LINE_FIELDS}
    unsaid = [
        f.name
        for f in fields(settings)
        if getattr(settings, f.name)
        != getattr(replace(DemoSettings(), **given, patience=settings.epochs), f.name)
    ]
    if unsaid:
        raise ValueError(f"`fer-audit demo` has no option for {', '.join(unsaid)}")
    argv = [
        "demo",
        "--per-group", settings.per_group,
        "--test-per-group", settings.test_per_group,
        "--seeds", ",".join(map(str, settings.seeds)),
        "--train-sets", ",".join(settings.train_sets),
        "--epochs", settings.epochs,
    ]  # fmt: skip
    return [str(arg) for arg in argv]
