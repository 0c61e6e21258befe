"""AppTest for the Reports, Data, Live demo and Train pages: their elements, their main
interactions, readable errors for bad input, and jobs that outlive the page."""

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import TINY_PREPROCESS, make_sasefe, save_audit, shown, wait_for_job, widget
from fer_audit.data.registry import list_datasets, load_dataset
from fer_audit.jobs import VANISHED, JobRegistry
from fer_audit.workspace import OutsideDataRootsError

REPO = Path(__file__).resolve().parent.parent


def page(name: str, timeout: int = 120) -> AppTest:
    return AppTest.from_file(str(REPO / "app_pages" / f"{name}.py"), default_timeout=timeout)


@pytest.fixture
def env(monkeypatch, workspace, tmp_path):
    """The pages' workspace, data root and folder of imported models, all temporary."""
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    monkeypatch.setenv("FER_AUDIT_DATA_ROOTS", str(tmp_path / "data"))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "data").mkdir()
    return workspace


# ------------------------------------------------------------------ Reports


def test_reports_page_offers_the_report_and_every_table(env):
    app = page("reports").run()
    assert not app.exception
    assert app.title[0].value == "Reports"
    labels = [b.label for b in app.get("download_button")]
    assert labels[:2] == [
        "Download the HTML report",
        "Download everything (zip: report, CSVs, settings)",
    ]
    assert {"gaps.csv", "group_metrics.csv", "rankings.csv", "summary.csv"} <= set(labels)
    confusion = next(b for b in app.get("download_button") if b.label == "confusion.csv")
    assert confusion.proto.disabled  # the published results hold no confusion matrix
    widget(app.multiselect, "Training sets").set_value(["female"]).run()
    assert runs_caption(app).startswith("6 run(s)")


def runs_caption(app) -> str:
    return next(c.value for c in app.caption if "run(s)" in c.value)


def test_a_table_without_an_audit_is_audited_by_a_job_then_opened(env):
    from test_fairness import simulated

    from fer_audit.commands import audit_argv
    from fer_audit.fairness.settings import AuditSettings

    env.predictions_dir.mkdir(parents=True)
    table = env.predictions_dir / "mine.parquet"
    simulated(4, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular").to_parquet(table)
    app = page("audit").run()
    sources = widget(app.selectbox, key="audit_source")
    sources.set_value("Predictions not audited yet: mine.parquet").run()
    assert "mine.parquet has no saved audit yet" in shown(app.info[0].value)
    assert widget(app.selectbox, "Audit").value == 0  # this table first
    widget(app.number_input, "Bootstrap resamples").set_value(300)
    widget(app.selectbox, "Correction for many tests").set_value("bh")
    widget(app.button, "Queue the audit").click().run()
    assert not app.exception and not app.error
    registry = JobRegistry(env)
    job = registry.list()[0]
    settings = AuditSettings(bootstrap=300, correction="bh")
    folder = env.audit_dir("mine-bh-run-300")
    assert job.argv == audit_argv(settings, out=folder, predictions=table)  # as on a cluster
    done = wait_for_job(registry, job.id, lambda j: not j.active, timeout=120)
    assert done.status == "done", done.log_tail()
    app.run()  # the page opens the audit its job saved, without computing it
    source = widget(app.selectbox, key="audit_source").value.label
    assert source.startswith("Saved audit: mine-bh-run-300 (of mine.parquet")
    assert "300 bootstrap resamples, 300 permutations, Benjamini-Hochberg" in shown(
        app.caption[0].value
    )
    options = widget(app.selectbox, key="audit_source").options
    assert "Predictions not audited yet: mine.parquet" not in options
    assert any("sad" in m.value for m in app.markdown)  # the summary of its gaps

    assert widget(app.selectbox, "Audit").value == 0  # the tables first: this one again
    widget(app.number_input, "Bootstrap resamples").set_value(300)
    widget(app.selectbox, "Correction for many tests").set_value("bh")
    widget(app.button, "Queue the audit").click().run()
    assert "exists already" in app.error[0].value and len(registry.list()) == 1


def test_reports_page_writes_the_report_of_the_saved_audit_chosen(env, monkeypatch):
    from test_fairness import simulated

    import fer_audit.report.export
    import fer_audit.report.html

    written = []

    def spy(result):
        written.append((result.settings["correction"], result.settings["family"]))
        return "<html></html>"

    monkeypatch.setattr(fer_audit.report.html, "render_report", spy)
    monkeypatch.setattr(fer_audit.report.export, "export_zip", lambda result, **_: b"zip")
    import streamlit as st

    st.cache_data.clear()  # reports an earlier test wrote stay cached in this process
    table = simulated(4, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    save_audit(table, env, "holm", bootstrap=200)
    save_audit(table, env, "bh", bootstrap=200, correction="bh", family="audit")
    app = page("reports").run()
    sources = widget(app.selectbox, key="audit_source")
    for name in ("holm", "bh"):
        sources.set_value(next(o for o in sources.options if f"audit: {name} " in o)).run()
    assert not app.exception
    # the published results first, then each saved audit as it was saved
    assert written == [("holm", "run"), ("holm", "run"), ("bh", "audit")]
    assert "Benjamini-Hochberg (false discovery rate) over every gap of the audit" in shown(
        app.caption[0].value
    )


# ------------------------------------------------------------------ Data


def test_data_page_on_an_empty_workspace(env):
    app = page("data").run()
    assert not app.exception
    assert app.title[0].value == "Data"
    assert "No dataset registered yet" in app.info[0].value


def test_a_bad_subject_table_shows_its_problems_and_registers_nothing(env, tmp_path):
    make_sasefe(tmp_path / "data" / "sase", {"S1": "f", "S2": "m"}, table=False)
    app = page("data").run()
    widget(app.selectbox, "Folder (or manifest CSV) inside the data roots").set_value(
        tmp_path / "data" / "sase"
    ).run()
    widget(app.radio, "Subject table (subject, gender)").set_value("upload a CSV").run()
    app.get("file_uploader")[0].set_value(
        ("subjects.csv", b"subject,gender\nS1,f\nS2,\n", "text/csv")
    ).run()
    widget(app.button, "Register").click().run()
    assert not app.exception
    said = shown(app.error[0].value)
    assert said.startswith("subject table subjects.csv (uploaded) has 1 problem")  # its name
    assert "S2" in said
    assert list_datasets(env) == []

    app.get("file_uploader")[0].set_value(
        ("subjects.csv", b"subject,gender\nS1,f\nS2,m\n", "text/csv")
    ).run()
    widget(app.button, "Register").click().run()
    assert not app.error, [e.value for e in app.error]
    assert "Registered sase: 24 videos of 2 subjects." in app.success[0].value
    dataset = load_dataset(env, "sase")
    assert (env.dataset_dir("sase") / "subjects.csv").read_text().splitlines()[1:] == [
        "S1,female",
        "S2,male",
    ]
    assert dataset.index.groupby("gender")["subject"].nunique().to_dict() == {
        "female": 1,
        "male": 1,
    }


def test_the_table_can_be_filled_in_on_the_page(env, tmp_path):
    make_sasefe(tmp_path / "data" / "sase", {"S1": "f", "S2": "m"}, table=False)
    app = page("data").run()
    widget(app.selectbox, "Folder (or manifest CSV) inside the data roots").set_value(
        tmp_path / "data" / "sase"
    ).run()
    widget(app.radio, "Subject table (subject, gender)").set_value("fill in the table").run()
    editor = app.data_editor[0]
    assert list(editor.value["subject"]) == ["S1", "S2"]
    widget(app.button, "Register").click().run()  # genders left empty
    said = shown(app.error[0].value)
    assert said.startswith("subject table filled in on the page has 2 problem") and (
        "has no gender" in said
    )
    assert list_datasets(env) == []
    app.session_state[editor.key] = {
        "edited_rows": {0: {"gender": "Woman"}, 1: {"gender": "M"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    widget(app.button, "Register").click().run()
    assert "Registered sase" in app.success[0].value
    assert load_dataset(env, "sase").meta["subjects_per_gender"] == {"female": 1, "male": 1}


def test_data_page_summarises_and_preprocesses_in_the_background(env, tmp_path):
    from fer_audit.data.registry import register_dataset

    make_sasefe(tmp_path / "data" / "sase", {"S1": "f", "S2": "m"})
    register_dataset(env, "sase", tmp_path / "data" / "sase", kind="sasefe")
    app = page("data").run()
    assert not app.exception
    assert [m.value for m in app.metric][:2] == ["24", "2"]
    per_gender = app.dataframe[0].value
    assert per_gender.set_index("gender")["subjects"].to_dict() == {"female": 1, "male": 1}
    assert "Not preprocessed yet." in [c.value for c in app.caption]
    submit = next(b for b in app.button if "background" in b.label)
    submit.click().run()
    registry = JobRegistry(env)
    job = registry.list()[0]
    assert job.kind == "preprocess" and job.argv[1] == "sase"
    done = wait_for_job(registry, job.id, lambda j: not j.active)
    # every clip failed: the job says so, never "done"
    assert done.status == "failed", done.log_tail()
    assert done.message.startswith("error: no video is usable: 0 of 24 videos usable")
    app = page("data").run()
    assert any("24 unreadable" in m.value for m in app.markdown)  # the files are empty
    warned = " ".join(shown(w.value) for w in app.warning)
    assert "Only 0 of 24 videos usable (24 unreadable)" in warned
    failures = app.dataframe[-1].value
    assert set(failures["outcome"]) == {"unreadable"} and len(failures) == 24


def test_registering_outside_the_data_roots_is_refused(env, tmp_path):
    outside = make_sasefe(tmp_path / "elsewhere", {"S1": "f"})
    (tmp_path / "data" / "link").symlink_to(outside)
    paths = env.browse_data_roots()
    assert tmp_path / "data" in paths and tmp_path / "data" / "link" not in paths
    with pytest.raises(OutsideDataRootsError):  # what the Register button resolves
        env.resolve_data_path(tmp_path / "data" / "link")


# ------------------------------------------------------------------ Live demo


def test_live_demo_reads_a_sample_clip_with_the_fer_model(env, fer_model, sample_set, tmp_path):
    shutil.copytree(fer_model, tmp_path / "checkpoints" / "fermini")
    app = page("demo", timeout=180).run()
    assert not app.exception
    assert app.title[0].value == "Live demo"
    widget(app.selectbox, "Sample clip").set_value("single_face.mp4").run()
    assert not app.exception
    charts = app.get("plotly_chart")
    assert len(charts) == 2  # video-level and per-keyframe probabilities
    assert "happy" in charts[0].proto.spec  # a man breaking into a smile
    (keyframes,) = app.get("image")  # the keyframes with their face boxes
    assert len(keyframes.value) == 20 and keyframes.captions[0].endswith(" s")


def test_live_demo_refuses_a_file_that_is_not_a_video(env, fer_model, tmp_path):
    shutil.copytree(fer_model, tmp_path / "checkpoints" / "fermini")
    app = page("demo").run()
    widget(app.radio, "Clip").set_value("upload a clip").run()
    widget(app.get("file_uploader"), key="clip_upload").set_value(
        ("clip.mp4", b"this is not a video" * 50, "video/mp4")
    ).run()
    assert not app.exception
    (message,) = [shown(e.value) for e in app.error]  # one for the clip, not one per model
    assert "clip.mp4 cannot be read: not a readable video" in message


def test_live_demo_without_models_offers_the_import(env):
    app = page("demo").run()
    assert not app.exception
    assert "not imported yet" in app.info[0].value
    assert "No model yet" in app.info[1].value


# ------------------------------------------------------------------ Train


def test_train_page_queues_a_job_that_outlives_the_page(monkeypatch, tiny_workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tiny_workspace.root))
    app = page("train").run()
    assert not app.exception
    assert "SYNTHETIC dataset" in app.warning[0].value
    app.number_input(key="epochs").set_value(2)
    app.number_input(key="input_size").set_value(32)
    app.selectbox(key="lr_schedule").set_value("cosine")
    widget(app.button, "Queue training").click().run()
    assert "Queued 1 job(s)." in app.success[0].value
    del app  # the page's session ends; the job goes on
    registry = JobRegistry(tiny_workspace)
    job = registry.list()[0]
    assert job.kind == "train" and "--epochs" in job.argv
    assert job.argv[job.argv.index("--lr-schedule") + 1] == "cosine"
    assert job.argv[job.argv.index("--preprocess") + 1] == TINY_PREPROCESS.key()
    done = wait_for_job(registry, job.id, lambda j: not j.active, timeout=180)
    assert done.status == "done", done.log_tail()
    assert done.runs and (tiny_workspace.runs_dir / done.runs[0] / "model.pt").exists()
    app = page("train").run()
    assert any(
        shown(e.label).startswith(f"#{job.id} ") and " · done · " in shown(e.label)
        for e in app.expander
    )  # a finished job: one line that opens
    assert len(app.get("plotly_chart")) >= 1  # its loss and accuracy curves


def test_the_train_page_offers_every_preprocessing_by_its_settings(monkeypatch, tiny_workspace):
    # a paper-mode preprocessing (once filtered out, as `train` could not name it)
    paper = replace(TINY_PREPROCESS, mode="paper", seed=3)
    reports = tiny_workspace.cache_dir / "reports" / "syn"
    shutil.copy(reports / f"{TINY_PREPROCESS.key()}.csv", reports / f"{paper.key()}.csv")
    (reports / f"{paper.key()}.json").write_text(json.dumps(asdict(paper)))
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tiny_workspace.root))
    app = page("train").run()
    choice = widget(app.selectbox, "Preprocessed clips")
    assert len(choice.options) == 2 and any("paper mode" in o for o in choice.options)
    choice.set_value(paper.key())  # the options are the preprocessings' keys
    widget(app.button, "Queue training").click().run()
    job = JobRegistry(tiny_workspace).list()[0]
    assert job.argv[job.argv.index("--preprocess") + 1] == paper.key()
    JobRegistry(tiny_workspace).cancel(job.id)
    (reports / f"{paper.key()}.csv").unlink()
    (reports / f"{paper.key()}.json").unlink()


def test_a_killed_job_shows_as_failed_on_the_page(monkeypatch, tiny_workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tiny_workspace.root))
    app = page("train").run()
    app.number_input(key="epochs").set_value(400)
    app.number_input(key="input_size").set_value(32)
    app.text_input(key="seeds").set_value("7")
    widget(app.button, "Queue training").click().run()
    registry = JobRegistry(tiny_workspace)
    job = registry.list()[0]
    running = wait_for_job(registry, job.id, lambda j: j.progress > 0, timeout=180)
    os.kill(running.pid, signal.SIGKILL)
    time.sleep(0.5)
    app = page("train").run()
    assert any(
        shown(e.label).startswith(f"#{job.id} ") and " · failed · " in shown(e.label)
        for e in app.expander
    )  # a finished job: one line that opens
    assert VANISHED in [shown(c.value) for c in app.caption]


def test_missing_pretrained_weights_fail_the_job_with_what_to_download(
    monkeypatch, tiny_workspace, tmp_path
):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tiny_workspace.root))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    app = page("train").run()
    widget(app.multiselect, "Architectures").set_value(["vggface"])
    app.number_input(key="input_size").set_value(32)
    widget(
        app.checkbox,
        "Start from the architecture's pretrained weights (ImageNet, VGGFace, "
        "VGGFace2, Kinetics; the 3D CNN has none)",
    ).check()
    widget(app.button, "Queue training").click().run()
    registry = JobRegistry(tiny_workspace)
    job = registry.list()[0]
    done = wait_for_job(registry, job.id, lambda j: not j.active, timeout=180)
    assert done.status == "failed"
    assert "VGGFace weights are not on this machine: download vgg_face_dag.pth" in done.message
    app = page("train").run()
    assert done.message in [shown(c.value) for c in app.caption]


def test_the_audit_selection_carries_over_to_the_reports_page(env):
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    app.switch_page("app_pages/audit.py").run()
    widget(app.multiselect, "Training sets").set_value(["female"]).run()
    app.switch_page("app_pages/reports.py").run()
    assert not app.exception
    assert widget(app.multiselect, "Training sets").value == ["female"]
    assert runs_caption(app).startswith("6 run(s)")


def test_evaluate_offers_the_finished_runs_of_the_dataset_and_opens_the_audit_page(
    monkeypatch, tiny_workspace, tmp_path
):
    from conftest import TINY_TRAIN_ARGS
    from fer_audit import atomic, cli
    from fer_audit.commands import evaluate_argv
    from fer_audit.workspace import Workspace

    space = Workspace(tmp_path / "workspace")  # the module's copy, without its runs and jobs
    made = ("runs", "jobs", "jobs.sqlite", "locks", "predictions", "audits")
    shutil.copytree(tiny_workspace.root, space.root, ignore=shutil.ignore_patterns(*made))
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(space.root))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "no-imported-models"))
    args = ["--dataset", "syn", "--arch", "3dcnn", "--train-set", "regular", "--seeds", "1"]
    assert cli.main(["train", *args, "--epochs", "1", *TINY_TRAIN_ARGS]) == 0
    (done,) = [p.name for p in space.runs_dir.iterdir()]
    for name, change in (
        ("cancelled-run", {"status": "cancelled"}),
        ("other-run", {"dataset": "x"}),
    ):
        shutil.copytree(space.run_dir(done), space.run_dir(name))
        meta = atomic.read_json(space.run_dir(name) / "run.json")
        atomic.write_json(space.run_dir(name) / "run.json", meta | change | {"run_id": name})
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    app.switch_page("app_pages/train.py").run()
    runs = widget(app.multiselect, "Finished runs of syn")
    assert runs.options == [done] and runs.value == [done]  # not cancelled, not another's
    widget(app.button, "Evaluate in the background").click().run()
    registry = JobRegistry(space)
    job = registry.list()[0]
    assert job.argv == evaluate_argv([done], out=space.predictions_path("syn.parquet"))
    assert wait_for_job(registry, job.id, lambda j: not j.active).status == "done"
    app.run()
    widget(app.button, f"Audit syn.parquet (job #{job.id}) on the Audit page").click().run()
    assert not app.exception
    assert app.title[0].value == "Audit"
    source = widget(app.selectbox, key="audit_source").value
    assert source.label == "Predictions not audited yet: syn.parquet"
    assert widget(app.button, "Queue the audit")  # its form, this table first
