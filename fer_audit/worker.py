"""The job worker: `python -m fer_audit.worker JOB_ID` runs one job of the workspace's
registry (`jobs.JobRegistry` starts it) and records how the job ended.

The job's command line runs as `python -m fer_audit.cli ARGV` in a child process, so
neither the worker nor the registry imports the commands (the commands import the
registry to report their progress). The child dies with the worker (PR_SET_PDEATHSIG,
Linux), so `kill -9` of a job's process leaves nothing running. Because the worker
only waits, a command that takes the interpreter down (out of memory, a crash in a
native library) is still recorded as failed, with the signal that ended it.

Cancelling sends SIGTERM to the job's process group, child included: the command
unwinds (`procs.sigterm_unwinds`), exits 143, and the job is recorded as cancelled.

The command's side of a job is here too: `report_progress`, which the commands call
(a no-op outside a job).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

from fer_audit.errors import FIX_LINE, DamagedFile
from fer_audit.job_table import WARNING
from fer_audit.jobs import ENV_JOB_DB, ENV_JOB_ID, Job, JobRegistry
from fer_audit.procs import TERMINATED_EXIT, set_parent_death_signal
from fer_audit.workspace import Workspace


def run_job(job_id: int) -> int:
    """Run job `job_id` of the workspace in $FER_AUDIT_WORKSPACE to its end; record
    done, failed (with the command's last error) or cancelled; return its exit code."""
    registry = JobRegistry(Workspace.from_env())
    job = registry.get(job_id)
    cancelled: list[int] = []
    started: list[subprocess.Popen] = []

    def cancel(signum, frame) -> None:
        cancelled.append(signum)
        if started and started[0].poll() is None:  # a SIGTERM to this process alone
            os.kill(started[0].pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, cancel)  # before the command starts: no gap
    code = -signal.SIGTERM
    if not cancelled:
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "fer_audit.cli", *job.argv],
                stdin=subprocess.DEVNULL,
                preexec_fn=set_parent_death_signal,
            )
        )
        code = started[0].wait()
    status, message = _outcome(job, code, cancelled=bool(cancelled))
    if status == "cancelled":
        print("cancelled", flush=True)
        code = TERMINATED_EXIT
    try:
        registry._finish(job_id, status, code, message)
        registry.refresh()  # start the next queued job
    except DamagedFile as exc:  # moved aside or damaged while the job ran
        print(f"error: the job finished ({status}) but could not be recorded: {exc}", flush=True)
    return code


def _outcome(job: Job, code: int, *, cancelled: bool) -> tuple[str, str]:
    """(status, message) of a command that exited with `code` (negative: the signal)."""
    lines = job.log_tail(200).splitlines()  # read once: its warning, or its error and fix
    if code == 0:
        return "done", _last_warning(lines) or "finished"
    if cancelled or code in (TERMINATED_EXIT, -signal.SIGTERM):
        return "cancelled", "cancelled by the user"
    if code < 0:
        name = signal.Signals(-code).name
        return "failed", f"the command was ended by {name} (out of memory, or killed)"
    error = _last_error(lines) or f"exited with code {code}"
    fix = _fix_after(lines, error)
    return "failed", f"{error}\n{fix}" if fix else error


def _last_warning(lines: list[str]) -> str | None:
    """The last `warning:` line of the command's log: a job done with warnings."""
    return next((line for line in reversed(lines) if line.startswith(WARNING)), None)


def _last_error(lines: list[str]) -> str | None:
    """The last `error:`/`failed:` line the command wrote to its log, else the last line
    of an uncaught exception's traceback (`Type: message`)."""
    errors = [
        line
        for line in lines
        if line.startswith(("error:", "failed:")) or ": error: " in line  # argparse's
    ]
    if errors:
        return errors[-1]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return next((line for line in reversed(lines) if line.strip()), None)
    return None


def _fix_after(lines: list[str], error: str) -> str | None:
    """The `fix:` line right after the last `error` line (a DataProblem's), if any."""
    for line, following in reversed(list(zip(lines, lines[1:], strict=False))):
        if line == error:
            return following if following.startswith(FIX_LINE) else None
    return None


def report_progress(
    fraction: float | None = None, message: str | None = None, *, run_id: str | None = None
) -> None:
    """Record the progress of the job this process runs; does nothing outside a job."""
    job_id, db = os.environ.get(ENV_JOB_ID), os.environ.get(ENV_JOB_DB)
    if not job_id or not db:
        return
    try:
        _registry_at(db).report(int(job_id), progress=fraction, message=message, run_id=run_id)
    except (DamagedFile, KeyError) as exc:  # damaged, or moved aside: the work goes on
        if not _UNRECORDED:
            print(f"note: progress is not recorded: {exc}", file=sys.stderr, flush=True)
        _UNRECORDED.append(str(exc))


#: progress reports the registry could not take (the first one is printed)
_UNRECORDED: list[str] = []


@functools.cache
def _registry_at(db: str) -> JobRegistry:
    """One registry per process (it is reported to once per video or epoch)."""
    return JobRegistry(Workspace(Path(db).parent))


if __name__ == "__main__":
    code = run_job(int(sys.argv[1]))
    sys.exit(code if code >= 0 else 128 - code)  # a signal's number, as a shell says it
