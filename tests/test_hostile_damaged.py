"""Damaged workspace files (issue #11 items 6 and 7): each is named with what to do, a
listing goes on past it, a cache entry is recomputed, a damaged run is repaired when
resumed, and no dashboard user ever sees a traceback.

Every test works on a copy of a small preprocessed SYNTHETIC workspace (conftest's
`tiny_workspace`, plus one 1-epoch run) with one file truncated or overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import TINY_PREPROCESS, TINY_TRAIN_ARGS, shown, widget
from fer_audit import atomic, cli
from fer_audit.errors import DamagedFile
from fer_audit.jobs import JobRegistry, move_registry_aside
from fer_audit.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
RUN_ARGS = ["--dataset", "syn", "--arch", "3dcnn", "--train-set", "regular", "--seeds", "1"]
RUN_ARGS += ["--epochs", "1", "--batch-size", "8", *TINY_TRAIN_ARGS]


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture(scope="module")
def trained(tiny_workspace, tmp_path_factory) -> Workspace:
    """tiny_workspace (preprocessed, with its report) plus a finished 1-epoch run and
    40 finished jobs."""
    space = Workspace(tmp_path_factory.mktemp("trained") / "workspace")
    shutil.copytree(tiny_workspace.root, space.root)
    assert cli.main(["--workspace", str(space.root), "train", *RUN_ARGS]) == 0
    registry = JobRegistry(space)
    for number in range(40):  # a few pages of rows, so that half a file is damaged
        registry._execute(
            "INSERT INTO jobs (kind, title, argv, status, created_at, log_path) "
            "VALUES ('train', ?, '[\"train\"]', 'done', ?, ?)",
            (f"job {number} " + "x" * 200, time.time(), str(space.root / f"jobs/{number}.log")),
        )
    return space


@pytest.fixture
def space(trained, tmp_path, monkeypatch) -> Workspace:
    """A private copy of `trained`, which the pages (and `fer-audit`) use."""
    copy = Workspace(tmp_path / "workspace")
    shutil.copytree(trained.root, copy.root)
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(copy.root))
    monkeypatch.setenv("FER_AUDIT_DATA_ROOTS", str(tmp_path / "data"))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "data").mkdir()
    return copy


def truncate(path: Path) -> Path:
    """Cut `path` to half its size (as a full disk or an interrupted copy leaves it)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def the_run(space: Workspace) -> Path:
    (folder,) = [p for p in space.runs_dir.iterdir() if p.is_dir()]
    return folder


def report_csv(space: Workspace) -> Path:
    (path,) = (space.cache_dir / "reports" / "syn").glob("*.csv")
    return path


def app_on(page: str | None = None, timeout: int = 120) -> AppTest:
    """The dashboard (app.py, with its guard) on `page` (e.g. "data"), after Home."""
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout).run()
    if page:
        app.switch_page(f"app_pages/{page}.py").run()
    return app


def dataset_choice(app: AppTest):
    return next(s for s in app.selectbox if s.label == "Dataset")


_TEXT_ELEMENTS = (
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "text",
    "code",
    "error",
    "warning",
    "info",
    "success",
    "exception",
)


def rendered(app: AppTest) -> str:
    """Every text the page shows, one element a line."""
    texts = []
    for kind in _TEXT_ELEMENTS:
        for element in app.get(kind):
            texts.append(shown(str(getattr(element, "value", "") or element.proto)))
    return "\n".join(texts)


def check_page(app: AppTest, *, names: Path, still: str | None) -> str:
    """The page shows an error naming `names` (its path), no exception or traceback, and
    `still` (a text it renders besides the damaged part); returns that error."""
    assert not app.exception, [e.value for e in app.exception]
    text = rendered(app)
    assert "Traceback" not in text and 'File "' not in text
    shown_errors = [shown(e.value) for e in app.error]
    crashed = [e for e in shown_errors if "Something went wrong" in e]
    assert not crashed, crashed  # the damaged file is the only problem shown
    errors = [e for e in shown_errors if str(names) in e]
    assert errors, f"no error names {names}: {shown_errors}"
    assert "is damaged" in errors[0]
    assert still is None or still in text, f"{still!r} is not on the page"
    return errors[0]


# ------------------------------------------------------------------ the reader


@pytest.mark.parametrize(
    "content, found",
    [
        (b"", "empty"),
        (b'{"name": "syn", "kind": "sa', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "a JSON array where an object belongs"),
    ],
)
def test_read_json_names_the_damaged_file_and_what_to_do(tmp_path, content, found):
    path = tmp_path / "run.json"
    path.write_bytes(content)
    with pytest.raises(DamagedFile) as caught:
        atomic.read_json(path)
    assert isinstance(caught.value, ValueError)  # the CLI's handler: "error: ...", exit 2
    assert caught.value.path == path and found in str(caught.value)
    assert str(caught.value).startswith(f"{path} is damaged")
    assert "rerun the training" in str(caught.value)  # the hint for a run.json
    hinted = tmp_path / "other.json"
    hinted.write_bytes(content)
    with pytest.raises(DamagedFile, match="do this"):
        atomic.read_json(hinted, hint="do this")


# ------------------------------------------------------------------ dataset.json, index.csv


def test_cli_datasets_show_names_a_truncated_dataset_json(space):
    meta = truncate(space.dataset_dir("syn") / "dataset.json")
    env = {**os.environ, "FER_AUDIT_WORKSPACE": str(space.root)}
    done = subprocess.run(
        [sys.executable, "-m", "fer_audit.cli", "datasets", "show", "syn"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {meta} is damaged")
    assert "--replace" in done.stderr  # what to do: register it again


def test_cli_names_a_truncated_index_csv(space, capsys):
    index = truncate(space.dataset_dir("syn") / "index.csv")
    assert cli.main(["datasets", "show", "syn"]) == 2
    err = capsys.readouterr().err
    assert f"{index} is damaged" in err and "datasets add syn" in err and "--replace" in err


def test_pages_name_a_damaged_dataset_json_and_list_the_rest(space, tmp_path):
    other = space.dataset_dir("other")
    shutil.copytree(space.dataset_dir("syn"), other)  # a second, readable registration
    meta = json.loads((other / "dataset.json").read_text())
    atomic.write_json(other / "dataset.json", {**meta, "name": "other"})
    damaged = truncate(space.dataset_dir("syn") / "dataset.json")

    home = app_on()
    check_page(home, names=damaged, still="Where to start")
    assert list(home.dataframe[0].value["name"]) == ["other"]  # the rest is listed

    data = app_on("data")
    check_page(data, names=damaged, still="Subjects per gender")
    assert dataset_choice(data).options == ["other"]

    train = app_on("train")
    check_page(train, names=damaged, still="Jobs")
    assert dataset_choice(train).options == ["other"]


def test_data_page_names_a_truncated_index_csv(space):
    index = truncate(space.dataset_dir("syn") / "index.csv")
    app = app_on("data")
    check_page(app, names=index, still=None)
    assert any(s.label == "Kind" for s in app.selectbox)  # registering still works


# ------------------------------------------------------------------ split.json


def test_a_truncated_split_is_named_and_can_be_drawn_again(space, capsys):
    split = truncate(space.dataset_dir("syn") / "split.json")
    home = app_on()
    check_page(home, names=split, still="Where to start")
    assert "DAMAGED" in home.dataframe[0].value.set_index("name").loc["syn", "test split"]

    data = app_on("data")
    check_page(data, names=split, still="Preprocessing")
    assert any("Draw the test split" in b.label for b in data.button)  # the way out

    assert cli.main(["datasets", "show", "syn"]) == 2
    assert f"{split} is damaged" in capsys.readouterr().err


# ------------------------------------------------------------------ settings.json


def test_a_truncated_settings_json_is_named_and_the_datasets_stay(space, monkeypatch):
    monkeypatch.delenv("FER_AUDIT_DATA_ROOTS")  # settings.json's data_roots count
    space.save_settings({"data_roots": [str(space.root.parent / "data")]})
    settings = truncate(space.settings_path)
    with pytest.raises(DamagedFile, match="settings.json is damaged"):
        space.data_roots()
    app = app_on("data")
    message = check_page(app, names=settings, still="Subjects per gender")
    assert "delete it" in message
    assert "repair settings.json first" in rendered(app)  # the Register tab waits for it


# ------------------------------------------------------------------ run.json


def test_resuming_a_run_with_a_truncated_run_json_repairs_it(space, capsys):
    run_json = truncate(the_run(space) / "run.json")
    assert cli.main(["train", *RUN_ARGS]) == 0
    out = capsys.readouterr().out
    assert "already finished" not in out
    assert "rewriting run.json" in out
    meta = atomic.read_json(run_json)
    assert meta["status"] == "done" and meta["epochs_done"] == 1
    assert cli.main(["train", *RUN_ARGS]) == 0  # now it is finished indeed
    assert "already finished" in capsys.readouterr().out


def test_resuming_a_run_with_a_damaged_checkpoint_trains_it_again(space, capsys):
    folder = the_run(space)
    truncate(folder / "checkpoint.pt")
    assert cli.main(["train", *RUN_ARGS]) == 0
    out = capsys.readouterr().out
    assert "checkpoint.pt is damaged" in out and "epoch 1:" in out
    assert list(folder.glob("checkpoint.pt.damaged-*"))  # kept aside, not deleted
    assert atomic.read_json(folder / "run.json")["status"] == "done"


def test_pages_name_a_truncated_run_json_and_list_the_rest(space):
    run_json = truncate(the_run(space) / "run.json")
    home = app_on()
    check_page(home, names=run_json, still="Where to start")

    train = app_on("train")
    check_page(train, names=run_json, still="Jobs")
    runs = next(m for m in train.multiselect if m.label.startswith("Finished runs of"))
    assert runs.options == []  # a run that cannot be read is not offered for evaluation

    demo = app_on("demo")
    check_page(demo, names=run_json, still="No model yet")


# ------------------------------------------------------------------ preprocessing report


def test_pages_name_a_truncated_preprocessing_report(space):
    report = truncate(report_csv(space))
    data = app_on("data")
    message = check_page(data, names=report, still="Not preprocessed yet.")
    assert "preprocess syn again" in message
    train = app_on("train")
    check_page(train, names=report, still="Jobs")


# ------------------------------------------------------------------ audit tables


@pytest.fixture
def saved_audit(tmp_path) -> Path:
    from test_fairness import simulated

    from fer_audit.fairness import audit

    table = simulated(3, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    return audit(table, n_boot=100).save(tmp_path / "audit")


@pytest.mark.parametrize("name", ["gaps.csv", "audit.json", "tables.json"])
def test_a_truncated_audit_table_is_named(saved_audit, tmp_path, capsys, name):
    from fer_audit.fairness import AuditResult

    AuditResult.load(saved_audit)  # whole, it reads
    damaged = truncate(saved_audit / name)
    with pytest.raises(DamagedFile, match="run the audit again"):
        AuditResult.load(saved_audit)
    code = cli.main(["report", str(saved_audit), "--out", str(tmp_path / "report.html")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {damaged} is damaged") and "Traceback" not in err


def test_a_cut_table_is_caught_without_tables_json(saved_audit):
    from fer_audit.fairness import AuditResult

    (saved_audit / "tables.json").unlink()  # as an audit of an older version has none
    gaps = truncate(saved_audit / "gaps.csv")
    with pytest.raises(DamagedFile, match="last line is incomplete") as caught:
        AuditResult.load(saved_audit)
    assert caught.value.path == gaps


def test_a_table_cut_at_a_line_end_is_caught_by_its_row_count(saved_audit):
    from fer_audit.fairness import AuditResult

    gaps = saved_audit / "gaps.csv"
    data = gaps.read_bytes()
    gaps.write_bytes(data[: data.index(b"\n", len(data) // 2) + 1])  # whole lines only
    with pytest.raises(DamagedFile, match="rows where tables.json has"):
        AuditResult.load(saved_audit)


def test_audit_and_reports_pages_name_a_damaged_predictions_table(space):
    from fer_audit.report.sources import AuditSource

    space.predictions_dir.mkdir(parents=True, exist_ok=True)
    table = space.predictions_dir / "mine.parquet"
    table.write_bytes(b"PAR1" + b"\x00" * 100)  # a Parquet header, then nothing
    for page in ("audit", "reports"):
        app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        # chosen before the first run: the published results' audit takes long
        app.session_state["audit_source"] = AuditSource(
            "Predictions not audited yet: mine.parquet", "predictions", str(table)
        )
        app.switch_page(f"app_pages/{page}.py").run()
        message = check_page(app, names=table, still=None)
        assert "fer-audit evaluate" in message
        sources = widget(app.selectbox, key="audit_source")
        assert len(sources.options) == 2  # the other sources are still offered


# ------------------------------------------------------------------ jobs.sqlite


@pytest.mark.parametrize("damage", ["truncated", "junk header"])
def test_a_damaged_job_registry_is_named_and_can_be_moved_aside(space, damage):
    db = space.jobs_db
    if damage == "truncated":
        truncate(db)
    else:
        db.write_bytes(b"this is no database!" * 5 + db.read_bytes()[100:])
    with pytest.raises(DamagedFile, match="move it aside"):
        JobRegistry(space)

    home = app_on()
    check_page(home, names=db, still="Where to start")
    data = app_on("data")
    check_page(data, names=db, still="Subjects per gender")
    train = app_on("train")
    message = check_page(train, names=db, still="No job list: the job registry is damaged")
    assert "listed again from scratch" in message

    move = next(b for b in train.button if b.label == "Move it aside")
    assert move.disabled  # only once the user confirms
    next(c for c in train.checkbox if "Move jobs.sqlite aside" in c.label).check().run()
    next(b for b in train.button if b.label == "Move it aside").click().run()
    assert not train.exception
    assert any("was moved to" in s.value for s in train.success)
    assert not [e.value for e in train.error if "is damaged" in e.value]
    assert JobRegistry(space).list() == []  # a new, empty registry
    assert list(space.root.glob("jobs.sqlite.damaged-*"))  # the old one kept aside


def test_a_job_goes_on_when_its_registry_is_damaged(space, monkeypatch, capsys):
    from fer_audit.jobs import ENV_JOB_DB, ENV_JOB_ID
    from fer_audit.worker import report_progress

    monkeypatch.setenv(ENV_JOB_ID, "1")
    monkeypatch.setenv(ENV_JOB_DB, str(truncate(space.jobs_db)))
    report_progress(0.5, "epoch 1/2")  # progress is best effort: no error
    report_progress(1.0, "epoch 2/2")
    err = capsys.readouterr().err
    assert err.count("progress is not recorded") == 1 and str(space.jobs_db) in err


def test_moving_aside_leaves_a_healthy_registry_alone(space):
    assert move_registry_aside(space) is None
    assert len(JobRegistry(space).list()) == 40


# ------------------------------------------------------------------ the clip cache


@pytest.mark.parametrize("part", ["json", "npz"])
def test_a_damaged_clip_cache_entry_is_recomputed_with_a_note(space, part, caplog):
    from fer_audit.video.batch import preprocess_dataset
    from fer_audit.video.cache import ClipCache

    cache = ClipCache(space.cache_dir, TINY_PREPROCESS)
    entry = sorted(cache.folder.glob(f"*.{part}"))[0]
    truncate(entry)
    with caplog.at_level(logging.WARNING, logger="fer_audit"):
        summary = preprocess_dataset(space, "syn", TINY_PREPROCESS)
    assert summary.processed == 1  # only the damaged entry, again
    assert any(str(entry) in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    assert cache.status(entry.stem)["status"] == "ok"
    assert set(cache.load(entry.stem)) >= {"crops", "frame_numbers"}


def test_unreadable_crops_are_removed_and_named(space):
    from fer_audit.video.cache import ClipCache

    cache = ClipCache(space.cache_dir, TINY_PREPROCESS)
    npz = sorted(cache.folder.glob("*.npz"))[0]
    data = bytearray(npz.read_bytes())
    data[40:2000] = b"\x00" * 1960  # the archive's directory stays; the crops do not
    npz.write_bytes(bytes(data))
    with pytest.raises(DamagedFile, match="preprocessing of its dataset again"):
        cache.load(npz.stem)
    assert not npz.exists() and cache.status(npz.stem) is None  # to be computed again


# ------------------------------------------------------------------ no traceback, ever


def test_config_shows_no_error_details():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def _failing_page():
    import streamlit as st

    from app_pages.ui import page_guard

    with page_guard():
        st.write("before the failure")
        {}["no such key"]
    st.write("after the guard")


def test_the_guard_shows_a_plain_message_and_logs_the_traceback(caplog):
    with caplog.at_level(logging.ERROR, logger="fer_audit"):
        app = AppTest.from_function(_failing_page).run()
    assert not app.exception
    (error,) = app.error
    assert error.value.startswith("Something went wrong on this page: KeyError")
    assert "server log" in error.value and "Traceback" not in rendered(app)
    assert [m.value for m in app.markdown] == ["before the failure", "after the guard"]
    (record,) = [r for r in caplog.records if r.name == "fer_audit"]
    assert record.exc_info and record.exc_info[0] is KeyError  # the traceback, in the log


def _stopping_page():
    import streamlit as st

    from app_pages.ui import page_guard

    st.session_state.setdefault("runs", 0)
    st.session_state["runs"] += 1
    with page_guard():
        if st.session_state["runs"] == 1:
            st.rerun()
        st.write(f"run {st.session_state['runs']}")
        st.stop()
    st.write("not reached")


def test_the_guard_lets_rerun_and_stop_through():
    app = AppTest.from_function(_stopping_page).run()
    assert not app.exception and not app.error
    assert app.session_state["runs"] == 2  # st.rerun ran the script again
    assert [m.value for m in app.markdown] == ["run 2"]  # st.stop stopped it


def test_the_dashboard_guards_every_page(space):
    """A page that fails for any reason (here: a dataset.json whose fields are wrong,
    so the Data page's own code fails) shows the guard's message, not a traceback."""
    meta_path = space.dataset_dir("syn") / "dataset.json"
    meta = json.loads(meta_path.read_text())
    atomic.write_json(meta_path, {**meta, "subjects_per_gender": 7})
    app = app_on()
    assert not app.exception
    assert any("Something went wrong on this page" in e.value for e in app.error)
    assert "Traceback" not in rendered(app)


def test_a_metrics_line_without_a_curve_is_named_and_one_without_n_says_so(tmp_path):
    from fer_audit.errors import DamagedFile
    from fer_audit.report.live_figures import training_curves
    from fer_audit.train.runs import read_metrics

    path = tmp_path / "metrics.jsonl"
    old = {"epoch": 1, "train_loss": 1.2, "train_accuracy": 0.4, "val_loss": 1.3,
           "val_accuracy": 0.3}  # fmt: skip
    path.write_text(json.dumps(old) + "\n")  # written before the n were recorded
    figure = training_curves(read_metrics(path), title="r1")
    names = {trace.name for trace in figure.data}
    assert names == {"train (n not recorded)", "val (n not recorded)"}
    path.write_text(json.dumps(old) + "\n" + json.dumps({"epoch": 2, "train_loss": 1.0}) + "\n")
    with pytest.raises(DamagedFile, match="line 2 lacks train_accuracy, val_loss, val_accuracy"):
        read_metrics(path)
