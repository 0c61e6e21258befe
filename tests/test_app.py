"""The dashboard: AppTest for the page, and a real `streamlit run` served over HTTP."""

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


def test_streamlit_run_serves_the_home_page(streamlit_server):
    with urllib.request.urlopen(f"{streamlit_server}/", timeout=10) as response:
        assert response.status == 200
        assert b"<noscript>" in response.read()


@pytest.mark.browser
def test_home_page_in_a_browser_names_synthetic_data(
    streamlit_server, browser_page, workspace, tmp_path
):
    generate(
        tmp_path / "syn",
        SyntheticSettings(
            subjects_per_group={"female": 1, "male": 1}, size=32, fps=4, duration_s=0.5
        ),
    )
    register_dataset(workspace, "demo-synth", tmp_path / "syn", kind="sasefe")
    browser_page.goto(streamlit_server)
    browser_page.get_by_role("heading", name="fer-audit").wait_for(timeout=30_000)
    browser_page.get_by_text("SYNTHETIC data in this workspace: demo-synth").wait_for()
    browser_page.get_by_role("heading", name="Where to start").wait_for()
    assert browser_page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in browser_page.inner_text("body")
