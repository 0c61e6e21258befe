"""The Live demo's models and results: a label no two models share, unfinished runs
hidden (a cancelled job's run never reads "running"), defaults that do not follow the
newest run, a warning on every model when the clip shows no face, one message for a
clip no model can read, a colour per class, and a preview of the uploaded clip."""

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, TINY_TRAIN_ARGS, shown, widget
from fer_audit import atomic
from fer_audit.jobs import JobRegistry
from fer_audit.labels import SCHEMES
from fer_audit.model_choices import ModelChoice, available_models, default_models
from fer_audit.models.fermini import FER_CLASSES
from fer_audit.predict import clip_problem, face_warning
from fer_audit.report import live_figures
from fer_audit.workspace import Workspace

BASE_RUN = {
    "arch": "3dcnn",
    "train_set": "regular",
    "dataset": "syn",
    "seed": 1,
    "synthetic": True,
    "status": "done",
    "best_val_accuracy": 0.625,
    "videos": {"validation": 12},
    "updated_at": "2026-01-02T03:04:05+00:00",
    "hyperparameters": {"lr": 0.005, "epochs": 30},
    "preprocessing": {"k": 10},
}
BASE_LABEL = "3dcnn · regular · syn · seed 1 · 2026-01-02 03:04 UTC · val 0.62 (n=12)"


def write_run(workspace: Workspace, run_id: str, **changes) -> str:
    """A run folder with run.json (BASE_RUN with `changes`) and a model file."""
    folder = workspace.run_dir(run_id)
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"")
    atomic.write_json(folder / "run.json", BASE_RUN | {"run_id": run_id} | changes)
    return run_id


def record_job(workspace: Workspace, run_id: str, status: str, pid: int | None = None) -> None:
    """A job of the registry that trained `run_id` and is now `status`."""
    JobRegistry(workspace)  # its table
    with sqlite3.connect(workspace.jobs_db) as db:
        db.execute(
            "INSERT INTO jobs (kind, title, argv, status, pid, created_at, log_path, runs) "
            "VALUES ('train', 'train', '[\"train\"]', ?, ?, 0, '', ?)",
            (status, pid, json.dumps([run_id])),
        )


def labels_by_ref(workspace: Workspace, tmp_path: Path) -> dict[str, ModelChoice]:
    return {c.ref: c for c in available_models(workspace, imported=tmp_path / "none")}


# ------------------------------------------------------------------ the library


def test_runs_differing_only_in_date_or_lr_are_labelled_apart(workspace, tmp_path):
    write_run(workspace, "base")
    write_run(workspace, "later", updated_at="2026-01-02T03:05:00+00:00")
    write_run(workspace, "faster", hyperparameters={"lr": 0.01, "epochs": 30})
    write_run(workspace, "copy")  # the same in every setting
    write_run(workspace, "real", synthetic=False, best_val_accuracy=None, seed=None)
    choices = labels_by_ref(workspace, tmp_path)
    labels = [c.label for c in choices.values()]
    assert len(set(labels)) == len(labels)
    assert choices["later"].label == BASE_LABEL.replace("03:04", "03:05") + " · SYNTHETIC-trained"
    assert choices["faster"].label == f"{BASE_LABEL} · SYNTHETIC-trained · lr 0.01"
    assert choices["base"].label == f"{BASE_LABEL} · SYNTHETIC-trained · lr 0.005 · base"
    assert choices["copy"].label == f"{BASE_LABEL} · SYNTHETIC-trained · lr 0.005 · copy"
    real = "3dcnn · regular · syn · 2026-01-02 03:04 UTC · no validation yet"
    assert choices["real"].label == real


def test_a_run_reads_as_its_job_ended_never_running_once_its_job_stopped(workspace, tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that no longer runs: its job was killed
    for run_id, job, pid in (
        ("cancelled", "cancelled", None),
        ("killed", "running", gone.pid),
        ("training", "running", os.getpid()),
        ("queued-again", "queued", None),
    ):
        record_job(workspace, write_run(workspace, run_id, status="running"), job, pid)
    write_run(workspace, "orphan", status="running")  # trained by a command, no job
    write_run(workspace, "finished", best_val_accuracy=0.1)
    choices = labels_by_ref(workspace, tmp_path)
    assert {ref: c.status for ref, c in choices.items()} == {
        "cancelled": "cancelled",
        "killed": "failed",
        "training": "running",
        "queued-again": "queued",
        "orphan": "stopped",
        "finished": "done",
    }
    assert choices["cancelled"].label.endswith("(not finished: cancelled)")
    assert choices["orphan"].label.endswith("(not finished: stopped, no job here is running it)")
    assert [c.ref for c in choices.values() if c.finished] == ["finished"]
    assert default_models(list(choices.values())) == ["finished"]  # the better ones unfinished
    workspace.jobs_db.write_bytes(b"not a database" * 100)
    assert labels_by_ref(workspace, tmp_path)["cancelled"].label.endswith(
        "(not finished: the job list cannot be read)"
    )


def choice(ref, dataset="a", train_set="regular", val=0.5, seed=1, **extra) -> ModelChoice:
    fields = dict(arch="3dcnn", synthetic=False, imported=False, val_accuracy=val) | extra
    return ModelChoice(ref, ref, train_set=train_set, seed=seed, dataset=dataset, **fields)


def test_the_default_models_are_the_fer2013_model_and_the_best_run_per_training_set():
    choices = [
        choice("onnx-model", imported=True, status="imported", arch="onnx", val=None),
        choice("fer", imported=True, status="imported", arch="fermini", val=None),
        choice("a-male-newest", train_set="male", val=0.9, status="cancelled"),
        choice("a-female", train_set="female", val=0.4),
        choice("a-regular-2", val=0.7, seed=2),
        choice("a-regular-3", val=0.7, seed=3),
        choice("a-regular-1", val=0.5),
        *(choice(f"b-{i}", dataset="b", val=0.99) for i in range(3)),  # as many: a by name
        choice("c-regular", dataset="c", val=1.0),
    ]
    assert default_models(choices) == ["fer", "a-regular-2", "a-female"]
    assert default_models(choices[:1]) == ["onnx-model"]  # no FER2013 model: the first imported


@pytest.mark.parametrize(
    "classes", [s.classes for s in SCHEMES.values()] + [FER_CLASSES, ("happy", "joy", "x", "y")]
)
def test_no_two_classes_share_a_colour_and_a_class_keeps_it_in_both_charts(classes):
    colours = live_figures.class_colours(classes)
    assert len(set(colours.values())) == len(classes)
    entry = {
        "classes": list(classes),
        "video_probabilities": {c: 1 / len(classes) for c in classes},
        "prediction": classes[0],
        "keyframe_probabilities": [[1 / len(classes)] * len(classes)] * 2,
        "times": [0.0, 1.0],
    }
    bars = live_figures.video_probabilities(entry).data[0].marker.color
    lines = [t.line.color for t in live_figures.keyframe_probabilities(entry).data]
    assert list(bars) == lines == [colours[c] for c in classes]


def test_a_class_has_one_colour_in_every_model():
    paper4 = live_figures.class_colours(SCHEMES["paper4"].classes)
    fer = live_figures.class_colours(FER_CLASSES)
    six = live_figures.class_colours(SCHEMES["six"].classes)
    assert paper4["happy"] == fer["happy"] == six["happiness"]
    assert paper4["sad"] == fer["sad"] == six["sadness"]


def test_no_face_warns_every_model_in_words_that_follow_the_count():
    whole = {"status": "ok", "whole_frame": True}
    crops = {"status": "no_face", "whole_frame": False}
    none = {"keyframes": 10, "with_face": 0, "face": False}
    assert face_warning(none, whole) == (
        "No face found in this clip (none in the 10 keyframes searched): this model reads whole "
        "frames, so these probabilities are its reading of frames without a face, not of "
        "a facial expression."
    )
    assert face_warning(none, crops).endswith(
        "reads face crops, so it gives no reading of this clip."
    )
    few = face_warning({"keyframes": 10, "with_face": 3, "face": False}, whole)
    assert few.startswith("Hardly a face in this clip (one in only 3 of the 10 keyframes searched)")
    assert face_warning({"keyframes": 10, "with_face": 5, "face": True}, whole) is None
    assert face_warning(None, whole) is None  # the clip could not be read at all


def test_a_clip_no_model_reads_gets_one_message_naming_it():
    unreadable = {"status": "unreadable", "reason": "not a readable video (InvalidDataError)"}
    result = {"runs": {"run-1": unreadable, "run-2": dict(unreadable)}}
    assert clip_problem(result, "holiday.mp4") == (
        "holiday.mp4 cannot be read: not a readable video (InvalidDataError)"
    )
    result["runs"]["run-2"] = {"status": "ok", "reason": ""}
    assert clip_problem(result, "holiday.mp4") is None


# ------------------------------------------------------------------ the page


@pytest.fixture(scope="module")
def demo_space(tiny_workspace) -> dict[str, str]:
    """The module's workspace with a tiny finished run on Regular (trained), the same
    on Female (a copy), and a copy on Male whose job was cancelled (its run.json left
    "running"); their run ids by name."""
    from fer_audit.cli import main

    args = ["--dataset", "syn", "--arch", "3dcnn", "--train-set", "regular", "--seeds", "1"]
    root = ["--workspace", str(tiny_workspace.root)]
    assert main([*root, "train", *args, "--epochs", "1", *TINY_TRAIN_ARGS]) == 0
    (regular,) = [p.name for p in tiny_workspace.runs_dir.iterdir()]
    runs = {"regular": regular}
    for name, change in (("female", {}), ("male", {"status": "running"})):
        runs[name] = f"{regular}-{name}"
        folder = tiny_workspace.run_dir(runs[name])
        shutil.copytree(tiny_workspace.run_dir(regular), folder)
        meta = atomic.read_json(folder / "run.json")
        atomic.write_json(
            folder / "run.json", meta | change | {"run_id": runs[name], "train_set": name}
        )
    record_job(tiny_workspace, runs["male"], "cancelled")
    return runs


@pytest.fixture
def page(demo_space, tiny_workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tiny_workspace.root))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "no-imported-models"))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    app.switch_page("app_pages/demo.py").run()
    widget(app.radio, "Clip").set_value("upload a clip").run()
    return app


def test_finished_runs_are_offered_labelled_apart_and_the_choice_is_remembered(page, demo_space):
    models = widget(page.multiselect, "Models")
    assert models.value == [demo_space["regular"], demo_space["female"]]
    assert len(models.options) == 2 and all(" · syn · seed 1 · " in o for o in models.options)
    captions = [shown(c.value) for c in page.caption]
    assert "1 unfinished run is hidden (1 cancelled): its model is the best so far" in " ".join(
        captions
    )
    models.set_value([demo_space["female"]]).run()
    widget(page.checkbox, "Show unfinished runs").check().run()
    page.switch_page("app_pages/study.py").run()
    page.switch_page("app_pages/demo.py").run()  # back from another page
    widget(page.radio, "Clip").set_value("upload a clip").run()
    models = widget(page.multiselect, "Models")
    # the defaults again: a choice brought back across pages could come back empty
    # after a click that cut the page's first run short (Chromium, 1 in 3)
    assert models.value == [demo_space["regular"], demo_space["female"]]
    assert [o for o in models.options if o.split(" · ")[1] == "male"][0].endswith(
        "(not finished: cancelled)"
    )
    assert not any("hidden" in shown(c.value) for c in page.caption)
    models.set_value([demo_space["female"], demo_space["male"]]).run()
    widget(page.checkbox, "Show unfinished runs").uncheck().run()  # hides a model chosen
    assert not page.exception
    assert widget(page.multiselect, "Models").value == [demo_space["female"]]


def test_an_upload_is_previewed_warned_without_a_face_and_named_when_unreadable(page, tmp_path):
    from test_memory import write_clip

    stripes = write_clip(tmp_path / "stripes.mp4", 30, 10, size=(64, 48)).read_bytes()
    upload = widget(page.get("file_uploader"), key="clip_upload")
    upload.set_value(("stripes.mp4", stripes, "video/mp4")).run()
    assert not page.exception and not page.error
    assert len(page.get("video")) == 1  # the uploaded clip itself
    warned = [shown(w.value) for w in page.warning if "No face found" in w.value]
    assert len(warned) == 2 and all("reads whole frames" in w for w in warned)  # each model
    widget(page.get("file_uploader"), key="clip_upload").set_value(
        ("holiday.mp4", b"this is not a video" * 50, "video/mp4")
    ).run()
    (error,) = [shown(e.value) for e in page.error]
    assert not page.get("video")  # no player for a clip that cannot be read
    assert error.startswith("holiday.mp4 cannot be read: not a readable video")
    assert "3dcnn" not in error and "/" not in error  # no run id, no temporary path


def test_an_empty_choice_left_by_a_cut_short_run_gives_the_defaults_back(page, demo_space):
    # a click while the page's first run is still going can leave an empty choice
    # remembered (reproduced in Chromium, 1 in 3 fast clicks): it must not stick
    models = widget(page.multiselect, "Models")
    models.set_value([]).run()
    page.switch_page("app_pages/study.py").run()
    page.switch_page("app_pages/demo.py").run()
    widget(page.radio, "Clip").set_value("upload a clip").run()
    assert widget(page.multiselect, "Models").value == [demo_space["regular"], demo_space["female"]]
