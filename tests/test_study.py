"""The study as one job: a real chain of background jobs from preprocessing to the report,
stopped by a kill, resumed, cancelled; its ETA from finished steps; its page."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from conftest import TINY_PREPROCESS, shown, wait_for_job, widget
from fer_audit.atomic import read_json
from fer_audit.cli.toplevel import main
from fer_audit.fairness.predictions import read_predictions
from fer_audit.jobs import VANISHED, Job, JobRegistry
from fer_audit.progress import StepProgress
from fer_audit.study.chain import (
    StudyExists,
    cancel_study,
    read_study,
    start_study,
    study_jobs,
    study_path,
)
from fer_audit.study.progress import GONE, eta_words, study_progress
from fer_audit.study.settings import Study, StudySettings
from fer_audit.workspace import Workspace

TINY = {"input_size": 32}
REPO = Path(__file__).resolve().parents[1]


def tiny_study(name: str, **settings) -> Study:
    return Study.of(
        name,
        StudySettings(**{"train_sets": "female", **settings}),
        train={"dataset": "syn", "epochs": 2, **TINY},
        preprocess=TINY_PREPROCESS,
        audit={"bootstrap": 200},
    )


def follow(registry: JobRegistry, workspace, name: str, condition, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while True:
        registry.refresh()
        progress = study_progress(registry, read_study(workspace, name))
        if condition(progress):
            return progress
        if time.monotonic() > deadline:
            logs = [job.log_tail(20) for job in study_jobs(registry, progress.record) if job]
            raise AssertionError(f"timed out at {progress.status}: {progress.steps}\n{logs}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def finished(tiny_workspace):
    """Study "whole", started on the command line, its training killed while it runs
    (SIGKILL) and the study resumed there to its end; and how it stood once killed.
    (That a killed training goes on from its last epoch is test_jobs' to show.)"""
    root = str(tiny_workspace.root)
    pre = ["--k", "10", "--margin", "0", "--size", "32", "--detector", "none"]
    assert main(["--workspace", root, "study", "start", "--dataset", "syn", "--name", "whole",
                 "--train-sets", "female", "--epochs", "2",
                 "--input-size", "32", "--bootstrap", "200", *pre]) == 0  # fmt: skip
    registry = JobRegistry(tiny_workspace)
    training = follow(registry, tiny_workspace, "whole", lambda p: p.steps[1].status == "running")
    os.killpg(registry.get(training.steps[1].job_id).pid, signal.SIGKILL)
    stopped = follow(registry, tiny_workspace, "whole", lambda p: not p.active)
    time.sleep(1.0)
    registry.refresh()  # a free slot, yet nothing after the killed step starts
    still = [job.status for job in study_jobs(registry, stopped.record)]
    assert main(["--workspace", root, "study", "resume", "whole", "--wait"]) == 0
    return tiny_workspace, stopped, still


def test_the_study_runs_as_one_chain_to_its_saved_audit_and_report(finished):
    workspace, _, _ = finished
    registry = JobRegistry(workspace)
    record = read_study(workspace, "whole")
    kinds = [step["kind"] for step in record["steps"]]
    assert kinds == ["preprocess", "train", "evaluate", "audit", "report"]
    jobs = study_jobs(registry, record)
    assert [job.status for job in jobs] == ["done"] * 5
    assert [job.after_id for job in jobs] == [None] + [job.id for job in jobs[:-1]]
    table, _ = read_predictions(record["outputs"]["predictions"])
    run_ids = [step["run_id"] for step in record["steps"] if step["run_id"]]
    assert sorted(table["run_id"].unique()) == sorted(run_ids)
    assert set(table["train_set"]) == {"female"}
    audit = read_json(Path(record["outputs"]["audit"]) / "audit.json")
    assert audit["n_boot"] == 200 and audit["synthetic"]
    assert record["synthetic"] and table["synthetic"].all()
    assert "SYNTHETIC" in Path(record["outputs"]["report"]).read_text()
    progress = study_progress(registry, record)
    assert (progress.status, progress.done, progress.current) == ("done", 5, None)


def test_a_killed_step_stops_the_chain_and_resume_goes_on_from_it(finished):
    workspace, stopped, still = finished
    killed = stopped.steps[1]
    assert (stopped.status, killed.status, killed.message) == ("failed", "failed", VANISHED)
    assert [step.status for step in stopped.steps[2:]] == ["cancelled"] * 3
    why = f"not started: job #{killed.job_id} before it in its chain failed"
    assert {step.message for step in stopped.steps[2:]} == {why}
    assert still == ["done", "failed", "cancelled", "cancelled", "cancelled"]
    assert eta_words(stopped).startswith("; stopped, no estimate yet")  # none had finished
    run = workspace.runs_dir / stopped.record["steps"][1]["run_id"]
    assert read_json(run / "run.json")["status"] == "done"  # the resumed step went on


def test_cancel_stops_every_step_not_done(finished):
    workspace, _, _ = finished
    registry = JobRegistry(workspace)
    start_study(workspace, registry, tiny_study("cancelled", train_sets="male"))
    assert cancel_study(workspace, registry, "cancelled") >= 1
    progress = follow(registry, workspace, "cancelled", lambda p: not p.active)
    assert progress.status == "cancelled"
    assert {step.status for step in progress.steps} <= {"done", "cancelled"}
    assert not any(job.active for job in registry.refresh())


def test_a_registry_moved_aside_leaves_the_study_to_resume_not_to_strangers(finished, tmp_path):
    workspace, _, _ = finished
    copy = Workspace(tmp_path / "workspace")
    shutil.copytree(workspace.root, copy.root, ignore=shutil.ignore_patterns("locks"))
    copy.jobs_db.rename(copy.jobs_db.with_name("jobs.sqlite.old"))
    for part in ("-wal", "-shm"):
        copy.jobs_db.with_name(f"jobs.sqlite{part}").unlink(missing_ok=True)
    registry = JobRegistry(copy)
    stranger = registry.submit(["datasets", "list"])  # id 1 again, another command
    wait_for_job(registry, stranger.id, lambda j: not j.active)
    progress = study_progress(registry, read_study(copy, "whole"))
    assert progress.status == "incomplete"
    assert {step.status for step in progress.steps} == {"not queued"}
    assert {step.message for step in progress.steps} == {GONE}


def test_a_study_the_workspace_cannot_take_queues_nothing(finished):
    finished, _, _ = finished
    registry = JobRegistry(finished)
    before = len(registry.list())
    refusals = {
        "whole": (StudyExists, "choose another name"),
        "bad-arch": (ValueError, "architectures nosuch"),
        "bad-set": (ValueError, "training set.s. other: syn's are regular"),
        "bad-seeds": (ValueError, "seeds must be whole numbers"),
    }
    settings = {
        "whole": {},
        "bad-arch": {"archs": "3dcnn,nosuch"},
        "bad-set": {"train_sets": "regular,other"},
        "bad-seeds": {"seeds": "1,x"},
    }
    for name, (error, words) in refusals.items():
        with pytest.raises(error, match=words):
            start_study(finished, registry, tiny_study(name, **settings[name]))
        if name != "whole":
            assert not study_path(finished, name).exists()
    with pytest.raises(ValueError, match="study name '../up' is not allowed"):
        tiny_study("../up")
    assert len(registry.list()) == before


class _Jobs:
    """The registry's one query the progress makes, over jobs given here."""

    def __init__(self, jobs: list[Job]):
        self.jobs = {job.id: job for job in jobs}

    def get_many(self, ids):
        return {i: self.jobs[i] for i in ids if i in self.jobs}


def _job(job_id: int, status: str, *, started=None, finished=None, progress=0.0, after=None):
    return Job(job_id, "x", "x", ["x"], status, None, 0.0, started, finished, progress, "",
               Path("x.log"), None, [], 1, after)  # fmt: skip


def test_the_eta_comes_from_finished_steps_of_the_same_kind_per_unit():
    steps = [
        ("train regular", "train", 2, _job(1, "done", started=0, finished=20)),
        ("train female", "train", 1, _job(2, "done", started=20, finished=32)),
        ("train male", "train", 1, _job(3, "running", started=32, progress=0.5, after=2)),
        ("train regular 2", "train", 2, _job(4, "queued", after=3)),
        ("evaluate", "evaluate", 1, _job(5, "queued", after=4)),
    ]
    record = {
        "name": "s",
        "steps": [
            {"name": n, "kind": k, "argv": ["x"], "units": u, "job_id": j.id, "run_id": None}
            for n, k, u, j in steps
        ],
    }
    progress = study_progress(_Jobs([s[3] for s in steps]), record, now=40.0)
    per_unit = (20 / 2 + 12 / 1) / 2  # 11 s per gender group trained on
    male, regular, evaluate = progress.steps[2:]
    assert male.status == "running"
    assert male.eta_s == pytest.approx(min(8 * 0.5 / 0.5, per_unit - 8))  # 3 s: its peers'
    assert (regular.status, regular.eta_s) == ("waiting", pytest.approx(2 * per_unit))
    assert evaluate.eta_s is None and progress.unestimated == ["evaluate"]
    assert progress.eta_s == pytest.approx(3 + 22)
    words = ", about 25 s left, plus evaluate (no estimate until one of their kind finishes)"
    assert eta_words(progress) == words
    assert isinstance(male, StepProgress) and progress.status == "running"


def test_the_study_page_queues_a_study_and_shows_one_progress(finished, monkeypatch):
    from streamlit.testing.v1 import AppTest

    finished, _, _ = finished
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(finished.root))
    try:
        app = AppTest.from_file(str(REPO / "app_pages" / "study.py"), default_timeout=60).run()
        assert not app.exception
        app = widget(app.selectbox, "Study").set_value("whole").run()
        assert any("5 of 5 steps done" in shown(p.proto.text) for p in app.get("progress"))
        assert any(b.label == "Open its audit" for b in app.button)

        widget(app.number_input, "Epochs (at most)").set_value(2)
        widget(app.number_input, "Input size (px; 0 = the architecture's own)").set_value(32)
        widget(app.multiselect, "Training sets").set_value(["male"])
        name = "Study name (its predictions table and audit folder)"
        widget(app.text_input, name).set_value("from-page")
        app = _submit(app)
        assert not app.exception
        assert any("Queued the study from-page: 5 steps" in shown(s.value) for s in app.success)
        assert widget(app.selectbox, "Study").value == "from-page"
        record = read_study(finished, "from-page")
        assert record["train"]["epochs"] == 2 and record["settings"]["train_sets"] == "male"
        assert record["train"]["preprocess"]["k"] == TINY_PREPROCESS.k  # the dataset's own
    finally:
        registry = JobRegistry(finished)
        if study_path(finished, "from-page").exists():
            cancel_study(finished, registry, "from-page")
        for job in registry.list():
            if job.active:
                wait_for_job(registry, job.id, lambda j: not j.active)


def _submit(app):
    return next(b for b in app.button if b.label == "Start the study").click().run()
