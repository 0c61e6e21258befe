"""Run folders: where a run lives, and its run.json and metrics.jsonl read back (a
damaged one named, with what to do), and a training's ETA from the epochs it has done.
Light (no torch), for pages that list runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fer_audit import atomic
from fer_audit.errors import DamagedFile, one_line, read_all
from fer_audit.jobs import Job, JobRegistry
from fer_audit.progress import duration
from fer_audit.workspace import MAX_ID, UnsafeName, check_name


def run_folder(workspace, run_id: str) -> Path:
    """The run's folder; UnsafeName for an id that is not a plain name."""
    return workspace.run_dir(run_id)


#: what to do about a damaged run.json or metrics.jsonl
RERUN = atomic.read_json_hint("run.json")


def read_run(workspace, run_id: str) -> tuple[dict, list[dict]]:
    """A run's run.json ({} before it is written) and its metrics.jsonl records;
    DamagedFile naming the file that cannot be read."""
    folder = run_folder(workspace, run_id)
    meta = read_run_json(folder) or {}
    return meta, read_metrics(folder / "metrics.jsonl")


#: what run.json must hold for its model to be loaded
MODEL_KEYS = ("run_id", "arch", "classes", "input_size", "preprocessing")
#: the type each key of run.json must have where a reader relies on it
_KEY_TYPES = {
    "run_id": str,
    "arch": str,
    "classes": list,
    "input_size": int,
    "preprocessing": dict,
}


def read_run_json(folder: Path, required: tuple[str, ...] = ("run_id", "arch")) -> dict | None:
    """A run folder's run.json, None when there is none; DamagedFile when it cannot be
    read or one of the `required` keys (by default the run's identity) is missing or
    of the wrong type."""
    path = Path(folder) / "run.json"
    if not path.exists():
        return None
    meta = atomic.read_json(path, hint=RERUN)
    check_run_keys(meta, path, required)
    return meta


def check_run_keys(meta: dict, path: Path, required: tuple[str, ...]) -> None:
    """DamagedFile naming `path` when one of the `required` keys of its run.json is
    missing or of the wrong type."""
    missing = [k for k in required if k not in meta]
    if missing:
        raise DamagedFile(path, RERUN, f"no {', '.join(missing)}")
    wrong = [k for k in required if not isinstance(meta[k], _KEY_TYPES.get(k, object))]
    if wrong:
        raise DamagedFile(path, RERUN, f"{', '.join(wrong)} of the wrong type")


#: what every epoch's record holds as a number (the training curves plot them)
CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def read_metrics(path: Path) -> list[dict]:
    """The epoch records of a metrics.jsonl ([] before there is one); DamagedFile
    naming the line that cannot be read."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise DamagedFile(path, RERUN, "not UTF-8 text") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DamagedFile(path, RERUN, f"line {number} is not JSON: {one_line(exc)}") from None
        if not isinstance(record, dict) or "epoch" not in record:
            raise DamagedFile(path, RERUN, f"line {number} is not an epoch's record")
        lacking = [name for name in CURVES if not isinstance(record.get(name), int | float)]
        if lacking:
            raise DamagedFile(path, RERUN, f"line {number} lacks {', '.join(lacking)}")
        records.append(record)
    return records


def list_runs(workspace, *, damaged: list[DamagedFile] | None = None) -> list[dict]:
    """run.json of every run folder in the workspace, by run id. One that cannot be read
    is added to `damaged` when a list is given (a listing shows it and goes on), else
    raised."""
    folders = sorted(p for p in workspace.runs_dir.glob("*") if p.is_dir())
    return read_all(folders, read_run_json, damaged)


def run_ids(workspace) -> list[str]:
    """The names of the workspace's run folders, whatever their run.json holds (a
    damaged one included: it can still be deleted), by name; names no run could have
    are left out."""
    folders = workspace.runs_dir.glob("*") if workspace.runs_dir.is_dir() else []
    return sorted(p.name for p in folders if p.is_dir() and _plain_id(p.name))


def _plain_id(name: str) -> bool:
    try:
        check_name(name, what="run", max_length=MAX_ID)
    except UnsafeName:
        return False
    return True


def finished_runs(
    workspace, dataset: str, *, damaged: list[DamagedFile] | None = None
) -> list[str]:
    """Run ids of the training runs of `dataset` that finished (status done) with their
    model saved, by run id: what evaluation offers by default (never a cancelled, failed
    or running run, nor one of another dataset)."""
    return [
        meta["run_id"]
        for meta in list_runs(workspace, damaged=damaged)
        if meta.get("status") == "done"
        and meta.get("dataset") == dataset
        and isinstance(meta.get("run_id"), str)
        and (workspace.run_dir(meta["run_id"]) / "model.pt").is_file()
    ]


#: statuses of a run whose model is final: trained to its end, or imported
FINISHED_STATUSES = ("done", "imported")
#: a run's status when run.json says "running" but no job here runs it (trained by a
#: command that stopped, or runs elsewhere), or the job list cannot be read
STOPPED, UNKNOWN = "stopped", "unknown"
#: what each unfinished status means, for a label
UNFINISHED_WORDS = {
    STOPPED: "stopped, no job here is running it",
    UNKNOWN: "the job list cannot be read",
}


def run_jobs(workspace) -> dict[str, Job] | None:
    """{run id: the newest job that trained it} from the workspace's job registry, after
    the jobs whose process is gone are marked failed (so a killed job's run reads
    failed); {} when there is no registry, None when it cannot be read."""
    if not workspace.jobs_db.exists():
        return {}
    try:
        registry = JobRegistry(workspace)
        registry.mark_vanished()
        jobs = registry.list()  # newest first
    except DamagedFile:
        return None
    latest: dict[str, Job] = {}
    for job in jobs:
        for run_id in job.runs:
            latest.setdefault(run_id, job)
    return latest


def run_status(meta: dict, jobs: dict[str, Job] | None) -> str:
    """A run's status as it stands: run.json's own unless it says "running", which a
    killed job leaves behind; then the status of the newest job that trained it
    (queued, running, cancelled or failed), STOPPED when no job runs it, or UNKNOWN
    when the job list (`jobs`, from `run_jobs`) cannot be read. A run that says
    cancelled or failed while a job resumes it is that job's (queued or running)."""
    status = str(meta.get("status", UNKNOWN))
    job = jobs.get(str(meta.get("run_id"))) if jobs else None
    if status in ("cancelled", "failed"):  # resumed: queued, or loading before its epochs
        return job.status if job is not None and job.active else status
    if status != "running":
        return status
    if jobs is None:
        return UNKNOWN
    if job is None or job.status == "done":  # a done job that left it running: stopped
        return STOPPED
    return job.status


def unfinished_words(status: str) -> str:
    """ "(not finished: ...)" for a run of this status."""
    return f"(not finished: {UNFINISHED_WORDS.get(status, status)})"


@dataclass(frozen=True)
class TrainingEta:
    """How long a training run still takes, from the epochs it has done: seconds per
    epoch so far times the epochs left. An upper bound: early stopping may end it
    sooner, as soon as `patience` epochs pass without a better validation result."""

    run_id: str
    epochs_done: int
    epochs: int  # at most (the run's configured epochs)
    seconds_per_epoch: float
    #: epochs left if early stopping strikes at its first chance (None: no patience known)
    earliest_epochs_left: int | None

    @property
    def epochs_left(self) -> int:
        return max(self.epochs - self.epochs_done, 0)

    @property
    def seconds_left(self) -> float:
        return self.seconds_per_epoch * self.epochs_left

    def words(self) -> str:
        """The estimate in words that follow its numbers."""
        done = (
            f"{self.epochs_done} of at most {self.epochs} epochs done, "
            f"{duration(self.seconds_per_epoch)} each so far"
        )
        if not self.epochs_left:
            return f"{done}: finishing"
        earliest = self.earliest_epochs_left
        if earliest is None or earliest >= self.epochs_left:
            return f"{done}: about {duration(self.seconds_left)} left"
        return (
            f"{done}: at most about {duration(self.seconds_left)} left; early stopping may "
            f"end it sooner, after {earliest} more epoch(s) (about "
            f"{duration(self.seconds_per_epoch * earliest)}) if validation does not improve"
        )


def read_eta(workspace, run_id: str) -> TrainingEta | None:
    """Run `run_id`'s ETA as its files say now; None when they cannot tell (a damaged
    file included: the run's curves name it)."""
    try:
        return training_eta(*read_run(workspace, run_id))
    except DamagedFile:
        return None


def training_eta(meta: dict, records: list[dict]) -> TrainingEta | None:
    """The ETA of a run from its run.json (`meta`: its configured epochs and patience,
    best epoch) and its epoch records (each epoch's `seconds`); None before an epoch
    with its time is recorded, or when the configured epochs are unknown."""
    timed = [r["seconds"] for r in records if isinstance(r.get("seconds"), int | float)]
    settings = meta.get("hyperparameters")
    epochs = settings.get("epochs") if isinstance(settings, dict) else None
    if not timed or not isinstance(epochs, int):
        return None
    done = max(int(r["epoch"]) for r in records)
    patience = settings.get("patience")
    best = meta.get("best_epoch")
    earliest = None
    if isinstance(patience, int) and isinstance(best, int):
        earliest = max(min(epochs, best + patience) - done, 0)
    return TrainingEta(
        run_id=str(meta.get("run_id", "")),
        epochs_done=done,
        epochs=epochs,
        seconds_per_epoch=sum(timed) / len(timed),
        earliest_epochs_left=earliest,
    )
