"""From a folder of clips to training without dead ends: data roots managed from the
Data page, K suggested from the clips' lengths, a preprocessing that leaves most clips
unusable said as such, and what a preprocessing leaves each training set and test group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import shown, widget
from fer_audit.data.readiness import readiness
from fer_audit.data.roots import RootRefused, add_data_root, remove_data_root
from fer_audit.data.splits import HeldOutSplit
from fer_audit.data.synthetic import write_video
from fer_audit.job_table import Job
from fer_audit.video.lengths import clip_lengths, frames_needed, suggested_k
from fer_audit.video.outcome import shortfall
from fer_audit.worker import _outcome
from fer_audit.workspace import ENV_DATA_ROOTS, Workspace

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ data roots


@pytest.fixture
def space(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.delenv(ENV_DATA_ROOTS, raising=False)
    workspace = Workspace(tmp_path / "workspace")
    (workspace.root / "runs" / "r1").mkdir(parents=True)
    (workspace.root / "clips" / "S1").mkdir(parents=True)
    return workspace


@pytest.mark.parametrize(
    "folder, why",
    [
        ("/", "the file system's root"),
        ("/etc", "a system folder"),
        ("/usr/share", "a system folder (/usr)"),
        ("nosuch", "not an existing folder"),
        ("workspace/cache", "not an existing folder"),
        ("workspace/runs", "the workspace's own folders"),
    ],
)
def test_a_folder_that_cannot_hold_data_is_refused_and_nothing_changes(
    space, tmp_path, folder, why
):
    target = folder if folder.startswith("/") else str(tmp_path / folder)
    with pytest.raises(RootRefused, match=why.replace("(", r"\(").replace(")", r"\)")):
        add_data_root(space, target)
    assert not space.settings_path.exists()


def test_roots_set_by_the_environment_are_not_changed_here(space, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DATA_ROOTS, str(tmp_path))
    with pytest.raises(RootRefused, match=ENV_DATA_ROOTS):
        add_data_root(space, tmp_path / "workspace" / "clips")
    assert not space.settings_path.exists()


def test_a_root_added_then_removed_and_the_workspace_stays_one(space, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert add_data_root(space, data) == data.resolve()
    assert space.data_roots() == [space.root.resolve(), data.resolve()]
    remove_data_root(space, str(data.resolve()))
    assert space.data_roots() == [space.root.resolve()]
    with pytest.raises(RootRefused, match="not a data root"):
        remove_data_root(space, str(data.resolve()))


def test_the_workspace_own_folders_are_never_offered_as_data(space):
    offered = {path.name for path in space.browse_data_roots()}
    assert "clips" in offered and "S1" in offered
    assert "runs" not in offered and "r1" not in offered


def test_the_data_page_adds_a_root_only_once_confirmed(space, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(space.root))
    data = tmp_path / "data"
    data.mkdir()
    app = AppTest.from_file(str(REPO / "app_pages" / "data.py"), default_timeout=60).run()
    field = widget(app.text_input, "Folder to add (a full path on the server)")
    app = field.set_value(str(data)).run()
    app = widget(app.button, "Add this folder").click().run()
    assert any("Add" in shown(w.value) and str(data) in shown(w.value) for w in app.warning)
    assert not space.settings_path.exists()  # asked, not done
    app = widget(app.button, "Yes, add it").click().run()
    assert not app.exception
    assert data.resolve() in space.data_roots()
    assert any(f"Added {data.resolve()}" in shown(s.value) for s in app.success)


# ------------------------------------------------------------------ lengths and K


def test_k_is_suggested_from_the_clips_lengths(tmp_path):
    frames = np.zeros((12, 32, 32, 3), np.uint8)
    paths = []
    for number in range(3):
        paths.append(tmp_path / f"c{number}.mp4")
        write_video(paths[-1], frames, fps=10)
    lengths = clip_lengths(paths)
    assert (lengths.shortest_frames, lengths.fps, lengths.sampled) == (12, 10.0, 3)
    assert suggested_k(lengths) == 10  # K=20 needs 10 + 20 frames at 10 fps
    assert frames_needed(20, 10.0) == 30 and frames_needed(50, 10.0) == 60
    long = type(lengths)(3, 72, 3.0, 3.0, 24.0)
    assert suggested_k(long) == 20  # the paper's, when it fits
    short = type(lengths)(3, 8, 0.8, 0.8, 10.0)
    assert suggested_k(short) is None
    assert clip_lengths([tmp_path / "nosuch.mp4"]) is None


# ------------------------------------------------------------------ outcome


def test_a_preprocessing_that_leaves_most_clips_unusable_is_said_so():
    assert shortfall({"ok": 5, "too_short": 5}) is None
    assert shortfall({"ok": 4, "too_short": 5, "no_face": 1}) == (
        "4 of 10 videos usable (1 no_face, 5 too_short)"
    )
    assert shortfall({}) is None


def _job(log: Path) -> Job:
    return Job(1, "preprocess", "t", ["preprocess"], "running", None, 0.0, 0.0, None, 0.0, "",
               log, None, [], 1)  # fmt: skip


def test_a_job_whose_command_warned_is_done_with_warnings(tmp_path):
    log = tmp_path / "1.log"
    log.write_text("12 processed\nwarning: only 4 of 10 videos usable (6 too_short)\n")
    status, message = _outcome(_job(log), 0, cancelled=False)
    assert (status, message) == ("done", "warning: only 4 of 10 videos usable (6 too_short)")
    done = Job(**{**_job(log).__dict__, "status": status, "message": message})
    assert done.warned and done.outcome == "done, with warnings"
    log.write_text("12 processed\n")
    assert _outcome(_job(log), 0, cancelled=False) == ("done", "finished")


# ------------------------------------------------------------------ readiness


def test_readiness_names_the_subjects_and_sets_left_without_usable_clips():
    subjects = pd.DataFrame(
        {"subject": ["f1", "f2", "f3", "m1", "m2", "m3"], "gender": ["female"] * 3 + ["male"] * 3}
    )
    split = HeldOutSplit("d", 0, 1, ("female", "male"), {"female": ["f1"], "male": ["m1"]})
    usable = pd.DataFrame({"subject": ["f1", "f2", "f3", "m2"]})  # m1 (test) and m3 none
    ready = readiness(subjects, usable, split)
    assert ready.without_clips == {"m1": "male", "m3": "male"}
    assert ready.training_subjects == {"regular": 3, "female": 2, "male": 1}
    assert not ready.ready
    assert any(p.startswith("no male test subject has a usable clip (m1)") for p in ready.problems)
    assert any(p.startswith("training set male has 1 training subject(s)") for p in ready.problems)
    assert readiness(subjects, subjects, split).ready
    assert readiness(subjects, subjects, None).problems == [
        "no test split yet: draw one (Data page, Test split)"
    ]
    unsplit = readiness(subjects, subjects, None)  # training leaves the test subjects out
    assert unsplit.training_blockers(["regular"]) == unsplit.problems
    assert unsplit.training_words() is None
    assert ready.training_blockers(["regular", "female"]) == []
    assert ready.training_blockers(["male"])[0].startswith("training set male has 1")


# ------------------------------------------------------------------ crop preview


def test_the_crop_preview_shows_a_few_usable_videos_per_subject(tiny_workspace):
    from conftest import TINY_PREPROCESS
    from fer_audit.data.registry import load_dataset
    from fer_audit.overview import preprocessing_reports
    from fer_audit.video.preview import crop_strips

    dataset = load_dataset(tiny_workspace, "syn")
    (report,) = preprocessing_reports(tiny_workspace, "syn")
    strips = crop_strips(tiny_workspace, dataset, TINY_PREPROCESS, report.usable, max_subjects=3)
    first = sorted(dataset.index["subject"].unique())[:3]
    assert [s.subject for s in strips] == [subject for subject in first for _ in range(2)]
    size, k = TINY_PREPROCESS.size, TINY_PREPROCESS.k
    assert all(s.strip.shape == (size, k * size, 3) and s.keyframes == k for s in strips)
    assert crop_strips(tiny_workspace, dataset, TINY_PREPROCESS, frozenset()) == []


def without_male_training_clips(tiny_workspace: Workspace, tmp_path: Path) -> Workspace:
    """A copy of the tiny workspace whose preprocessing left no male training subject
    (not held out) a usable clip: their videos marked too_short in its report."""
    import shutil

    from conftest import TINY_PREPROCESS
    from fer_audit.data.registry import load_dataset
    from fer_audit.data.splits import load_split

    workspace = Workspace(tmp_path / "workspace")
    shutil.copytree(tiny_workspace.root, workspace.root, ignore=shutil.ignore_patterns("locks"))
    dataset = load_dataset(workspace, "syn")
    held_out = set(load_split(workspace.dataset_dir("syn")).all_test_subjects())
    men = dataset.index[
        (dataset.index["gender"] == "male") & ~dataset.index["subject"].isin(held_out)
    ]
    report = workspace.cache_dir / "reports" / "syn" / f"{TINY_PREPROCESS.key()}.csv"
    table = pd.read_csv(report, dtype=str, keep_default_na=False)
    table.loc[table["video_id"].isin(men["video_id"]), "status"] = "too_short"
    table.to_csv(report, index=False)
    return workspace


def test_the_train_form_lists_readiness_and_queues_nothing_for_a_set_left_short(
    tiny_workspace, tmp_path, monkeypatch
):
    from fer_audit.jobs import JobRegistry

    workspace = without_male_training_clips(tiny_workspace, tmp_path)
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "train.py"), default_timeout=120).run()
    assert not app.exception
    said = " ".join(shown(c.value) for c in app.caption)
    assert (
        "Training subjects with a usable clip per training set: regular 2, female 2, male 0" in said
    )
    warnings = [shown(w.value) for w in app.warning]
    assert any(w.startswith("Training set male has 0 training subject(s)") for w in warnings)
    widget(app.multiselect, key="train_archs").set_value(["3dcnn"])
    widget(app.multiselect, key="train_sets").set_value(["regular", "male"])
    widget(app.button, "Queue training").click().run()
    refused = shown(app.error[0].value)
    assert refused.startswith("Nothing was queued. Training set male has 0 training subject(s)")
    assert "change the preprocessing" in refused
    assert JobRegistry(workspace).list() == []


def test_a_study_whose_training_set_has_no_usable_clip_is_refused(tiny_workspace, tmp_path):
    from conftest import TINY_PREPROCESS
    from fer_audit.jobs import JobRegistry
    from fer_audit.study.chain import start_study
    from fer_audit.study.settings import Study, StudySettings

    workspace = without_male_training_clips(tiny_workspace, tmp_path)
    study = Study.of(
        "short",
        StudySettings(train_sets="regular,male"),
        train={"dataset": "syn", "epochs": 1, "input_size": 32},
        preprocess=TINY_PREPROCESS,
        audit={},
    )
    registry = JobRegistry(workspace)
    with pytest.raises(ValueError, match="training set male has 0 training subject"):
        start_study(workspace, registry, study)
    assert registry.list() == [] and not (workspace.root / "studies").exists()


def test_a_job_that_failed_on_a_data_problem_shows_the_fix_instead_of_resume(
    workspace, tmp_path, monkeypatch
):
    from test_fairness import simulated

    from conftest import wait_for_job
    from fer_audit.jobs import JobRegistry

    one_gender = tmp_path / "female-only.csv"  # as an evaluation leaves it when every
    table = simulated(3, female_sad_tpr=0.5, seed=0)  # male test subject lost his clips
    table[table["gender"] == "female"].assign(run_id="r1").to_csv(one_gender, index=False)
    registry = JobRegistry(workspace)
    job = registry.submit(["audit", str(one_gender), "--out", str(tmp_path / "audit")])
    failed = wait_for_job(registry, job.id, lambda j: not j.active)
    assert failed.status == "failed"
    assert failed.headline.startswith("error: a fairness audit compares at least two groups")
    assert failed.fix.startswith("the table holds female only; when an evaluation wrote it")
    assert "redraw the test split" in failed.fix and "change the preprocessing" in failed.fix

    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "train.py"), default_timeout=120).run()
    assert not app.exception
    told = f"Resuming would repeat this. To fix: {failed.fix}"
    assert any(shown(i.value).startswith(told) for i in app.info)
    assert not [b for b in app.button if b.key == f"resume-{job.id}"]  # it would repeat it
    assert "fix:" not in " ".join(shown(c.value) for c in app.caption)  # said once, as a fix


def test_only_a_fix_line_right_after_the_error_is_the_jobs_fix(tmp_path):
    log = tmp_path / "1.log"
    log.write_text("error: no usable clip for subjects S04\nfix: redraw the test split\n")
    assert _outcome(_job(log), 2, cancelled=False) == (
        "failed", "error: no usable clip for subjects S04\nfix: redraw the test split"
    )  # fmt: skip
    log.write_text("fix: an earlier one\nerror: the GPU fell off the bus\n")
    status, message = _outcome(_job(log), 1, cancelled=False)
    failed = Job(**{**_job(log).__dict__, "status": status, "message": message})
    assert failed.fix is None and failed.headline == "error: the GPU fell off the bus"


def test_validation_is_drawn_among_subjects_with_a_usable_clip(tiny_workspace, tmp_path):
    import json
    import shutil

    from test_train import config

    from conftest import TINY_PREPROCESS
    from fer_audit.data.registry import load_dataset
    from fer_audit.data.splits import load_split, run_split
    from fer_audit.train.loop import train

    workspace = Workspace(tmp_path / "workspace")
    shutil.copytree(tiny_workspace.root, workspace.root, ignore=shutil.ignore_patterns("locks"))
    dataset = load_dataset(workspace, "syn")
    split = load_split(workspace.dataset_dir("syn"))
    drawn = run_split(dataset.subjects(), split, train_set="regular", seed=3).validation
    report = workspace.cache_dir / "reports" / "syn" / f"{TINY_PREPROCESS.key()}.csv"
    table = pd.read_csv(report, dtype=str, keep_default_na=False)
    lost = dataset.index.loc[dataset.index["subject"].isin(drawn), "video_id"]
    table.loc[table["video_id"].isin(lost), "status"] = "too_short"  # every clip of theirs
    table.to_csv(report, index=False)
    folder = train(workspace, config(epochs=1, seed=3))
    run = json.loads((folder / "run.json").read_text())["split"]["run"]
    assert run["validation"] and not set(run["validation"]) & set(drawn)
    assert not set(run["train"]) & set(drawn)  # left out: no usable clip


def test_a_training_of_several_runs_gives_each_failure_its_fix(tiny_workspace, tmp_path, capsys):
    from conftest import TINY_TRAIN_ARGS
    from fer_audit.cli import main

    workspace = without_male_training_clips(tiny_workspace, tmp_path)
    argv = ["--workspace", str(workspace.root), "train", "--dataset", "syn", "--arch", "3dcnn",
            "--train-set", "male", "--seeds", "1,2", "--epochs", "1", *TINY_TRAIN_ARGS]  # fmt: skip
    assert main(argv) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2].startswith("failed: 3dcnn male seed 2: too few training subjects")
    assert lines[-1].startswith("fix: hold out fewer test subjects per gender")
    assert lines.count(lines[-1]) == 2  # the summary gives both runs their fix


def test_a_stopped_run_that_a_job_resumes_reads_as_that_job(tmp_path):
    from fer_audit.train.runs import STOPPED, UNKNOWN, run_status

    def job(status: str) -> Job:
        return Job(**{**_job(tmp_path / "1.log").__dict__, "status": status, "runs": ["r1"]})

    for stopped in ("cancelled", "failed"):
        meta = {"run_id": "r1", "status": stopped}
        assert run_status(meta, {"r1": job("queued")}) == "queued"  # resumed, not started
        assert run_status(meta, {"r1": job("running")}) == "running"
        assert run_status(meta, {"r1": job("cancelled")}) == stopped
        assert run_status(meta, None) == stopped  # its own word when the jobs are unread
    running = {"run_id": "r1", "status": "running"}
    assert run_status(running, {}) == STOPPED and run_status(running, None) == UNKNOWN
    assert run_status({"run_id": "r1", "status": "done"}, {"r1": job("running")}) == "done"


def test_a_data_problem_keeps_its_fix_across_processes():
    import multiprocessing

    from fer_audit.fairness.result import GroupsMissing

    pool = multiprocessing.get_context("spawn").Pool(1)
    with pool, pytest.raises(GroupsMissing) as raised:  # raised in the child, sent pickled
        pool.apply(_raise_groups_missing)
    assert str(raised.value) == "found only female" and raised.value.fix == "draw again"


def _raise_groups_missing():
    from fer_audit.fairness.result import GroupsMissing

    raise GroupsMissing("found only female", fix="draw again")
