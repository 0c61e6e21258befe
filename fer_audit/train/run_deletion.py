"""Deleting a run: what depends on it (the predictions tables holding its rows, the
audits of those, the studies that name it, the jobs that train or read it), and
removing its folder `runs/<run_id>/`. Only that folder is removed: what depends on it
is kept and listed, and a folder that is a link, or lies outside the workspace once
resolved, is refused (`fer_audit.trash`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fer_audit.data.deletion import audits_of, predictions_of
from fer_audit.errors import DamagedFile
from fer_audit.seeding import parse_seeds
from fer_audit.train.config import TrainConfig
from fer_audit.train.runs import read_run_json, run_ids
from fer_audit.trash import counted_lines, discard, outside_reason
from fer_audit.workspace import Workspace


@dataclass(frozen=True)
class RunDependents:
    """What in the workspace uses a run (none of it is deleted with the run)."""

    predictions: list[str] = field(default_factory=list)  # tables with its rows (files)
    audits: list[str] = field(default_factory=list)  # audit folders of those tables
    studies: list[str] = field(default_factory=list)  # studies with a step training it
    active_jobs: list[str] = field(default_factory=list)  # queued or running jobs using it
    unchecked: list[str] = field(default_factory=list)  # files that could not be read
    notes: list[str] = field(default_factory=list)  # what else a reader should know

    def lines(self) -> list[str]:
        """One line per kind of dependent, with how many there are and their names."""
        kinds = (
            ("predictions table(s) with its rows (they keep them)", self.predictions),
            ("audit(s) of those tables", self.audits),
            ("study(ies) with a step training it (resuming one trains it again)", self.studies),
            ("job(s) queued or running that train or read it", self.active_jobs),
            ("file(s) that could not be read, so not checked", self.unchecked),
        )
        return counted_lines(kinds) + self.notes


@dataclass(frozen=True)
class RunDeletion:
    """What deleting a run removed, and what depended on it (kept)."""

    run_id: str
    removed: str
    dependents: RunDependents

    @property
    def kept(self) -> list[str]:
        return [line for line in self.dependents.lines() if "could not be read" not in line]


def run_dependents(workspace: Workspace, run_id: str) -> RunDependents:
    """What uses run `run_id` (UnsafeName for an id that is not a plain name)."""
    folder = workspace.run_dir(run_id)
    unchecked: list[str] = []
    try:
        meta = read_run_json(folder, required=()) or {}
    except DamagedFile as exc:
        meta = {}
        unchecked.append(str(exc.path))
    predictions = predictions_of(workspace, None, {run_id}, unchecked)
    jobs = _jobs_using(workspace, run_id, meta, unchecked)
    notes = _demo_lists(workspace, run_id, unchecked)
    if meta.get("status") == "running" and not jobs:
        notes.append(
            f"its run.json says it was training at its last write ({meta.get('updated_at')}), "
            "but no job of this workspace trains it: it was stopped, or a `fer-audit train` "
            "started outside the job list still writes it (stop that first)"
        )
    return RunDependents(
        predictions=[Path(path).name for path in predictions],
        audits=audits_of(workspace, None, predictions, unchecked),
        studies=_studies_naming(workspace, run_id, unchecked),
        active_jobs=jobs,
        unchecked=unchecked,
        notes=notes,
    )


def _demo_lists(workspace: Workspace, run_id: str, unchecked: list[str]) -> list[str]:
    """A note when the demo's record lists the run (its next build trains it again)."""
    from fer_audit.demo.build import MARKER, demo_record

    try:
        record = demo_record(workspace) or {}
    except DamagedFile as exc:
        unchecked.append(str(exc.path))
        return []
    runs = record.get("runs")
    if not isinstance(runs, list) or run_id not in runs:
        return []
    return [
        f"the demo ({MARKER}) lists it: the demo then counts as incomplete, and its next "
        "build (make run, or the Home page) trains it again"
    ]


def _studies_naming(workspace: Workspace, run_id: str, unchecked: list[str]) -> list[str]:
    from fer_audit.study.chain import list_studies

    damaged: list[DamagedFile] = []
    studies = list_studies(workspace, damaged=damaged)
    unchecked += [str(exc.path) for exc in damaged]
    return [
        record["name"]
        for record in studies
        if any(step.get("run_id") == run_id for step in record["steps"])
    ]


def _jobs_using(workspace: Workspace, run_id: str, meta: dict, unchecked: list[str]) -> list[str]:
    """Queued or running jobs that train run `run_id` (reported it, or may train it) or
    name it (an evaluation)."""
    from fer_audit.jobs import jobs_or_unchecked

    jobs = jobs_or_unchecked(workspace, unchecked)
    return [
        f"#{job.id} {job.title}"
        for job in jobs
        if job.active and (run_id in job.runs or run_id in job.argv or may_train(job.argv, meta))
    ]


def may_train(argv: list[str], meta: dict) -> bool:
    """Whether the command line `argv` (`train ...`) may train the run of `meta` (its
    run.json): the same dataset, its architecture and training set (or all), its seed.
    Other settings are not compared, so it errs on the side of "may": a refusal, never a
    run deleted under a training."""
    if not argv or argv[0] != "train" or not meta:
        return False
    default_set = TrainConfig.__dataclass_fields__["train_set"].default
    try:
        seeds = parse_seeds(_flag(argv, "--seeds") or _flag(argv, "--seed") or "0")
    except ValueError:
        seeds = [meta.get("seed")]
    return (
        _flag(argv, "--dataset") == meta.get("dataset")
        and _flag(argv, "--arch") in ("all", meta.get("arch"))
        and (_flag(argv, "--train-set") or default_set) in ("all", meta.get("train_set"))
        and meta.get("seed") in seeds
    )


def _flag(argv: list[str], flag: str) -> str | None:
    """The value of `flag` in `argv` (its last one), or None."""
    values = [value for name, value in zip(argv, argv[1:], strict=False) if name == flag]
    return values[-1] if values else None


def delete_run(workspace: Workspace, run_id: str) -> RunDeletion:
    """Remove run `run_id`'s folder; what depends on it is kept (and listed).

    ValueError (nothing removed) when the id is not a plain name, there is no such
    run, the folder is a link or lies outside the workspace, or a queued or running job
    trains or reads it."""
    folder = workspace.run_dir(run_id)  # UnsafeName (a ValueError) for ../x and the like
    with workspace.lock(f"run-{run_id}"):
        if not folder.is_dir() and not folder.is_symlink():
            known = len(run_ids(workspace))
            raise ValueError(f"no run {run_id!r} in {workspace.runs_dir} ({known} run(s) there)")
        reason = outside_reason(workspace, folder)
        if reason:
            raise ValueError(reason)
        dependents = run_dependents(workspace, run_id)
        if dependents.active_jobs:
            raise ValueError(
                f"run {run_id} is in use by {', '.join(dependents.active_jobs)}: cancel "
                "the job(s) first, or wait until they end"
            )
        discard(workspace, folder)
    return RunDeletion(run_id, f"its folder {folder}", dependents)
