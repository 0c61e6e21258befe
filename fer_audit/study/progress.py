"""A study's progress, read from its record and its jobs: steps done out of total, each
step's state, and an ETA from the steps that finished.

The ETA of a step not started is the mean time of the finished steps of its kind,
per unit (a training on both genders counts two units, on one gender one); a running
step's is its own (`progress.step_progress`: its time so far scaled by the fraction it
reported). A step whose kind has no finished step yet has no estimate: it is named in
`unestimated` rather than given a guess.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace

from fer_audit.jobs import Job, JobRegistry
from fer_audit.progress import TRUSTED_FRACTION, StepProgress, duration, step_progress
from fer_audit.study.chain import study_jobs

GONE = "its job is gone from the registry (moved aside?): Resume queues it again"
#: the study's state, from its steps' (first match wins)
_STATES = (
    ("running", "running"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
    ("not queued", "incomplete"),
)


@dataclass(frozen=True)
class StudyProgress:
    name: str
    record: dict
    status: str  # done | running | queued | failed | cancelled | incomplete
    steps: list[StepProgress]
    unestimated: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(step.status == "done" for step in self.steps)

    @property
    def eta_s(self) -> float:
        """Seconds left for the steps that have an estimate (see `unestimated`)."""
        return sum(step.eta_s or 0.0 for step in self.steps if step.status != "done")

    @property
    def current(self) -> int | None:
        """The index of the first step not done (None when all are)."""
        return next((i for i, step in enumerate(self.steps) if step.status != "done"), None)

    @property
    def kinds(self) -> list[str]:
        return [step["kind"] for step in self.record["steps"]]

    @property
    def run_ids(self) -> list[str | None]:
        return [step.get("run_id") for step in self.record["steps"]]

    @property
    def active(self) -> bool:
        return self.status in ("running", "queued")

    @property
    def synthetic(self) -> bool:
        return bool(self.record.get("synthetic"))


def study_progress(
    registry: JobRegistry, record: dict, *, now: float | None = None
) -> StudyProgress:
    """The progress of the study `record` (as `chain.read_study` gives it) at `now`."""
    now = time.time() if now is None else now
    plan = record["steps"]
    jobs = study_jobs(registry, record)
    per_unit = _seconds_per_unit(plan, jobs)
    steps, unestimated = [], []
    for step, job in zip(plan, jobs, strict=True):
        estimate = per_unit.get(step["kind"])
        planned = {
            "name": step["name"],
            "status": "not queued",
            "job_id": step.get("job_id") if job is not None else None,
            "estimate_s": (estimate or 0.0) * step.get("units", 1),
        }
        progress = step_progress(planned, job, now)
        if job is None and step.get("job_id") is not None:
            progress = replace(progress, message=GONE)
        if estimate is not None and progress.status == "running":
            progress = _with_peer_eta(progress)
        if estimate is not None and progress.status in ("failed", "cancelled"):
            progress = replace(progress, eta_s=planned["estimate_s"])  # all of it again
        if job is not None and job.status == "queued" and job.after_id is not None:
            progress = replace(progress, status="waiting")  # behind a step of its chain
        if estimate is None and _needs_estimate(progress):
            unestimated.append(step["name"])
            progress = _without_eta(progress)
        steps.append(progress)
    return StudyProgress(
        name=record["name"],
        record=record,
        status=_status(steps),
        steps=steps,
        unestimated=unestimated,
    )


def _seconds_per_unit(plan: list[dict], jobs: list[Job | None]) -> dict[str, float]:
    """Per kind of step, the mean seconds per unit of its finished steps."""
    seconds: dict[str, list[float]] = defaultdict(list)
    for step, job in zip(plan, jobs, strict=True):
        done = job is not None and job.status == "done"
        if done and job.started_at is not None and job.finished_at is not None:
            seconds[step["kind"]].append((job.finished_at - job.started_at) / step.get("units", 1))
    return {kind: sum(values) / len(values) for kind, values in seconds.items()}


def _with_peer_eta(step: StepProgress) -> StepProgress:
    """A running step's ETA: its own (time so far scaled by its fraction, an upper bound
    for a training that may stop early) or, when sooner, what its finished peers took
    less its time so far (until it outlasts them)."""
    left = step.estimate_s - (step.elapsed_s or 0.0)
    if left <= 0 or step.eta_s is None:
        return step
    return replace(step, eta_s=min(step.eta_s, left))


def _needs_estimate(step: StepProgress) -> bool:
    if step.status == "running":
        return step.fraction < TRUSTED_FRACTION
    return step.status != "done"


def _without_eta(step: StepProgress) -> StepProgress:
    return replace(step, eta_s=None)


def _status(steps: list[StepProgress]) -> str:
    states = {step.status for step in steps}
    if states == {"done"}:
        return "done"
    for state, status in _STATES:
        if state in states:
            return status
    return "queued"


def eta_words(progress: StudyProgress) -> str:
    """', about 12 min left' (or '; stopped, about 12 min of work left once resumed'),
    with the steps that have no estimate yet said as such."""
    if progress.status == "done":
        return ""
    unknown = progress.unestimated
    if len(unknown) == len(progress.steps) - progress.done:
        estimate = "no estimate yet (one comes as the first step of each kind finishes)"
    else:
        named = ", ".join(unknown) if len(unknown) <= 3 else f"{len(unknown)} steps"
        later = f", plus {named} (no estimate until one of their kind finishes)" if unknown else ""
        left = "left" if progress.active else "of work left once resumed"
        estimate = f"about {duration(progress.eta_s)} {left}{later}"
    return f", {estimate}" if progress.active else f"; stopped, {estimate}"
