"""The demo workspace, end to end: the session's small demo (conftest.SESSION_DEMO),
built in the background as `make run` starts it, followed live, labelled synthetic
everywhere, never rebuilt by a rerun, and served to a browser; the full-size build,
whose audit must find the planted gap, is a slow test."""

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import SESSION_DEMO, choose_option
from fer_audit import cli
from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.demo import (
    PROGRESS,
    DemoSettings,
    build_demo,
    complete_demo,
    demo_argv,
    demo_record,
    includes_zero,
    planted_gap_table,
    read_demo_build,
    start_demo_build,
    step_estimates,
    unplanted_gaps,
)
from fer_audit.fairness import AuditResult
from fer_audit.jobs import JobRegistry
from fer_audit.progress import BuildPlan
from fer_audit.workspace import ENV_CHECKPOINTS, Workspace


@pytest.fixture
def demo(session_demo):
    return session_demo.workspace, session_demo.record


@pytest.mark.slow
def test_the_full_demo_audit_finds_the_planted_gap(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_CHECKPOINTS, str(tmp_path / "checkpoints"))
    space = Workspace(tmp_path / "workspace")
    record = build_demo(space, DemoSettings(), log=lambda line: None)
    assert record["status"] == "done" and record["synthetic"] is True
    assert demo_record(space) == record
    result = AuditResult.load(record["audit"])
    assert result.synthetic
    planted = planted_gap_table(result)
    # every Regular or Male model reads women's sadness no better than men's, and at
    # least one shows the gap beyond doubt (measured: all of them do)
    regular_or_male = planted[planted["train_set"] != "female"]
    assert (regular_or_male["value"] <= 0).all(), planted
    assert ((planted["value"] < -0.3) & (planted["ci_high"] < 0)).any(), planted
    others = unplanted_gaps(result)
    assert includes_zero(others).mean() >= 0.5, others


def test_the_background_build_was_followed_step_by_step(session_demo):
    seen = session_demo.seen
    names = list(step_estimates(SESSION_DEMO))
    assert seen[0].status == "building"  # the launcher returned with the plan written
    assert all([step.name for step in progress.steps] == names for progress in seen)
    finished = [progress.finished_steps for progress in seen]
    assert finished == sorted(finished) and finished[-1] == len(names)  # never backwards
    running = [s for progress in seen for s in progress.steps if s.status == "running"]
    assert running and all(s.eta_s is not None and s.eta_s >= 0 for s in running)
    assert {s.name for s in running} >= {"preprocess", "train regular"}
    assert seen[-1].status == "done" and seen[-1].eta_s == 0
    jobs = JobRegistry(session_demo.workspace).list()
    assert {job.title for job in jobs} == {f"demo: {name}" for name in names} - {
        f"demo: {s.name}" for s in seen[-1].steps if s.status == "skipped"
    }


def test_make_run_starts_no_second_build(session_demo, tmp_path, capsys):
    space = session_demo.workspace
    assert "the demo is built in" in start_demo_build(space, SESSION_DEMO)
    # a build under way elsewhere (its builder: this live process) is followed, not doubled
    other = Workspace(tmp_path / "workspace")
    BuildPlan(other.root / PROGRESS, step_estimates(SESSION_DEMO), pid=os.getpid())
    assert "is being built" in start_demo_build(other, SESSION_DEMO)
    assert not (other.root / "jobs").exists() and JobRegistry(other).list() == []
    # and a second builder started by hand fails at once, saying why
    held, release = threading.Event(), threading.Event()

    def builder() -> None:  # another thread: the lock is re-entrant within one
        with other.lock("demo-build"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=builder)
    holder.start()
    held.wait(10)
    try:
        code = cli.main(["--workspace", str(other.root), *demo_argv(SESSION_DEMO)])
    finally:
        release.set()
        holder.join()
    assert code == 1
    assert "another demo build is running" in capsys.readouterr().err


def test_a_build_whose_process_died_reads_stopped(tmp_path):
    space = Workspace(tmp_path / "workspace")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    BuildPlan(space.root / PROGRESS, {"samples": 5.0}, pid=int(ended.stdout))
    progress = read_demo_build(space)
    assert progress.status == "stopped" and progress.steps[0].status == "waiting"


def test_demo_settings_without_a_command_line_option_are_refused():
    with pytest.raises(ValueError, match="n_boot"):
        demo_argv(DemoSettings(n_boot=10))
    assert DemoSettings.from_record(json.loads(json.dumps(vars(SESSION_DEMO)))) == SESSION_DEMO


def test_everything_made_from_the_demo_data_says_synthetic(demo):
    space, record = demo
    for run_id in record["runs"]:
        meta = json.loads((space.runs_dir / run_id / "run.json").read_text())
        assert meta["synthetic"] is True and meta["arch"] == "3dcnn"
        assert meta["input_size"] == SESSION_DEMO.crop  # the reduced input size, recorded
    report = (space.audits_dir / SESSION_DEMO.dataset / "report.html").read_text()
    assert "SYNTHETIC DATA" in report
    assert "synthetic" in (space.audits_dir / SESSION_DEMO.dataset / "gaps.csv").read_text()
    jobs = JobRegistry(space).list()
    assert jobs and all(j.status == "done" and j.title.startswith("demo: ") for j in jobs)


def test_a_second_build_redoes_nothing(session_demo, monkeypatch):
    space, record = session_demo.workspace, session_demo.record
    monkeypatch.setenv(ENV_CHECKPOINTS, str(session_demo.checkpoints))
    stamps = {r: (space.runs_dir / r / "model.pt").stat().st_mtime_ns for r in record["runs"]}
    jobs = len(JobRegistry(space).list())
    assert build_demo(space, SESSION_DEMO, log=lambda line: None) == record  # as it was
    assert len(JobRegistry(space).list()) == jobs  # not one step run again
    assert {r: (space.runs_dir / r / "model.pt").stat().st_mtime_ns for r in record["runs"]} == (
        stamps
    )


def test_a_demo_missing_a_file_or_built_otherwise_is_not_complete(session_demo, tmp_path):
    space, record = session_demo.workspace, session_demo.record
    assert complete_demo(space, SESSION_DEMO) == record
    assert complete_demo(space, replace(SESSION_DEMO, epochs=3, patience=3)) is None
    report = Path(record["report"])
    kept = tmp_path / "report.html"
    report.rename(kept)
    try:
        assert complete_demo(space, SESSION_DEMO) is None  # the next build makes it again
    finally:
        kept.rename(report)


@pytest.mark.browser
def test_the_first_page_after_the_demo_names_the_synthetic_data(served, browser_page, tmp_path):
    browser_page.goto(served.url)
    browser_page.get_by_role("heading", name="fer-audit").wait_for(timeout=60_000)
    browser_page.get_by_text("In this workspace: demo-synthetic").wait_for()
    browser_page.get_by_text("The demo workspace").first.wait_for()
    assert browser_page.locator("[data-testid='stException']").count() == 0


@pytest.mark.browser
def test_the_audit_page_switches_to_the_demo_predictions_and_its_filters(
    served, browser_page, tmp_path
):
    browser_page.goto(served.url)
    from playwright.sync_api import expect

    browser_page.get_by_role("link", name="Audit", exact=True).click()
    browser_page.get_by_text("Published results").first.wait_for(timeout=60_000)
    choose_option(browser_page, browser_page.get_by_label("Source"), "demo-synthetic")
    browser_page.get_by_text(SYNTHETIC_NOTE).first.wait_for(timeout=60_000)
    architectures = browser_page.locator("[data-testid='stMultiSelect']").first
    # the demo trained only 3dcnn: none of the published results' architectures linger
    # (waited for: the page may still be redrawing the previous source's filters)
    expect(architectures.locator("[data-tag]")).to_have_count(1, timeout=30_000)
    assert architectures.locator("[data-tag]").first.get_attribute("aria-label") == "3dcnn"
    assert browser_page.locator("[data-testid='stException']").count() == 0
