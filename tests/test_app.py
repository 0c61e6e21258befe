"""The dashboard: AppTest for the page, and a real `streamlit run` served over HTTP."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import make_sasefe
from fer_audit.data.registry import register_dataset
from fer_audit.data.synthetic import SyntheticSettings, generate

REPO = Path(__file__).resolve().parent.parent


def test_home_page_on_an_empty_workspace(monkeypatch, workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "fer-audit"
    assert "No dataset registered yet." in [i.value for i in app.info]
    assert [m.value for m in app.metric][:1] == ["0"]


def test_home_page_names_synthetic_data(monkeypatch, workspace, tmp_path):
    generate(
        tmp_path / "syn",
        SyntheticSettings(
            subjects_per_group={"female": 1, "male": 1}, size=32, fps=4, duration_s=0.5
        ),
    )
    register_dataset(workspace, "syn", tmp_path / "syn", kind="sasefe")
    register_dataset(workspace, "real", make_sasefe(tmp_path / "sase", {"S1": "f"}), kind="sasefe")
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert "SYNTHETIC data in this workspace: syn." in app.warning[0].value
    table = app.dataframe[0].value
    assert table.set_index("name")["synthetic"].to_dict() == {"real": "real", "syn": "SYNTHETIC"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_streamlit_run_serves_the_home_page(workspace):
    port = _free_port()
    env = {**os.environ, "FER_AUDIT_WORKSPACE": str(workspace.root)}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://localhost:{port}/_stcore/health", timeout=5
                ) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start: {server.stdout.read().decode()[-2000:]}")
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://localhost:{port}/", timeout=10) as response:
            assert response.status == 200
            assert b"<noscript>" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=30)
