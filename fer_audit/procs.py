"""Worker processes that end with their parent, and whether a process still runs.

A worker started by fer-audit (a preprocessing pool's process, say) must not outlive
the process that started it: after `kill -9` of `fer-audit preprocess --workers 8`
or of a job, nothing else would ever end them, and each holds hundreds of MB.

`die_with_parent()`, called first thing in the worker, asks Linux to send the worker
a signal when its parent dies (prctl PR_SET_PDEATHSIG). The kernel sends it when the
parent *thread* that started the worker exits, so start workers from a thread that
lives as long as they should (the main thread, as ProcessPoolExecutor does for its
"spawn" workers). Elsewhere (macOS, or prctl refused) a daemon thread in the worker
polls its parent's pid and ends the worker when the parent is gone.

Jobs deliberately do NOT call it: a job outlives the dashboard that launched it;
only the job's own workers die with the job.

`sigterm_unwinds()` turns SIGTERM (a cancelled job, a cluster's scheduler ending a
command) into an exception, so `finally` blocks and context managers clean up.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
#: how often the fallback thread looks at its parent's pid, in seconds
POLL_S = 0.5
_DEFAULT_SIGNAL = getattr(signal, "SIGKILL", signal.SIGTERM)


def die_with_parent(parent_pid: int | None = None, sig: int = _DEFAULT_SIGNAL) -> str:
    """End this process with `sig` once its parent (`parent_pid`; by default the
    multiprocessing parent, else the current parent) has died. Returns how it is
    watched: "prctl" (the kernel signals us) or "poll" (a daemon thread).

    If the parent is already gone when this is called, the process ends at once.
    """
    if parent_pid is None:
        parent = multiprocessing.parent_process()
        parent_pid = parent.pid if parent is not None and parent.pid else os.getppid()
    how = "prctl" if set_parent_death_signal(sig) else "poll"
    # The parent may have died before the call above: then we were reparented (to
    # init or a subreaper) and no signal will ever come.
    if os.getppid() != parent_pid:
        _end(sig)
    if how == "poll":
        threading.Thread(
            target=_watch_parent, args=(parent_pid, sig), name="die-with-parent", daemon=True
        ).start()
    return how


def set_parent_death_signal(sig: int = _DEFAULT_SIGNAL) -> bool:
    """prctl(PR_SET_PDEATHSIG, sig): this process gets `sig` when its parent thread
    ends. It survives `exec`, so it also serves as a `subprocess.Popen(preexec_fn=)`.
    False where there is no such call or it failed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, sig: int, interval: float = POLL_S) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    _end(sig)


def _end(sig: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), sig)
    os._exit(128 + int(sig))  # a signal that does not end us (or no os.kill): end anyway


#: a command's exit status after SIGTERM, as a shell reports it (128 + 15)
TERMINATED_EXIT = 128 + int(signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM arrived (see `sigterm_unwinds`); a BaseException so that no
    `except Exception` of the work in progress swallows it."""


def _raise_terminated(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the unwinding
    raise Terminated


@contextlib.contextmanager
def sigterm_unwinds():
    """Within the block, SIGTERM raises `Terminated` (in the main thread; elsewhere,
    where Python cannot install handlers, nothing changes). The previous handler is
    restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (guards against a reused pid); None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int | None, started: str | None) -> bool:
    """Whether process `pid` runs and is the one started at `started` (see
    `process_start`; None: any process with that pid)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True  # no /proc: trust the signal check
    if fields[0] in ("Z", "X"):
        return False
    return started is None or fields[19] == started
