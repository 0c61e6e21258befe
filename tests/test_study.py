"""The study as one job: a real chain of background jobs from preprocessing to the report,
stopped by a kill, resumed, cancelled; its ETA from finished steps; its page."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import TINY_PREPROCESS, shown, wait_for_job, widget
from fer_audit.atomic import read_json
from fer_audit.cli.toplevel import main
from fer_audit.fairness.predictions import read_predictions
from fer_audit.jobs import Job, JobRegistry
from fer_audit.progress import StepProgress
from fer_audit.study.chain import (
    StudyExists,
    cancel_study,
    read_study,
    resume_study,
    start_study,
    study_jobs,
    study_path,
)
from fer_audit.study.progress import eta_words, study_progress
from fer_audit.study.settings import Study, StudySettings

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
    """Study "whole", started on the command line and followed there to its end."""
    pre = ["--k", "10", "--margin", "0", "--size", "32", "--detector", "none"]
    code = main(["--workspace", str(tiny_workspace.root), "study", "start", "--dataset", "syn",
                 "--name", "whole", "--train-sets", "regular,female", "--epochs", "2",
                 "--input-size", "32", "--bootstrap", "200", *pre, "--wait"])  # fmt: skip
    assert code == 0
    return tiny_workspace


def test_the_study_runs_as_one_chain_to_its_saved_audit_and_report(finished):
    registry = JobRegistry(finished)
    record = read_study(finished, "whole")
    kinds = [step["kind"] for step in record["steps"]]
    assert kinds == ["preprocess", "train", "train", "evaluate", "audit", "report"]
    jobs = study_jobs(registry, record)
    assert [job.status for job in jobs] == ["done"] * 6
    assert [job.after_id for job in jobs] == [None] + [job.id for job in jobs[:-1]]
    table, _ = read_predictions(record["outputs"]["predictions"])
    run_ids = [step["run_id"] for step in record["steps"] if step["run_id"]]
    assert sorted(table["run_id"].unique()) == sorted(run_ids)
    assert set(table["train_set"]) == {"regular", "female"}
    audit = read_json(Path(record["outputs"]["audit"]) / "audit.json")
    assert audit["n_boot"] == 200 and audit["synthetic"]
    assert record["synthetic"] and table["synthetic"].all()
    assert "SYNTHETIC" in Path(record["outputs"]["report"]).read_text()
    progress = study_progress(registry, record)
    assert (progress.status, progress.done, progress.current) == ("done", 6, None)


def test_a_killed_step_stops_the_chain_resume_goes_on_and_cancel_stops_it(tiny_workspace):
    registry = JobRegistry(tiny_workspace)
    study = Study.of(
        "killed",
        StudySettings(train_sets="male"),
        train={"dataset": "syn", "epochs": 12, "patience": 12, **TINY},
        preprocess=TINY_PREPROCESS,
        audit={"bootstrap": 200},
    )
    start_study(tiny_workspace, registry, study)
    training = follow(
        registry, tiny_workspace, "killed", lambda p: p.current == 1 and p.steps[1].fraction > 0
    )
    os.killpg(registry.get(training.steps[1].job_id).pid, signal.SIGKILL)

    stopped = follow(registry, tiny_workspace, "killed", lambda p: p.status != "running")
    assert stopped.status == "failed" and stopped.steps[1].status == "failed"
    waiting = stopped.steps[2]
    assert waiting.status == "waiting"
    assert waiting.message == f"waits for job #{stopped.steps[1].job_id}, which failed"
    time.sleep(1.0)
    registry.refresh()  # a free slot, yet the steps after the failed one stay queued
    assert [job.status for job in study_jobs(registry, stopped.record)[2:]] == ["queued"] * 3

    assert resume_study(tiny_workspace, registry, "killed") == 1
    run_log = tiny_workspace.runs_dir / stopped.record["steps"][1]["run_id"] / "train.log"
    follow(registry, tiny_workspace, "killed", lambda p: p.current == 2)  # went on past it
    assert "resuming after epoch" in run_log.read_text()

    assert cancel_study(tiny_workspace, registry, "killed") >= 1
    cancelled = follow(registry, tiny_workspace, "killed", lambda p: p.status != "running")
    assert cancelled.status == "cancelled"
    jobs = study_jobs(registry, cancelled.record)
    assert [job.status for job in jobs[2:]] == ["cancelled"] * 3
    assert not any(job.active for job in registry.refresh())


def test_a_study_the_workspace_cannot_take_queues_nothing(finished):
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
            {"name": n, "kind": k, "units": u, "job_id": j.id, "run_id": None}
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

    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(finished.root))
    try:
        app = AppTest.from_file(str(REPO / "app_pages" / "study.py"), default_timeout=60).run()
        assert not app.exception
        assert widget(app.selectbox, "Study").value == "whole"
        assert any("6 of 6 steps done" in shown(p.proto.text) for p in app.get("progress"))
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
