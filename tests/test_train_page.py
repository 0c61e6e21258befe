"""AppTest for the Train page: the form remembered across sessions and pages, the job
list in pages with finished jobs in one line and a running training's ETA, and deleting
finished jobs and runs after a confirmation that names what depends on them."""

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_deleting import TRAIN, make_run

from conftest import fake_job, shown, widget
from fer_audit.jobs import JobRegistry
from fer_audit.train.form import form_path

REPO = Path(__file__).resolve().parent.parent
#: the form's values a test submits, none of them the defaults, by widget key
CHOSEN = {"train_sets": ["male", "female"], "seeds": "5,6", "epochs": 3, "input_size": 32,
          "lr_schedule": "cosine", "train_device": "cpu"}  # fmt: skip


def page(name: str) -> AppTest:
    return AppTest.from_file(str(REPO / "app_pages" / f"{name}.py"), default_timeout=120)


@pytest.fixture
def env(monkeypatch, workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    return workspace


def form_values(app: AppTest) -> dict:
    found = {key: widget(app.multiselect, key=key).value for key in ("train_sets",)}
    found |= {key: app.text_input(key=key).value for key in ("seeds",)}
    found |= {key: app.number_input(key=key).value for key in ("epochs", "input_size")}
    return found | {key: app.selectbox(key=key).value for key in ("lr_schedule", "train_device")}


def test_the_form_keeps_its_values_in_a_new_session_and_across_pages(monkeypatch, tiny_workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tiny_workspace.root))
    registry = JobRegistry(tiny_workspace)
    fake_job(registry, "running")  # holds the one slot: what the form queues stays queued
    form_path(tiny_workspace).parent.mkdir(parents=True, exist_ok=True)
    form_path(tiny_workspace).write_text('{"epochs": ')  # damaged: a note, the defaults
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    app.switch_page("app_pages/train.py").run()
    assert not app.exception
    assert any("remembered Train form was not used" in shown(c.value) for c in app.caption)
    assert app.number_input(key="epochs").value == 30
    widget(app.multiselect, key="train_sets").set_value(CHOSEN["train_sets"])
    for key in ("seeds",):
        app.text_input(key=key).set_value(CHOSEN[key])
    for key in ("epochs", "input_size"):
        app.number_input(key=key).set_value(CHOSEN[key])
    for key in ("lr_schedule", "train_device"):
        app.selectbox(key=key).set_value(CHOSEN[key])
    widget(app.button, "Queue training").click().run()
    assert "Queued 2 job(s)." in app.success[0].value
    app.switch_page("app_pages/study.py").run()
    app.switch_page("app_pages/train.py").run()
    assert form_values(app) == CHOSEN  # kept across pages
    fresh = page("train").run()  # a new session: a reload
    assert not fresh.exception
    assert form_values(fresh) == CHOSEN
    queued = [job for job in registry.list() if job.status == "queued"]
    assert len(queued) == 2 and all("--lr-schedule" in job.argv for job in queued)
    for job in queued:
        registry.cancel(job.id)


def test_jobs_show_in_pages_of_ten_finished_ones_in_one_line_a_training_with_its_eta(env):
    registry = JobRegistry(env)
    for number in range(22):
        fake_job(registry, "done", title=f"old job {number}")
    make_run(env, "r1", hyperparameters={"epochs": 10, "patience": 3}, best_epoch=4)
    record = {"train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5,
              "n_train": 10, "n_val": 2, "lr": 0.005, "seconds": 30.0}  # fmt: skip
    epochs = "".join(json.dumps({"epoch": e, **record}) + "\n" for e in range(1, 5))
    (env.run_dir("r1") / "metrics.jsonl").write_text(epochs)
    running = fake_job(registry, "running", argv=TRAIN, title="train now", runs=("r1",))
    app = page("train").run()
    assert not app.exception
    choice = widget(app.selectbox, "Jobs shown")
    assert choice.options == ["Jobs 1-10 of 23", "Jobs 11-20 of 23", "Jobs 21-23 of 23"]
    assert f"#{running.id} train now" in shown(app.markdown[0].value)  # running first
    assert (
        "r1: 4 of at most 10 epochs done, 30 s each so far: at most about 3 min left; early "
        "stopping may end it sooner, after 3 more epoch(s) (about 2 min)"
    ) in " ".join(shown(c.value) for c in app.caption)
    lines = [shown(e.label) for e in app.expander if shown(e.label).startswith("#")]
    assert len(lines) == 9 and lines[0] == "#22 old job 21 · done · ran 2 min"  # newest first
    choice.set_value(2).run()
    assert [shown(e.label)[:3] for e in app.expander if shown(e.label).startswith("#")] == [
        "#3 ", "#2 ", "#1 "
    ]  # fmt: skip

    app.checkbox(key="delete-job-3").check().run()
    assert "This removes 1 job(s) from the list, with their logs" in app.warning[0].value
    widget(app.button, key="delete-job-3-now").click().run()
    assert "Deleted 1 job(s): #3." in shown(app.success[0].value)
    assert 3 not in {job.id for job in registry.list()}
    assert not (env.root / "jobs" / "3.log").exists()

    stale = page("train")  # a browser's choice whose words changed with the list's length:
    stale.session_state["train-jobs-page"] = "Jobs 21-23 of 23"  # Streamlit hands back words
    stale.run()
    assert not stale.exception and not stale.error
    assert widget(stale.selectbox, "Jobs shown").value == 0

    app.checkbox(key="delete-finished-jobs").check().run()
    assert "Delete all 21 finished jobs" in [c.label for c in app.checkbox]
    widget(app.button, key="delete-finished-jobs-now").click().run()
    assert not app.exception and not app.error
    assert [job.id for job in registry.list()] == [running.id]
    assert f"#{running.id} train now" in shown(app.markdown[0].value)  # the active one stays


def test_a_run_is_deleted_after_a_confirmation_naming_what_depends_on_it(env):
    make_run(env, "r1")
    make_run(env, "r2", seed=3)
    env.predictions_dir.mkdir(parents=True)
    pd.DataFrame({"run_id": ["r1", "r2"]}).to_parquet(env.predictions_dir / "both.parquet")
    registry = JobRegistry(env)
    fake_job(registry, "running")
    queued = fake_job(registry, "queued", argv=TRAIN, title="train 3dcnn")  # may train r1
    app = page("train").run()
    run = widget(app.selectbox, "Run")
    assert run.options == ["r1", "r2"] and "done" in [c.value for c in app.caption]
    app.checkbox(key="delete-run-r1").check().run()
    warning = shown(app.warning[0].value)
    assert "both.parquet" in warning and f"#{queued.id} train 3dcnn" in warning
    assert widget(app.button, "Delete r1 now").disabled  # a job may train it
    run.set_value("r2").run()
    app.checkbox(key="delete-run-r2").check().run()
    widget(app.button, "Delete r2 now").click().run()
    assert not app.exception
    assert "Deleted run r2." in shown(app.success[0].value)
    assert not env.run_dir("r2").exists() and env.run_dir("r1").is_dir()
    assert (env.predictions_dir / "both.parquet").exists()
    stale = page("train")
    stale.session_state["delete_run_choice"] = "r2"  # chosen before it was deleted
    stale.run()
    assert not stale.exception and not stale.error
    assert widget(stale.selectbox, "Run").value == "r1"
