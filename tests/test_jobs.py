"""The job registry: real processes, SQLite state, SIGKILL seen as failure, resume, cancel."""

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import TINY_TRAIN_ARGS, wait_for_job
from fer_audit.jobs import VANISHED, JobRegistry
from fer_audit.workspace import Workspace

LONG_TRAIN = ["train", "--dataset", "syn", "--arch", "3dcnn", "--seed", "4", "--epochs",
              "400", "--patience", "400", *TINY_TRAIN_ARGS]  # fmt: skip


def test_a_job_runs_as_its_own_process_and_its_record_survives_a_restart(tiny_workspace):
    registry = JobRegistry(tiny_workspace)
    job = registry.submit(["datasets", "list"], title="list datasets")
    assert job.status == "running" and job.pid and job.pid != os.getpid()
    assert os.getsid(job.pid) == job.pid  # its own session: outlives the app
    done = wait_for_job(registry, job.id, lambda j: not j.active)
    assert (done.status, done.exit_code, done.progress) == ("done", 0, 1.0)
    assert "syn" in done.log_tail() and "SYNTHETIC" in done.log_tail()
    again = JobRegistry(Workspace(tiny_workspace.root))  # a restarted app reads the same table
    assert again.get(job.id) == done
    with sqlite3.connect(tiny_workspace.jobs_db) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failing_command_is_failed_with_its_error_in_the_log(tiny_workspace):
    registry = JobRegistry(tiny_workspace)
    job = registry.submit(["datasets", "show", "nosuch"])
    done = wait_for_job(registry, job.id, lambda j: not j.active)
    assert (done.status, done.exit_code) == ("failed", 2)
    assert "error:" in done.log_tail() and "nosuch" in done.log_tail()
    assert done.message.startswith("error:") and "nosuch" in done.message


def test_bad_commands_are_refused_before_anything_is_queued(tiny_workspace):
    registry = JobRegistry(tiny_workspace)
    before = len(registry.list())
    for bad in ([], ["--workspace", "x"]):
        with pytest.raises(ValueError, match="fer-audit command"):
            registry.submit(bad)
    assert len(registry.list()) == before
    with pytest.raises(KeyError):
        registry.get(10_000)


def test_a_killed_training_job_is_failed_then_resumes_and_cancels(tiny_workspace):
    registry = JobRegistry(tiny_workspace)
    job = registry.submit(LONG_TRAIN)
    training = wait_for_job(registry, job.id, lambda j: j.progress > 0 and j.runs, timeout=120)
    assert "epoch" in training.message and "n=" in training.message
    os.kill(training.pid, signal.SIGKILL)
    failed = wait_for_job(registry, job.id, lambda j: j.status != "running")
    assert failed.status == "failed" and failed.message == VANISHED

    resumed = registry.resume(job.id)
    assert resumed.status == "running" and resumed.attempts == 2
    run_log = tiny_workspace.runs_dir / training.runs[0] / "train.log"
    wait_for_job(registry, job.id, lambda j: "resuming after epoch" in run_log.read_text())
    pid = registry.get(job.id).pid
    cancelled = registry.cancel(job.id)
    assert cancelled.status == "cancelled"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.2)
    assert not _running(pid)
    assert registry.get(job.id).status == "cancelled"
    meta = json.loads((tiny_workspace.runs_dir / training.runs[0] / "run.json").read_text())
    assert meta["status"] == "cancelled"  # the run says so itself, not "running"
    with pytest.raises(ValueError, match="cancelled"):
        registry.cancel(job.id)


def test_jobs_wait_for_a_free_slot(tiny_workspace):
    registry = JobRegistry(tiny_workspace, max_running=1)
    long = registry.submit(LONG_TRAIN[:5] + ["5"] + LONG_TRAIN[6:])
    queued = registry.submit(["datasets", "list"])
    assert queued.status == "queued"
    registry.cancel(long.id)
    done = wait_for_job(registry, queued.id, lambda j: not j.active)
    assert done.status == "done"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_command_the_kernel_kills_fails_its_job_naming_the_signal(tiny_workspace):
    # as the out-of-memory killer would: the command dies, its worker records it
    registry = JobRegistry(tiny_workspace)
    job = registry.submit(LONG_TRAIN[:6] + ["6"] + LONG_TRAIN[7:])
    deadline = time.monotonic() + 30
    while not _children(job.pid):
        assert time.monotonic() < deadline, "the worker started no command"
        time.sleep(0.05)
    os.kill(_children(job.pid)[0], signal.SIGKILL)
    failed = wait_for_job(registry, job.id, lambda j: not j.active)
    assert (failed.status, failed.exit_code) == ("failed", -signal.SIGKILL)
    assert "SIGKILL" in failed.message and "out of memory" in failed.message


def test_an_uncaught_exception_fails_the_job_with_its_last_line(tiny_workspace):
    from fer_audit.worker import _outcome

    registry = JobRegistry(tiny_workspace)
    job = registry.submit(["datasets", "list"])
    wait_for_job(registry, job.id, lambda j: not j.active)
    with open(job.log_path, "a") as log:
        log.write('Traceback (most recent call last):\n  File "x.py", line 1\n')
        log.write("RuntimeError: the GPU fell off the bus\n")
    assert _outcome(job, 1, cancelled=False) == ("failed", "RuntimeError: the GPU fell off the bus")
    assert _outcome(job, 143, cancelled=False)[0] == "cancelled"
    assert _outcome(job, 0, cancelled=False) == ("done", "finished")


def test_a_chain_waits_for_each_job_and_stops_where_one_fails(tiny_workspace):
    registry = JobRegistry(tiny_workspace)
    failing = registry.submit(["datasets", "show", "nosuch"])
    behind = registry.submit(["datasets", "list"], after=failing.id)
    last = registry.submit(["datasets", "list"], after=behind.id)
    assert (behind.status, behind.after_id) == ("queued", failing.id)
    wait_for_job(registry, failing.id, lambda j: not j.active)
    why = f"not started: job #{failing.id} before it in its chain failed"
    for job in (behind, last):
        assert (registry.get(job.id).status, registry.get(job.id).message) == ("cancelled", why)

    registry.resume(behind.id)  # queued again, but its predecessor is not done: it waits
    other = registry.submit(["datasets", "list"])  # later, but free to run: it does
    assert wait_for_job(registry, other.id, lambda j: not j.active).status == "done"
    assert registry.get(behind.id).status == "queued"
    with pytest.raises(ValueError, match="is still queued"):  # one resume at a time
        registry.resume(behind.id)
    registry.wait_for(behind.id, other.id)  # chained after a job that is done: it runs
    assert wait_for_job(registry, behind.id, lambda j: not j.active).status == "done"


def test_a_registry_from_before_chains_gains_the_column_and_keeps_its_jobs(tmp_path):
    workspace = Workspace(tmp_path / "workspace")
    workspace.root.mkdir()
    with sqlite3.connect(workspace.jobs_db) as db:
        db.execute(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "title TEXT NOT NULL, argv TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER, "
            "pid_start TEXT, created_at REAL NOT NULL, started_at REAL, finished_at REAL, "
            "progress REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '', "
            "log_path TEXT NOT NULL, exit_code INTEGER, runs TEXT NOT NULL DEFAULT '[]', "
            "attempts INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO jobs (kind, title, argv, status, created_at, log_path) "
            "VALUES ('datasets', 'old', '[\"datasets\", \"list\"]', 'done', 1.0, 'x.log')"
        )
    registry = JobRegistry(workspace)
    old = registry.get(1)
    assert (old.title, old.status, old.after_id) == ("old", "done", None)
    queued = registry.submit(["datasets", "list"], after=old.id)  # after a done job: runs
    assert wait_for_job(registry, queued.id, lambda j: not j.active).status == "done"
