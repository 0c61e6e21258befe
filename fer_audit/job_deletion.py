"""Deleting finished jobs: what depends on them (the study steps they ran, the queued
jobs that wait for them, the runs they trained) and removing them from the registry
with their logs. The run folders they trained are kept. A log is removed only where
the registry puts it, `jobs/<id>.log` inside the workspace; a log anywhere else is left
as it is and named (`fer_audit.trash`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fer_audit.errors import DamagedFile
from fer_audit.job_table import FINISHED, Job, deletion_refusals
from fer_audit.jobs import JobRegistry
from fer_audit.trash import discard, outside_reason


@dataclass(frozen=True)
class JobDeletion:
    """What deleting jobs removed, what it kept and why."""

    removed: list[int]
    refused: dict[int, str]  # job id -> why it was kept
    logs_removed: list[str] = field(default_factory=list)
    logs_kept: list[str] = field(default_factory=list)  # logs outside workspace/jobs
    dependents: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What happened, one line each, for a page or a terminal."""
        ids = ", ".join(f"#{job_id}" for job_id in self.removed)
        lines = [f"deleted {len(self.removed)} job(s): {ids}" if ids else "deleted no job"]
        if self.logs_removed:
            folder = Path(self.logs_removed[0]).parent
            names = ", ".join(Path(path).name for path in self.logs_removed)
            lines.append(f"removed their log(s) in {folder}: {names}")
        lines += [
            f"kept the log {path} (not in the workspace's jobs/ folder)" for path in self.logs_kept
        ]
        lines += [f"not deleted: {why}" for why in self.refused.values()]
        return lines + [f"kept: {line}" for line in self.dependents]


def finished_job_ids(registry: JobRegistry) -> list[int]:
    """The ids of the registry's finished jobs (done, failed or cancelled), newest first."""
    return [job.id for job in registry.list() if job.status in FINISHED]


def job_dependents(registry: JobRegistry, job_ids: Sequence[int]) -> list[str]:
    """What depends on jobs `job_ids` (all kept), one line each: the study steps they
    ran (the study then reads them as gone) and the runs they trained."""
    wanted = set(job_ids)
    lines = _study_steps(registry, wanted)
    runs = sorted({run for job in registry.list() if job.id in wanted for run in job.runs})
    if runs:
        lines.append(f"{len(runs)} run folder(s) they trained: {', '.join(runs)}")
    return lines


def refusals(registry: JobRegistry, job_ids: Sequence[int]) -> dict[int, str]:
    """Why each job of `job_ids` would not be deleted now, by id (see
    `job_table.deletion_refusals`)."""
    return deletion_refusals(list(job_ids), registry.list())


def _study_steps(registry: JobRegistry, wanted: set[int]) -> list[str]:
    from fer_audit.study.chain import list_studies, study_jobs

    damaged: list[DamagedFile] = []
    lines = []
    for record in list_studies(registry.workspace, damaged=damaged):
        for step, job in zip(record["steps"], study_jobs(registry, record), strict=True):
            if job is not None and job.id in wanted:
                lines.append(
                    f"study {record['name']}: its step {step['name']!r} ran as job #{job.id}; "
                    "the study then reads it as gone, and resuming the study queues it again"
                )
    lines += [f"{exc.path} could not be read, so not checked" for exc in damaged]
    return lines


def delete_jobs(registry: JobRegistry, job_ids: Sequence[int]) -> JobDeletion:
    """Remove the finished jobs of `job_ids` from the registry, with their logs (see the
    module's note); queued or running jobs, and those a queued job waits for, are kept
    and said why. Under the studies' lock, so no study is resumed meanwhile."""
    from fer_audit.study.chain import STUDIES

    workspace = registry.workspace
    with workspace.lock(STUDIES):
        kept = refusals(registry, job_ids)
        dependents = job_dependents(registry, [i for i in job_ids if i not in kept])
        removed, refused = registry.delete(job_ids)
    logs_removed, logs_kept = [], []
    for job in removed:
        log = _own_log(registry, job)
        if log is None:
            logs_kept += [str(job.log_path)] if job.log_path.exists() else []
        elif log.exists():
            discard(workspace, log)
            logs_removed.append(str(log))
    return JobDeletion(
        removed=[job.id for job in removed],
        refused=refused,
        logs_removed=logs_removed,
        logs_kept=logs_kept,
        dependents=dependents if removed else [],
    )


def _own_log(registry: JobRegistry, job: Job) -> Path | None:
    """The job's log when it is where the registry puts logs (`jobs/<id>.log` inside the
    workspace, no link on the way out of it), else None."""
    expected = registry.workspace.root / "jobs" / f"{job.id}.log"
    if Path(job.log_path).absolute() != expected.absolute():
        return None
    return None if outside_reason(registry.workspace, expected) else expected
