"""Background jobs: a SQLite registry in the workspace and a launcher of processes.

A job is one `fer-audit` command line (e.g. `train --dataset syn --arch 3dcnn ...`).
Each runs in its own process (`python -m fer_audit.worker ID`, which runs the command
and records its end), in its own session (`start_new_session=True`), with its output
in `jobs/<id>.log`, so it outlives the page that started it and the app itself. The
registry (`jobs.sqlite`, WAL mode) holds per job: id, kind, title, arguments, status,
pid, times, progress, message, log path and the run folders it touched.

Statuses: queued -> running -> done | failed | cancelled. At most `max_running`
jobs run at once; the rest wait queued and start when a slot frees (a finishing
job starts the next one; so does every `refresh`). A job queued `after` another starts
only once that one is done, which makes chains of jobs (a study). A running job whose process
has vanished (SIGKILL, out of memory, machine restart) is marked failed by the
next `refresh`, never left "running". Rerunning a job (`resume`) runs the same
command again; the commands resume their own work (training continues from its
last epoch, preprocessing skips cached clips).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from fer_audit.errors import DamagedFile
from fer_audit.job_table import (
    NEXT_READY,
    SCHEMA,
    Job,
    add_missing_columns,
    deletion_refusals,
    job_from_row,
)
from fer_audit.procs import alive, process_start
from fer_audit.workspace import ENV_WORKSPACE, Workspace

ENV_JOB_ID = "FER_AUDIT_JOB_ID"
ENV_JOB_DB = "FER_AUDIT_JOB_DB"
VANISHED = (
    "the job's process ended without reporting back (killed, e.g. by SIGKILL or the "
    "out-of-memory killer, or the machine restarted); rerun it to resume"
)
#: SQLite's answers for a file that is damaged (not for "locked" or "busy")
_DAMAGED_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
MOVE_ASIDE = (
    "move it aside (rename it, e.g. to jobs.sqlite.damaged, or use 'Move it aside' on the "
    "Home, Data or Train page): jobs are then listed again from scratch in a new registry; "
    "their logs (jobs/) and run folders (runs/) stay"
)


def damaged_registry(path: Path, detail: str) -> DamagedFile:
    """The error for a job registry SQLite cannot read."""
    return DamagedFile(path, MOVE_ASIDE, f"the job registry cannot be read: {detail}")


def jobs_or_unchecked(workspace: Workspace, unchecked: list[str]) -> list[Job]:
    """Every job of the workspace, newest first ([] without a registry); a registry
    that cannot be read adds its path to `unchecked` (what a deletion could not check)
    and gives []."""
    if not workspace.jobs_db.exists():
        return []
    try:
        return JobRegistry(workspace).list()
    except DamagedFile as exc:
        unchecked.append(str(exc.path))
        return []


def move_registry_aside(workspace: Workspace) -> Path | None:
    """Rename a damaged jobs.sqlite (with its -wal and -shm files) to
    `jobs.sqlite.damaged-<time>`; returns the new name, or None when the registry
    reads fine after all (then nothing is moved)."""
    try:
        JobRegistry(workspace)
        return None
    except DamagedFile:
        pass
    path = workspace.jobs_db
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("-wal", "-shm", ""):  # the database last: a new one starts clean
        part = path.with_name(path.name + suffix)
        if part.exists():
            os.replace(part, target.with_name(target.name + suffix))
    return target


class JobRegistry:
    """The job table of one workspace. Safe to use from several processes at once."""

    def __init__(self, workspace: Workspace, *, max_running: int = 1) -> None:
        """Open (or create) the registry; DamagedFile naming jobs.sqlite, and what to do,
        when it is not a readable SQLite database."""
        self.workspace = workspace
        self.path = workspace.jobs_db
        self.max_running = max_running
        workspace.root.mkdir(parents=True, exist_ok=True)
        with self._checked(), closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
            add_missing_columns(db)
            problems = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise damaged_registry(self.path, "; ".join(problems[:3]))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    @contextmanager
    def _checked(self) -> Iterator[None]:
        """SQLite's "malformed" and "not a database" as DamagedFile naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) in _DAMAGED_CODES:
                raise damaged_registry(self.path, str(exc)) from None
            raise

    def _execute(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        with self._checked(), closing(self._connect()) as db, db:
            return db.execute(sql, params)

    # queries
    def get(self, job_id: int) -> Job:
        with self._checked(), closing(self._connect()) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"no job {job_id} in {self.path}")
        return job_from_row(row)

    def get_many(self, job_ids: Sequence[int]) -> dict[int, Job]:
        """The jobs of `job_ids` that exist, by id, in one query."""
        if not job_ids:
            return {}
        marks = ", ".join("?" * len(job_ids))
        with self._checked(), closing(self._connect()) as db:
            rows = db.execute(f"SELECT * FROM jobs WHERE id IN ({marks})", list(job_ids))
            return {row["id"]: job_from_row(row) for row in rows.fetchall()}

    def list(self) -> list[Job]:
        """Every job, newest first."""
        with self._checked(), closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY id DESC").fetchall()
        return [job_from_row(r) for r in rows]

    # changes
    def submit(
        self, argv: Sequence[str], *, title: str | None = None, after: int | None = None
    ) -> Job:
        """Queue the command `fer-audit <argv>` and start it if a slot is free (and,
        with `after`, once job `after` is done: a chain of jobs stops where one fails
        or is cancelled, and goes on when that one is resumed and finishes)."""
        argv = [str(a) for a in argv]
        if not argv or argv[0].startswith("-"):
            raise ValueError(f"a job needs a fer-audit command, not {argv!r}")
        logs = self.workspace.root / "jobs"
        logs.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO jobs (kind, title, argv, status, created_at, log_path, after_id) "
                "VALUES (?, ?, ?, 'queued', ?, '', ?)",
                (argv[0], title or " ".join(argv), json.dumps(argv), time.time(), after),
            )
            job_id = cursor.lastrowid
            db.execute(
                "UPDATE jobs SET log_path = ? WHERE id = ?", (str(logs / f"{job_id}.log"), job_id)
            )
        self.refresh()
        return self.get(job_id)

    def cancel(self, job_id: int) -> Job:
        """Stop a queued or running job (SIGTERM to its process group), and the jobs
        chained after it."""
        cursor = self._execute(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?, message = ? "
            "WHERE id = ? AND status IN ('queued', 'running')",
            (time.time(), "cancelled by the user", job_id),
        )
        job = self.get(job_id)  # after the change: it may have started or ended meanwhile
        if cursor.rowcount == 0:
            raise ValueError(f"job {job_id} is {job.status}; only queued or running jobs cancel")
        if job.pid and alive(job.pid, self._pid_start(job_id)):
            with suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGTERM)
        self.halt_chain(job_id)
        self.refresh()
        return self.get(job_id)

    def resume(self, job_id: int) -> Job:
        """Queue a finished (failed, cancelled or done) job's command again; ValueError
        when it is queued or running (also when another process just queued it)."""
        cursor = self._execute(
            "UPDATE jobs SET status = 'queued', pid = NULL, pid_start = NULL, "
            "finished_at = NULL, exit_code = NULL, message = 'queued again' "
            "WHERE id = ? AND status IN ('done', 'failed', 'cancelled')",
            (job_id,),
        )
        if cursor.rowcount == 0:
            raise ValueError(f"job {job_id} is still {self.get(job_id).status}")
        self.refresh()
        return self.get(job_id)

    def delete(self, job_ids: Sequence[int]) -> tuple[list[Job], dict[int, str]]:
        """Remove finished jobs from the registry in one transaction (their log files
        are left to the caller, `job_deletion`). Returns the jobs removed, and by id why
        each other one was kept (`deletion_refusals`). Ids are never given again."""
        ids = sorted(set(job_ids))
        with self._checked(), closing(self._connect()) as db, db:
            db.execute("BEGIN IMMEDIATE")  # no job starts or changes meanwhile
            jobs = [job_from_row(row) for row in db.execute("SELECT * FROM jobs").fetchall()]
            refused = deletion_refusals(ids, jobs)
            removed = [job for job in jobs if job.id in ids and job.id not in refused]
            db.executemany("DELETE FROM jobs WHERE id = ?", [(job.id,) for job in removed])
        return removed, refused

    def wait_for(self, job_id: int, after: int | None) -> None:
        """Chain job `job_id` (not running) after job `after` (None: after none)."""
        self._execute(
            "UPDATE jobs SET after_id = ? WHERE id = ? AND status != 'running'", (after, job_id)
        )

    def halt_chain(self, job_id: int) -> None:
        """Cancel every queued job chained after job `job_id`, which failed or was
        cancelled: a chain stops where one of its jobs stops (resuming them queues
        them again)."""
        why = f"not started: job #{job_id} before it in its chain {self.get(job_id).status}"
        frontier = [job_id]
        while frontier:
            marks = ", ".join("?" * len(frontier))
            with self._checked(), closing(self._connect()) as db, db:
                rows = db.execute(
                    f"SELECT id FROM jobs WHERE status = 'queued' AND after_id IN ({marks})",
                    frontier,
                ).fetchall()
                frontier = [row["id"] for row in rows]
                db.executemany(
                    "UPDATE jobs SET status = 'cancelled', finished_at = ?, message = ? "
                    "WHERE id = ? AND status = 'queued'",
                    [(time.time(), why, queued) for queued in frontier],
                )

    def refresh(self) -> list[Job]:
        """Mark vanished processes failed, start queued jobs into free slots; returns
        the jobs list."""
        self.mark_vanished()
        self._start_queued()
        return self.list()

    def mark_vanished(self) -> None:
        """Mark failed every running job whose process is gone."""
        with self._checked(), closing(self._connect()) as db:
            running = db.execute(
                "SELECT id, pid, pid_start FROM jobs WHERE status = 'running'"
            ).fetchall()
        for row in running:
            if not alive(row["pid"], row["pid_start"]):
                self._execute(
                    "UPDATE jobs SET status = 'failed', finished_at = ?, message = ? "
                    "WHERE id = ? AND status = 'running'",
                    (time.time(), VANISHED, row["id"]),
                )
                self.halt_chain(row["id"])

    def _start_queued(self) -> None:
        while True:
            with closing(self._connect()) as db, db:
                db.execute("BEGIN IMMEDIATE")  # one launcher at a time claims a job
                busy = db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'")
                if busy.fetchone()[0] >= self.max_running:
                    return
                row = db.execute(NEXT_READY).fetchone()
                if row is None:
                    return
                process = self._launch(job_from_row(row))
                db.execute(
                    "UPDATE jobs SET status = 'running', pid = ?, pid_start = ?, "
                    "started_at = ?, attempts = attempts + 1, message = 'started' "
                    "WHERE id = ?",
                    (process.pid, process_start(process.pid), time.time(), row["id"]),
                )
            # reap the child when it ends, so it does not linger as a zombie
            threading.Thread(target=process.wait, daemon=True).start()

    def _launch(self, job: Job) -> subprocess.Popen:
        env = os.environ | {
            ENV_WORKSPACE: str(self.workspace.root),
            ENV_JOB_ID: str(job.id),
            ENV_JOB_DB: str(self.path),
            "PYTHONUNBUFFERED": "1",
        }
        with open(job.log_path, "a") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {job.command()}\n")
            log.flush()
            # Not tied to this process (no procs.die_with_parent): a job outlives the
            # page and the app that launched it. Its own workers die with it.
            return subprocess.Popen(
                [sys.executable, "-m", "fer_audit.worker", str(job.id)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # relative paths resolve as for the launcher
            )

    def _pid_start(self, job_id: int) -> str | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT pid_start FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["pid_start"] if row else None

    # called from inside the job's process
    def report(
        self,
        job_id: int,
        *,
        progress: float | None = None,
        message: str | None = None,
        run_id: str | None = None,
    ) -> None:
        job = self.get(job_id)
        runs = job.runs + ([run_id] if run_id and run_id not in job.runs else [])
        self._execute(
            "UPDATE jobs SET progress = ?, message = ?, runs = ? WHERE id = ?",
            (
                job.progress if progress is None else min(max(progress, 0.0), 1.0),
                job.message if message is None else message,
                json.dumps(runs),
                job_id,
            ),
        )

    def _finish(self, job_id: int, status: str, exit_code: int, message: str) -> None:
        done = ", progress = 1" if status == "done" else ""
        cursor = self._execute(
            f"UPDATE jobs SET status = ?, exit_code = ?, finished_at = ?, message = ?{done} "
            "WHERE id = ? AND status = 'running'",
            (status, exit_code, time.time(), message, job_id),
        )
        if status != "done" and cursor.rowcount:  # a cancel halted its chain already
            self.halt_chain(job_id)
