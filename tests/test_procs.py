"""Processes that cost nothing once they should be gone: after `kill -9` of `fer-audit
preprocess --workers N` or of a job no worker is left; `die_with_parent` on its own;
the dashboard's server watches no files (jobs write thousands into the workspace)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from conftest import REPO, synthetic_workspace
from fer_audit.commands import preprocess_argv
from fer_audit.jobs import JobRegistry
from fer_audit.video.cache import ClipCache
from fer_audit.video.settings import PreprocessSettings

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SETTINGS = PreprocessSettings(k=10, margin=0, size=48, detector="none")
PREPROCESS = preprocess_argv("syn", SETTINGS, workers=2)
GRACE_S = 5.0


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first); None when
    there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _descendants(root: int) -> dict[int, str]:
    """Every living process below `root`, as pid -> start time (guards a reused pid)."""
    children: dict[int, list[int]] = {}
    starts = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            starts[int(entry.name)] = fields[19]
    found, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = starts[pid]
        todo += children.get(pid, [])
    return found


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in "ZX" and fields[19] == started


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def _workers(root: int) -> dict[int, str]:
    return {p: s for p, s in _descendants(root).items() if "spawn_main" in _cmdline(p)}


def _survivors(processes: dict[int, str], within: float = GRACE_S) -> dict[int, str]:
    """The processes of `processes` still alive `within` seconds from now."""
    deadline = time.monotonic() + within
    while True:
        alive = {p: s for p, s in processes.items() if _alive(p, s)}
        if not alive or time.monotonic() > deadline:
            return {p: _cmdline(p) for p in alive}
        time.sleep(0.1)


def _kill(processes: dict[int, str]) -> None:
    for pid, started in processes.items():
        if _alive(pid, started):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def dataset(workspace, tmp_path):
    """144 short synthetic videos: the workers run for several seconds."""
    return synthetic_workspace(workspace, tmp_path / "syn", per_group=6, duration_s=1.6)


def _kill_mid_run(pid: int, running, cached: Path) -> dict[int, str]:
    """Once both workers of `pid` are up and a clip is cached, kill -9 `pid`; its
    descendants at that moment."""
    deadline = time.monotonic() + 120
    while len(_workers(pid)) < 2 or not any(cached.glob("*.json")):
        assert running(), "finished before it could be killed"
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.05)
    below = _descendants(pid)
    os.kill(pid, signal.SIGKILL)
    return below


def _assert_workers_end_with(pid: int, running, dataset) -> None:
    """kill -9 `pid` once its workers have cached a clip; none of them may outlive it
    (whatever happens, every process left is killed)."""
    below = {}
    try:
        cached = ClipCache(dataset.cache_dir, SETTINGS).folder
        below = _kill_mid_run(pid, running, cached)
        assert len(below) >= 2
        assert _survivors(below) == {}
    finally:
        _kill(below)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


def test_kill_9_of_preprocess_leaves_no_worker(dataset):
    exe = Path(sys.executable).parent / "fer-audit"
    process = subprocess.Popen(
        [str(exe), "--workspace", str(dataset.root), *PREPROCESS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _assert_workers_end_with(process.pid, lambda: process.poll() is None, dataset)
    finally:
        process.wait(timeout=10)


def test_kill_9_of_a_job_leaves_no_worker(dataset):
    registry = JobRegistry(dataset)
    job = registry.submit(PREPROCESS)
    _assert_workers_end_with(job.pid, lambda: registry.get(job.id).active, dataset)
    registry.refresh()
    assert registry.get(job.id).status == "failed"


CHILD = """
import multiprocessing, os, sys, time
from fer_audit import procs

def child(how):
    if how == "poll":  # as off Linux
        procs.set_parent_death_signal = lambda sig: False
    print(os.getpid(), procs.die_with_parent(), flush=True)
    time.sleep(60)

if __name__ == "__main__":
    worker = multiprocessing.get_context("fork").Process(target=child, args=(sys.argv[1],))
    worker.start()
    time.sleep(60)
"""


@pytest.mark.parametrize("how", ["prctl", "poll"])
def test_a_child_dies_with_its_parent(tmp_path, how):
    script = tmp_path / "parent.py"
    script.write_text(CHILD)
    parent = subprocess.Popen(
        [sys.executable, str(script), how],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    child = {}
    try:
        pid, watched = parent.stdout.readline().split()  # once die_with_parent is done
        pid = int(pid)
        child = {pid: _stat(pid)[19]}
        assert watched == how
        assert _alive(pid, child[pid])
        parent.kill()
        parent.wait(timeout=10)
        assert _survivors(child) == {}
    finally:
        _kill(child)
        parent.kill()
        parent.wait(timeout=10)
        parent.stdout.close()


def test_a_child_whose_parent_is_already_gone_ends_at_once():
    # the parent died before die_with_parent ran: this process was reparented
    code = "from fer_audit.procs import die_with_parent; die_with_parent(1); print('survived')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert "survived" not in done.stdout
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_the_dashboard_watches_no_files():
    # Streamlit's watcher watched the whole repository, ./workspace included: a full
    # core and ~40,000 "Inotify queue overflowed" lines while jobs wrote there.
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"].get("runOnSave", False) is False
    # ... and that is what a server started in the repository (`make run`) reads
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    code = "from streamlit import config; print(config.get_option('server.fileWatcherType'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["none"], done.stderr


def test_sigterm_of_preprocess_stops_it_without_running_the_queued_videos(dataset):
    # as `kill PID`, `timeout` or `docker stop` do: the command unwinds (exit 143) and
    # the videos still queued for its pool are dropped, not all run first
    exe = Path(sys.executable).parent / "fer-audit"
    process = subprocess.Popen(
        [str(exe), "--workspace", str(dataset.root), *PREPROCESS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cached = ClipCache(dataset.cache_dir, SETTINGS).folder
    try:
        deadline = time.monotonic() + 120
        while len(_workers(process.pid)) < 2 or not any(cached.glob("*.json")):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers = _workers(process.pid)
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 143, process.stdout.read().decode()[-800:]
        assert len(list(cached.glob("*.json"))) < 144  # the rest were never started
        assert _survivors(workers) == {}
    finally:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
