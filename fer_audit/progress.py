"""A build of several steps, each a background job, run by a detached process: its plan
file, and its live progress read back with an ETA per step.

The builder process (e.g. `fer-audit demo`) writes the plan file: the step names in
order, each step's estimated seconds, the builder's pid, and per step the job that
runs it and how it ended. `read_build` joins that file with the job registry: a
running step's fraction is its job's own progress report, its ETA the time so far
scaled by the fraction left (before any report, the estimate less the time so far);
a step not started yet counts its estimate. A build whose builder process is gone
reads as "stopped", never "building" for ever.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fer_audit import atomic
from fer_audit.jobs import Job, JobRegistry
from fer_audit.procs import alive, process_start

#: below this reported fraction a job's own ETA is too noisy; its estimate is used
TRUSTED_FRACTION = 0.05
STEP_STATES = ("waiting", "queued", "running", "done", "skipped", "failed", "cancelled")


@dataclass(frozen=True)
class StepProgress:
    name: str
    status: str  # one of STEP_STATES
    fraction: float  # 0..1
    elapsed_s: float | None  # seconds the step has run (or ran)
    eta_s: float | None  # seconds left, estimated; 0 when finished
    estimate_s: float
    message: str = ""
    job_id: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "skipped")


@dataclass(frozen=True)
class BuildProgress:
    status: str  # building | done | failed | stopped
    steps: list[StepProgress]
    error: str = ""
    log_path: Path | None = None
    settings: dict = field(default_factory=dict)

    @property
    def finished_steps(self) -> int:
        return sum(step.finished for step in self.steps)

    @property
    def eta_s(self) -> float:
        """Seconds left for the whole build (the sum over steps not finished)."""
        return sum(step.eta_s or 0.0 for step in self.steps if not step.finished)

    @property
    def current(self) -> StepProgress | None:
        return next((s for s in self.steps if not s.finished), None)


class BuildPlan:
    """The builder's side: the plan file, rewritten whole (temp file + rename) at each
    change, so a reader never sees half of it."""

    def __init__(
        self,
        path: Path,
        estimates: dict[str, float],
        *,
        log_path: Path | None = None,
        settings: dict | None = None,
        pid: int | None = None,
    ) -> None:
        """Write the plan of a build run by process `pid` (this one by default)."""
        self.path = Path(path)
        pid = pid or os.getpid()
        self.record = {
            "status": "building",
            "pid": pid,
            "pid_start": process_start(pid),
            "started_at": time.time(),
            "log": str(log_path) if log_path else None,
            "settings": settings or {},
            "error": "",
            "steps": [
                {"name": name, "estimate_s": round(seconds, 1), "status": "waiting"}
                for name, seconds in estimates.items()
            ],
        }
        self._write()

    def _step(self, name: str) -> dict:
        return next(step for step in self.record["steps"] if step["name"] == name)

    def started(self, name: str, job_id: int) -> None:
        self._step(name).update(status="queued", job_id=job_id)
        self._write()

    def skipped(self, name: str) -> None:
        self._step(name).update(status="skipped")
        self._write()

    def finished(self, name: str, status: str, seconds: float) -> None:
        self._step(name).update(status=status, seconds=round(seconds, 2))
        self._write()

    def end(self, status: str, error: str = "") -> None:
        self.record.update(status=status, error=error, ended_at=time.time())
        self._write()

    def _write(self) -> None:
        atomic.write_json(self.path, self.record)


def read_build(path: Path, registry: JobRegistry) -> BuildProgress | None:
    """The progress of the build planned in `path`, or None when there is no plan.
    DamagedFile names the plan file when it cannot be read."""
    path = Path(path)
    if not path.exists():
        return None
    record = atomic.read_json(path)
    status = record.get("status", "stopped")
    if status == "building" and not alive(record.get("pid"), record.get("pid_start")):
        status = "stopped"
    now = time.time()
    plan = record.get("steps", [])
    jobs = registry.get_many([step["job_id"] for step in plan if step.get("job_id") is not None])
    steps = [step_progress(step, jobs.get(step.get("job_id")), now) for step in plan]
    return BuildProgress(
        status=status,
        steps=steps,
        error=record.get("error", ""),
        log_path=Path(record["log"]) if record.get("log") else None,
        settings=record.get("settings", {}),
    )


def step_progress(step: dict, job: Job | None, now: float) -> StepProgress:
    """One step of the plan (`step`, as the plan file holds it) joined with its job, at
    time `now`. A running job that reported fraction p after t seconds has
    t * (1 - p) / p left; before it reports 5%, its estimate less t (at least 0)."""
    estimate = float(step.get("estimate_s", 0.0))
    common = {"name": step["name"], "estimate_s": estimate, "job_id": step.get("job_id")}
    if step["status"] == "skipped":
        return StepProgress(status="skipped", fraction=1.0, elapsed_s=0.0, eta_s=0.0, **common)
    if job is None and step["status"] == "done":  # its job was deleted since
        return StepProgress(
            status="done", fraction=1.0, elapsed_s=step.get("seconds"), eta_s=0.0, **common
        )
    if job is None:  # not submitted yet: the estimate
        waiting = "waiting" if step["status"] in ("waiting", "queued") else step["status"]
        return StepProgress(status=waiting, fraction=0.0, elapsed_s=None, eta_s=estimate, **common)
    if job.status == "done":
        elapsed = (job.finished_at or now) - (job.started_at or now)
        return StepProgress(status="done", fraction=1.0, elapsed_s=elapsed, eta_s=0.0, **common)
    if job.status == "queued":
        return StepProgress(status="queued", fraction=0.0, elapsed_s=None, eta_s=estimate, **common)
    elapsed = (now if job.active else job.finished_at or now) - (job.started_at or now)
    if job.status != "running":  # failed or cancelled
        return StepProgress(
            status=job.status,
            fraction=job.progress,
            elapsed_s=elapsed,
            eta_s=None,
            message=job.one_line,
            **common,
        )
    if job.progress >= TRUSTED_FRACTION:
        eta = elapsed * (1 - job.progress) / job.progress
    else:
        eta = max(estimate - elapsed, 0.0)
    return StepProgress(
        status="running",
        fraction=job.progress,
        elapsed_s=elapsed,
        eta_s=eta,
        message=job.one_line,
        **common,
    )


def start_detached(argv: Sequence[str], log_path: Path, env: dict[str, str]) -> int:
    """Start `python -m fer_audit.cli <argv>` in a session of its own (it outlives the
    command or page that started it, as jobs do), its output appended to `log_path`;
    returns its pid."""
    argv = [str(arg) for arg in argv]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} fer-audit {' '.join(argv)}\n")
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "fer_audit.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ | env | {"PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    # reap it when it ends (a page that started it lives on), so it never lingers
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid


def duration(seconds: float | None) -> str:
    """Seconds as a reader says them: '40 s', '3 min', '1 h 5 min'."""
    if seconds is None:
        return "unknown"
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def percent(fraction: float) -> str:
    """A fraction done as whole percent, rounded down: 100% only when it is all done."""
    return f"{int(fraction * 100)}%"


def step_text(step: StepProgress) -> str:
    """One step's state in words: how far, how long so far, how long still."""
    if step.status == "done":
        return f"{step.name}: done in {duration(step.elapsed_s)}"
    if step.status == "skipped":
        return f"{step.name}: already done"
    if step.status == "running":
        left = f" · about {duration(step.eta_s)} left" if step.eta_s is not None else ""
        return (
            f"{step.name}: running, {percent(step.fraction)} · {duration(step.elapsed_s)} "
            f"so far{left}"
        )
    if step.status in ("waiting", "queued"):
        behind = " behind other jobs" if step.status == "queued" else ""
        about = f" · about {duration(step.estimate_s)}" if step.eta_s is not None else ""
        why = f" ({step.message})" if step.message else ""
        return f"{step.name}: {step.status}{behind}{why}{about}"
    return f"{step.name}: {step.status}" + (f": {step.message}" if step.message else "")
