"""The demo workspace, end to end: a smaller build (fewer subjects, one seed) whose
audit finds the planted gap, labelled synthetic everywhere; a rerun redoes nothing; a
browser's first page names the synthetic data."""

import json

import pytest

from fer_audit.demo import (
    DemoSettings,
    build_demo,
    demo_record,
    includes_zero,
    planted_gap_table,
    unplanted_gaps,
)
from fer_audit.fairness import AuditResult
from fer_audit.jobs import JobRegistry
from fer_audit.workspace import Workspace

#: measured with the cosine rate decay, seeds 1-3, last 8 epochs of each run: sadness
#: TPR 0.0-0.1 (female) against 0.7-1.0 (male) for the Regular set, 0.0-0.1 against
#: 0.5-0.8 for the Male set
SMALL = DemoSettings(
    per_group=12,
    test_per_group=5,
    seeds=(1,),
    train_sets=("regular", "male"),
    epochs=30,
    patience=30,
    n_boot=1000,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_AUDIT_CHECKPOINTS", str(root / "checkpoints"))
        space = Workspace(root / "workspace")
        yield space, build_demo(space, SMALL, log=lambda line: None)


@pytest.fixture
def workspace(demo):  # the browser fixtures serve this workspace
    return demo[0]


def test_the_demo_audit_finds_the_planted_gap(demo):
    space, record = demo
    assert record["status"] == "done" and record["synthetic"] is True
    assert demo_record(space) == record
    assert set(record["steps"]) >= {"samples", "fer model", "synthetic data", "preprocess",
                                    "train regular", "evaluate", "audit", "report"}  # fmt: skip
    result = AuditResult.load(record["audit"])
    assert result.synthetic
    planted = planted_gap_table(result)
    # every Regular or Male model reads women's sadness no better than men's, and at
    # least one shows the gap beyond doubt (measured: all of them do)
    assert (planted["value"] <= 0).all(), planted
    assert ((planted["value"] < -0.3) & (planted["ci_high"] < 0)).any(), planted
    others = unplanted_gaps(result)
    assert includes_zero(others).mean() >= 0.5, others


def test_everything_made_from_the_demo_data_says_synthetic(demo):
    space, record = demo
    for run_id in record["runs"]:
        meta = json.loads((space.runs_dir / run_id / "run.json").read_text())
        assert meta["synthetic"] is True and meta["arch"] == "3dcnn"
        assert meta["input_size"] == SMALL.crop  # the reduced input size, recorded
    report = (space.audits_dir / SMALL.dataset / "report.html").read_text()
    assert "SYNTHETIC DATA" in report
    assert "synthetic" in (space.audits_dir / SMALL.dataset / "gaps.csv").read_text()
    jobs = JobRegistry(space).list()
    assert jobs and all(j.status == "done" and j.title.startswith("demo: ") for j in jobs)


def test_a_second_build_redoes_nothing(demo):
    space, record = demo
    stamps = {r: (space.runs_dir / r / "model.pt").stat().st_mtime_ns for r in record["runs"]}
    again = build_demo(space, SMALL, log=lambda line: None)
    assert again["steps"]["synthetic data"] == 0 and again["steps"]["fer model"] == 0
    assert again["runs"] == record["runs"]
    assert {r: (space.runs_dir / r / "model.pt").stat().st_mtime_ns for r in record["runs"]} == (
        stamps
    )


@pytest.mark.browser
def test_the_first_page_after_the_demo_names_the_synthetic_data(
    streamlit_server, browser_page, tmp_path
):
    browser_page.goto(streamlit_server)
    browser_page.get_by_role("heading", name="fer-audit").wait_for(timeout=60_000)
    browser_page.get_by_text("SYNTHETIC data in this workspace: demo-synthetic").wait_for()
    browser_page.get_by_text("The demo workspace").first.wait_for()
    assert browser_page.locator("[data-testid='stException']").count() == 0
    browser_page.screenshot(path=str(tmp_path / "home-demo.png"), full_page=True)


@pytest.mark.browser
def test_the_audit_page_switches_to_the_demo_predictions_and_its_filters(
    streamlit_server, browser_page, tmp_path
):
    browser_page.goto(streamlit_server)
    browser_page.get_by_role("link", name="Audit").first.click()
    browser_page.get_by_text("Published results").first.wait_for(timeout=60_000)
    browser_page.locator("[data-testid='stSelectbox']").first.click()
    browser_page.get_by_role("option").filter(has_text="demo-synthetic").first.click()
    browser_page.get_by_text("SYNTHETIC DATA: these results come from").wait_for(timeout=60_000)
    architectures = browser_page.locator("[data-testid='stMultiSelect']").first
    # the demo trained only 3dcnn: none of the published results' architectures linger
    chips = architectures.locator("[data-tag]")
    assert [chips.nth(i).get_attribute("aria-label") for i in range(chips.count())] == ["3dcnn"]
    assert browser_page.locator("[data-testid='stException']").count() == 0
    browser_page.screenshot(path=str(tmp_path / "audit-demo.png"), full_page=True)
