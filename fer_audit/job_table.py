"""The job table: its SQLite schema (and the columns later versions added), the `Job`
a row reads as, and the query that picks the next job to start. `fer_audit.jobs` runs
the registry over it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fer_audit.errors import FIX_LINE

ACTIVE = ("queued", "running")
#: how a command's log line, and a job done with one, begins
WARNING = "warning:"
FINISHED = ("done", "failed", "cancelled")


SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    argv TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    pid_start TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    log_path TEXT NOT NULL,
    exit_code INTEGER,
    runs TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    after_id INTEGER
)
"""
#: columns added after the first registries were made: (name, declaration)
ADDED_COLUMNS = (("after_id", "INTEGER"),)
#: the first queued job that may start: none before it, or the one before it is done
#: (a job whose predecessor is gone from the registry may start too)
NEXT_READY = """
SELECT jobs.* FROM jobs LEFT JOIN jobs AS prior ON prior.id = jobs.after_id
WHERE jobs.status = 'queued'
  AND (jobs.after_id IS NULL OR prior.id IS NULL OR prior.status = 'done')
ORDER BY jobs.id LIMIT 1
"""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    title: str
    argv: list[str]
    status: str
    pid: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    progress: float
    message: str
    log_path: Path
    exit_code: int | None
    runs: list[str]
    attempts: int
    #: the job this one waits for (it starts once that one is done), if any
    after_id: int | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def warned(self) -> bool:
        """Done, but with a warning (its message): e.g. most clips were unusable."""
        return self.status == "done" and self.message.startswith(WARNING)

    @property
    def fix(self) -> str | None:
        """What to change, for a job that failed on a data problem (running it again
        would repeat the failure): its message's fix line."""
        _, found, fix = self.message.partition("\n" + FIX_LINE)
        if not found or self.status != "failed":
            return None
        return fix.strip() or None

    @property
    def headline(self) -> str:
        """Its message without the fix line."""
        return self.message.partition("\n" + FIX_LINE)[0]

    @property
    def one_line(self) -> str:
        """Its message on one line: the headline, then "; fix: ..." when it has one."""
        return self.headline + (f"; {FIX_LINE}{self.fix}" if self.fix else "")

    @property
    def outcome(self) -> str:
        """The status as a reader is told it: 'done, with warnings' for a warned job."""
        return "done, with warnings" if self.warned else self.status

    def log_tail(self, lines: int | None = 40) -> str:
        """The last `lines` lines of the job's log (all with None; '' before it has
        written any)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:] if lines else text.splitlines())

    def command(self) -> str:
        return "fer-audit " + " ".join(self.argv)

    def seconds(self, now: float) -> float | None:
        """How long the job's last attempt ran: to its end, or to `now` while it runs;
        None when it never started."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else now
        return max(end - self.started_at, 0.0)


def deletion_refusals(job_ids: list[int], jobs: list[Job]) -> dict[int, str]:
    """Why each job of `job_ids` may not be deleted, by id, among all the registry's
    `jobs`: unknown, queued or running, or waited for by a queued job (which would
    otherwise start as if it had finished). Finished jobs not waited for are absent."""
    by_id = {job.id: job for job in jobs}
    waited = {
        job.after_id: job.id for job in jobs if job.status == "queued" and job.after_id is not None
    }
    refused = {}
    for job_id in job_ids:
        job = by_id.get(job_id)
        if job is None:
            refused[job_id] = f"there is no job #{job_id}"
        elif job.active:
            refused[job_id] = f"job #{job_id} is {job.status}: cancel it first"
        elif job_id in waited:
            refused[job_id] = (
                f"job #{job_id} is waited for by queued job #{waited[job_id]}: cancel that "
                "one first, or delete this one once it has started"
            )
    return refused


#: the order a job list shows: running, then queued, then finished jobs
_LIST_ORDER = {"running": 0, "queued": 1}


def listing_order(jobs: list[Job]) -> list[Job]:
    """`jobs` as a list shows them: running ones first, then queued ones, then the
    finished ones; newest first within each."""
    return sorted(jobs, key=lambda job: (_LIST_ORDER.get(job.status, 2), -job.id))


def page_count(total: int, size: int) -> int:
    """How many pages of `size` items `total` items fill (at least one)."""
    return max((total + size - 1) // size, 1)


def page_label(page: int, total: int, size: int) -> str:
    """Page `page` (from 0) of a list of `total` jobs in words: "Jobs 11-20 of 37"."""
    first = page * size + 1
    return f"Jobs {first}-{min(first + size - 1, total)} of {total}"


def job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        argv=json.loads(row["argv"]),
        status=row["status"],
        pid=row["pid"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        progress=row["progress"],
        message=row["message"],
        log_path=Path(row["log_path"]),
        exit_code=row["exit_code"],
        runs=json.loads(row["runs"]),
        attempts=row["attempts"],
        after_id=row["after_id"],
    )


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a registry made by an earlier version up to the current columns (two
    processes may try at once: the second finds the column there)."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
    for name, declaration in ADDED_COLUMNS:
        if name not in present:
            try:
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise
