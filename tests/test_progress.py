"""A build's progress: each step joined with its job, an ETA per step and in all."""

import os
from pathlib import Path

import pytest

from fer_audit.jobs import Job
from fer_audit.progress import BuildPlan, BuildProgress, duration, read_build, step_progress

NOW = 1_000.0


def job(status: str, *, progress: float = 0.0, started: float | None = None, **extra) -> Job:
    fields = dict(id=7, kind="train", title="demo: train regular", argv=["train"], pid=None,
                  created_at=0.0, started_at=started, finished_at=None, message="",
                  log_path=Path("7.log"), exit_code=None, runs=[], attempts=1)  # fmt: skip
    return Job(**(fields | {"status": status, "progress": progress} | extra))


PLANNED = {"name": "train regular", "estimate_s": 100.0, "status": "queued", "job_id": 7}


def test_a_running_step_extrapolates_its_own_pace():
    step = step_progress(PLANNED, job("running", progress=0.25, started=NOW - 30), NOW)
    assert step.status == "running" and step.fraction == 0.25
    assert step.elapsed_s == pytest.approx(30) and step.eta_s == pytest.approx(90)  # 30*0.75/0.25


def test_before_its_first_report_a_step_counts_down_its_estimate():
    early = step_progress(PLANNED, job("running", progress=0.01, started=NOW - 30), NOW)
    assert early.eta_s == pytest.approx(70)
    late = step_progress(PLANNED, job("running", progress=0.0, started=NOW - 300), NOW)
    assert late.eta_s == 0  # past its estimate: never a negative time


def test_finished_failed_and_unstarted_steps():
    done = step_progress(PLANNED, job("done", started=NOW - 50, finished_at=NOW - 8), NOW)
    assert (done.status, done.fraction, done.eta_s) == ("done", 1.0, 0.0)
    assert done.elapsed_s == pytest.approx(42)
    failed = step_progress(
        PLANNED, job("failed", progress=0.4, started=NOW - 9, finished_at=NOW - 1,
                     message="error: no usable clip"), NOW)  # fmt: skip
    assert failed.status == "failed" and failed.eta_s is None
    assert failed.message == "error: no usable clip" and failed.elapsed_s == pytest.approx(8)
    waiting = step_progress({**PLANNED, "status": "waiting", "job_id": None}, None, NOW)
    assert (waiting.status, waiting.eta_s) == ("waiting", 100.0)
    skipped = step_progress({**PLANNED, "status": "skipped"}, None, NOW)
    assert skipped.finished and skipped.eta_s == 0


def test_the_build_eta_sums_the_steps_not_finished():
    steps = [
        step_progress({**PLANNED, "status": "skipped"}, None, NOW),
        step_progress(PLANNED, job("running", progress=0.5, started=NOW - 20), NOW),
        step_progress({**PLANNED, "status": "waiting", "job_id": None}, None, NOW),
    ]
    progress = BuildProgress(status="building", steps=steps)
    assert progress.finished_steps == 1 and progress.current.status == "running"
    assert progress.eta_s == pytest.approx(20 + 100)


def test_the_plan_file_is_read_back_with_the_builder_alive(tmp_path):
    from fer_audit.jobs import JobRegistry
    from fer_audit.workspace import Workspace

    path = tmp_path / "build.json"
    plan = BuildPlan(path, {"one": 5.0, "two": 10.0}, pid=os.getpid())
    plan.skipped("one")
    progress = read_build(path, JobRegistry(Workspace(tmp_path / "ws")))
    assert progress.status == "building"
    assert [(s.name, s.status) for s in progress.steps] == [("one", "skipped"), ("two", "waiting")]
    plan.end("failed", "demo step 'two' failed: out of disk")
    progress = read_build(path, JobRegistry(Workspace(tmp_path / "ws")))
    assert progress.status == "failed" and "out of disk" in progress.error
    assert read_build(tmp_path / "none.json", JobRegistry(Workspace(tmp_path / "ws"))) is None


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (0.4, 42, 89, 150, 3600 * 2 + 300, None)] == [
        "0 s", "42 s", "89 s", "2 min", "2 h 5 min", "unknown"
    ]  # fmt: skip
