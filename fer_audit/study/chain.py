"""A study as one chain of background jobs: (test split) -> preprocess -> one training
per architecture x training set x seed -> evaluate -> audit -> report.

Each step is a job of the workspace's registry, queued `after` the one before it, so
the chain runs with no process watching over it: it goes on across page reloads and
app restarts, stops where a step fails or is cancelled, and goes on from there when
that step is resumed (`resume_study`). The record `studies/<name>.json` holds the
study's settings and each step's job; it is written before any job is queued and
again once all are, so a study interrupted while queueing is completed by a resume.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from fer_audit import atomic
from fer_audit.commands import audit_argv, evaluate_argv, preprocess_argv, train_argv
from fer_audit.data.registry import list_datasets, load_dataset
from fer_audit.data.splits import load_split
from fer_audit.errors import DamagedFile, read_all
from fer_audit.jobs import Job, JobRegistry
from fer_audit.labels import TRAIN_SETS
from fer_audit.study.settings import Study
from fer_audit.version import code_version
from fer_audit.workspace import Busy, UnsafeName, Workspace, check_name, contained

STUDIES = "studies"
KINDS = ("split", "preprocess", "train", "evaluate", "audit", "report")


class StudyExists(ValueError):
    """A study, predictions table or audit of that name is already in the workspace."""


class StudyIncomplete(ValueError):
    """The study was recorded, but not every step could be queued (resume it)."""


@dataclass(frozen=True)
class StudyStep:
    name: str
    kind: str  # one of KINDS
    argv: list[str]
    run_id: str | None = None  # a training step's run
    #: a training step's size in gender groups trained on (regular: all of them), which
    #: scales the time finished trainings took into an estimate for it
    units: int = 1


def study_path(workspace: Workspace, name: str) -> Path:
    return contained(workspace.root / STUDIES, name, what="study", suffix=".json")


def outputs(workspace: Workspace, study: Study) -> dict[str, Path]:
    """Where the study's predictions table, audit and report go."""
    audit = workspace.audit_dir(study.name)
    return {
        "predictions": workspace.predictions_path(study.name),
        "audit": audit,
        "report": audit / "report.html",
    }


def study_steps(workspace: Workspace, study: Study) -> list[StudyStep]:
    """The chain of `study`, in order; ValueError naming a training set the dataset's
    split has no group for."""
    split = load_split(workspace.dataset_dir(study.dataset))
    groups = list(split.groups) if split else TRAIN_SETS[1:]
    allowed = ["regular", *groups]
    unknown = [t for t in study.settings.train_set_list() if t not in allowed]
    if unknown:
        raise ValueError(
            f"training set(s) {', '.join(unknown)}: {study.dataset}'s are {', '.join(allowed)}"
        )
    steps = []
    if split is None:
        per_group = str(study.settings.test_per_group)
        argv = ["datasets", "split", study.dataset, "--per-group", per_group, "--seed", "0"]
        steps.append(StudyStep("test split", "split", argv))
    steps.append(
        StudyStep(
            "preprocess",
            "preprocess",
            preprocess_argv(
                study.dataset,
                study.preprocess,
                workers=study.settings.workers,
                device=study.settings.device,
            ),
        )
    )
    steps += _training_steps(study, n_groups=len(groups))
    made = outputs(workspace, study)
    run_ids = [step.run_id for step in steps if step.run_id]
    steps += [
        StudyStep(
            "evaluate",
            "evaluate",
            [
                *evaluate_argv(run_ids, out=made["predictions"]),
                "--device",
                study.settings.device,
                "--force",
            ],
        ),  # fmt: skip
        StudyStep(
            "audit",
            "audit",
            [
                *audit_argv(study.audit, out=made["audit"], predictions=made["predictions"]),
                "--force",
            ],
        ),  # fmt: skip
        StudyStep(
            "report",
            "report",
            ["report", str(made["audit"]), "--out", str(made["report"]), "--force"],
        ),  # fmt: skip
    ]
    return steps


def _training_steps(study: Study, *, n_groups: int) -> list[StudyStep]:
    steps = []
    for arch in study.settings.arch_list():
        for train_set in study.settings.train_set_list():
            for seed in study.settings.seed_list():
                config = replace(study.train, arch=arch, train_set=train_set, seed=seed)
                steps.append(
                    StudyStep(
                        f"train {arch} {train_set} seed {seed}",
                        "train",
                        train_argv(config, seeds=[seed], device=study.settings.device),
                        run_id=config.resolved().run_id(),
                        units=n_groups if train_set == "regular" else 1,
                    )
                )
    return steps


def start_study(workspace: Workspace, registry: JobRegistry, study: Study) -> dict:
    """Queue the study's chain of jobs; returns its record. StudyExists when the name
    is taken (a study, or the predictions table or audit it would write); ValueError
    for settings the dataset does not allow. Nothing is queued then."""
    datasets = {meta["name"]: meta for meta in list_datasets(workspace)}
    if study.dataset not in datasets:
        raise ValueError(f"no dataset {study.dataset!r} is registered in {workspace.root}")
    with workspace.lock(STUDIES):
        path = study_path(workspace, study.name)
        made = outputs(workspace, study)
        taken = [p for p in (path, made["predictions"], made["audit"]) if p.exists()]
        if taken:
            raise StudyExists(
                f"a study named {study.name!r} would replace {', '.join(map(str, taken))}: "
                "choose another name"
            )
        steps = study_steps(workspace, study)
        blocking = _not_ready(workspace, study)
        if blocking:
            raise ValueError(
                f"{study.dataset} is not ready for this study under these preprocessing "
                "settings: " + "; ".join(blocking)
            )
        record = {
            **study.record(),
            "synthetic": bool(datasets[study.dataset].get("synthetic")),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "code_version": code_version(),
            "outputs": {key: str(value) for key, value in outputs(workspace, study).items()},
            "steps": [_step_record(step) for step in steps],
        }
        atomic.write_json(path, record)  # first: a resume queues what was not queued
    try:
        resume_study(workspace, registry, study.name)
    except (ValueError, OSError, Busy) as exc:
        raise StudyIncomplete(
            f"the study {study.name} is recorded, but not all its steps could be queued "
            f"({exc}); resume it (fer-audit study resume {study.name}, or Resume on the "
            "Study page)"
        ) from exc
    return read_study(workspace, study.name)


def _not_ready(workspace: Workspace, study: Study) -> list[str]:
    """What stops the study when its preprocessing has run already (and its split is
    drawn): test groups or training sets left without usable clips. [] when it has
    not run yet: its own step will."""
    from fer_audit.overview import dataset_readiness, preprocessing_reports

    split = load_split(workspace.dataset_dir(study.dataset))
    key = study.preprocess.key()
    report = next(
        (r for r in preprocessing_reports(workspace, study.dataset) if r.key == key), None
    )
    if split is None or report is None:
        return []
    dataset = load_dataset(workspace, study.dataset)
    ready = dataset_readiness(dataset, split, report)
    return ready.blocking(study.settings.train_set_list())


def _step_record(step: StudyStep) -> dict:
    return {
        "name": step.name,
        "kind": step.kind,
        "argv": step.argv,
        "run_id": step.run_id,
        "units": step.units,
        "job_id": None,
    }


#: what every study record holds, and each of its steps
_RECORD_KEYS = {"name": str, "dataset": str, "steps": list, "outputs": dict}
_STEP_KEYS = {"name": str, "kind": str, "argv": list}


def read_study(workspace: Workspace, name: str) -> dict:
    """The record of study `name`; DamagedFile naming it when it cannot be read, and
    FileNotFoundError when there is none."""
    path = study_path(workspace, name)
    if not path.exists():
        raise FileNotFoundError(f"no study named {name!r} in {workspace.root / STUDIES}")
    hint = "delete it, then start the study again"
    record = atomic.read_json(path, hint=hint)
    wrong = [key for key, kind in _RECORD_KEYS.items() if not isinstance(record.get(key), kind)]
    steps = record.get("steps") if isinstance(record.get("steps"), list) else []
    if any(
        not isinstance(step, dict)
        or any(not isinstance(step.get(key), kind) for key, kind in _STEP_KEYS.items())
        for step in steps
    ):
        wrong.append("steps")
    if wrong:
        raise DamagedFile(path, hint, f"not a study record: {', '.join(wrong)} missing or wrong")
    return record


def list_studies(workspace: Workspace, *, damaged: list[DamagedFile] | None = None) -> list[dict]:
    """Every study's record, newest first; a damaged record goes to `damaged`. Files
    whose names no study could have are not studies: left out."""
    folder = workspace.root / STUDIES
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    named = [path for path in paths if _plain(path.stem)]
    records = read_all(named, lambda path: read_study(workspace, path.stem), damaged)
    return sorted(records, key=lambda record: record.get("created_at", ""), reverse=True)


def _plain(name: str) -> bool:
    try:
        check_name(name, what="study")
    except UnsafeName:
        return False
    return True


def study_jobs(registry: JobRegistry, record: dict) -> list[Job | None]:
    """Each step's job, in step order: None when it was never queued, or its job is
    gone from the registry (a registry moved aside starts its ids again: a job counts
    only when it runs the step's own command)."""
    ids = [step["job_id"] for step in record["steps"] if step.get("job_id") is not None]
    jobs = registry.get_many(ids)
    found = [jobs.get(step.get("job_id")) for step in record["steps"]]
    return [
        job if job is not None and job.argv == step["argv"] else None
        for step, job in zip(record["steps"], found, strict=True)
    ]


def resume_study(workspace: Workspace, registry: JobRegistry, name: str) -> int:
    """Queue again every step that failed or was cancelled, and queue those never
    queued (or gone from the registry), each after the step before it (chaining the
    steps after a newly queued one to it); finished and active steps are left as they
    are. The record is rewritten after each step queued anew, so an interruption
    leaves no job it does not know. Returns how many steps were queued."""
    queued = 0
    with workspace.lock(STUDIES):
        record = read_study(workspace, name)
        before: int | None = None
        for step, job in zip(record["steps"], study_jobs(registry, record), strict=True):
            if job is None:
                job = registry.submit(step["argv"], title=f"study {name}: {step['name']}",
                                      after=before)  # fmt: skip
                step["job_id"] = job.id
                atomic.write_json(study_path(workspace, name), record)
                queued += 1
            elif job.status != "done":
                if job.after_id != before:
                    registry.wait_for(job.id, before)
                if job.status in ("failed", "cancelled"):
                    with suppress(ValueError):  # queued again elsewhere meanwhile
                        registry.resume(job.id)
                        queued += 1
            before = job.id
    return queued


def cancel_study(workspace: Workspace, registry: JobRegistry, name: str) -> int:
    """Cancel every queued or running step, the last first (so a step that ends now
    starts no other); returns how many were cancelled (a step that ended meanwhile is
    left as it ended)."""
    cancelled = 0
    with workspace.lock(STUDIES):
        record = read_study(workspace, name)
        for job in reversed(study_jobs(registry, record)):
            if job is not None and job.active:
                with suppress(ValueError):
                    registry.cancel(job.id)
                    cancelled += 1
    return cancelled
