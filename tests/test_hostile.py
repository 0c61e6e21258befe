"""Hostile input, as a careless or malicious user would give it: names that try to leave
their folder, outputs over files fer-audit did not write, concurrent registrations,
absurd resource options, a mislabelled synthetic column. Each test makes its own files
and processes and asserts a clear message, a non-zero exit where a command fails, and
nothing written outside the workspace."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import spawned

from conftest import REPO, TINY_PREPROCESS, choose_option, idle, make_sasefe, save_audit
from fer_audit.cli import main
from fer_audit.data.index import DatasetError
from fer_audit.data.registry import load_dataset, register_dataset
from fer_audit.fairness import AuditError
from fer_audit.fairness.predictions import synthetic_flags
from fer_audit.outputs import WouldOverwrite, check_output
from fer_audit.workspace import UnsafeName, Workspace, check_name, contained

TRAVERSALS = ["../escaped", "../../escaped", "a/../../escaped", "/tmp/escaped", "..", ".", ""]


def run(capsys, workspace: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(workspace.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture
def registered(workspace, tmp_path, sasefe_genders) -> Workspace:
    """A workspace with dataset "sase" (a SASE-FE layout of empty files) registered."""
    register_dataset(
        workspace, "sase", make_sasefe(tmp_path / "sase", sasefe_genders), kind="sasefe"
    )
    return workspace


@pytest.mark.parametrize("name", TRAVERSALS)
def test_a_name_that_is_not_plain_is_refused(name, tmp_path):
    with pytest.raises(UnsafeName, match="not allowed"):
        contained(tmp_path, name, what="dataset")


def test_plain_names_are_kept_and_get_their_suffix(tmp_path):
    assert contained(tmp_path, "syn+2", what="predictions", suffix=".parquet").name == (
        "syn+2.parquet"
    )
    assert contained(tmp_path, "a.parquet", what="p", suffix=".parquet").name == "a.parquet"
    assert check_name("demo-synthetic_1.v2", what="dataset") == "demo-synthetic_1.v2"


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    folder, outside = tmp_path / "datasets", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / "evil").symlink_to(outside)
    with pytest.raises(UnsafeName, match="points outside"):
        contained(folder, "evil", what="dataset")


@pytest.mark.parametrize(
    "command",
    [
        ["datasets", "add", "{name}", "{data}", "--kind", "sasefe"],
        ["datasets", "show", "{name}"],
        ["datasets", "split", "{name}"],
        ["preprocess", "{name}"],
        ["train", "--dataset", "{name}", "--arch", "3dcnn"],
        ["evaluate", "{name}"],
        ["predict", "{data}/S01/N2A.mp4", "--run", "{name}"],
        ["synth", "{tmp}/synth", "--per-group", "1", "--register", "{name}"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_every_command_refuses_a_traversal_name_and_writes_nothing(
    command, capsys, registered, tmp_path
):
    data = tmp_path / "sase"
    before = files_under(tmp_path)
    for name in ("../escaped", "../../runs/x", "x/../../escaped"):
        argv = [a.format(name=name, data=data, tmp=tmp_path) for a in command]
        code, _, err = run(capsys, registered, *argv)
        assert code == 2, argv
        assert "not allowed" in err and "Traceback" not in err, err
    assert files_under(tmp_path) - before <= files_under(registered.root / "locks")
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_labels_and_long_names_from_the_data_still_make_valid_ids(registered, tmp_path):
    from fer_audit.train.config import TrainConfig
    from fer_audit.video.settings import PreprocessSettings

    for label in ("männlich", "non binary", "../../escaped", "x" * 300):
        config = TrainConfig(
            dataset="sase", arch="3dcnn", train_set=label, preprocess=PreprocessSettings()
        ).resolved()
        folder = registered.run_dir(config.run_id())
        assert folder.parent == registered.runs_dir
        other = TrainConfig(**{**config.__dict__, "train_set": label + "!"})
        assert other.run_id() != config.run_id()
    long_name = "d" * 100
    register_dataset(registered, long_name, tmp_path / "sase", kind="sasefe")
    assert load_dataset(registered, long_name).name == long_name
    with pytest.raises(DatasetError, match="not allowed"):
        register_dataset(registered, "d" * 101, tmp_path / "sase", kind="sasefe")
    # ids of plain labels are those runs had before, so they still resume
    plain = TrainConfig(
        dataset="sase", arch="3dcnn", train_set="regular", preprocess=PreprocessSettings()
    )
    assert plain.resolved().run_id() == "sase-3dcnn-regular-s0-1e18c7ba"
    wide = TrainConfig(**{**plain.__dict__, "train_set": "x" * 60})
    assert wide.resolved().run_id() == f"sase-3dcnn-{'x' * 60}-s0-24c7eb24"


def test_a_dataset_name_linked_out_of_the_workspace_is_refused(capsys, registered, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (registered.datasets_dir / "evil").symlink_to(outside)
    code, _, err = run(capsys, registered, "datasets", "add", "evil", str(tmp_path / "sase"),
                       "--kind", "sasefe")  # fmt: skip
    assert code == 2 and "points outside" in err
    assert not any(outside.iterdir())


def test_outputs_never_replace_a_file_fer_audit_did_not_write(capsys, workspace, tmp_path):
    precious = tmp_path / "thesis.html"
    precious.write_text("<html>my thesis</html>")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8")
    reference = ["--reference", "domnich2021", "--bootstrap", "100"]
    code, _, err = run(capsys, workspace, "audit", *reference, "--out", str(folder))
    assert code == 2 and "--force" in err
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]
    audit_dir = tmp_path / "audit"
    assert run(capsys, workspace, "audit", *reference, "--out", str(audit_dir))[0] == 0
    # fer-audit's own audit folder may be written again
    assert run(capsys, workspace, "audit", *reference, "--out", str(audit_dir))[0] == 0
    code, _, err = run(capsys, workspace, "report", str(audit_dir), "--out", str(precious))
    assert code == 2 and "not a fer-audit report" in err
    assert precious.read_text() == "<html>my thesis</html>"
    report = tmp_path / "report.html"
    assert run(capsys, workspace, "report", str(audit_dir), "--out", str(report))[0] == 0
    assert run(capsys, workspace, "report", str(audit_dir), "--out", str(report))[0] == 0
    code, _, _ = run(capsys, workspace, "report", str(audit_dir), "--out", str(precious), "--force")
    assert code == 0 and "fer-audit report" in precious.read_text()


def test_a_predictions_file_is_fer_audits_own_only_with_its_mark(workspace, tmp_path):
    from fer_audit.evaluate import write_predictions

    table = pd.DataFrame({"run_id": ["r"], "y_true": ["happy"], "y_pred": ["happy"]})
    foreign = tmp_path / "theirs.parquet"
    table.to_parquet(foreign)
    with pytest.raises(WouldOverwrite, match="--force"):
        check_output(foreign, kind="predictions")
    ours = tmp_path / "ours.parquet"
    write_predictions(table, ours)
    assert check_output(ours, kind="predictions") == ours
    inside = workspace.predictions_path("old")
    inside.parent.mkdir(parents=True)
    table.to_parquet(inside)  # unmarked, but in the workspace's own folder
    assert check_output(inside, kind="predictions", workspace=workspace) == inside


def _race(workspace: Workspace, folders: list[Path], *, replace: bool) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(folders)), context.Queue()
    processes = [
        context.Process(
            target=spawned.register_when_told,
            args=(str(workspace.root), str(f), "same", replace, barrier, results),
        )
        for f in folders
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes


@pytest.fixture
def two_folders(tmp_path) -> list[Path]:
    """Two SASE-FE layouts of different size, so each registration is recognisable."""
    many = {f"S{i:03d}": ("female" if i % 2 else "male") for i in range(120)}
    few = {f"T{i:03d}": ("female" if i % 2 else "male") for i in range(100)}
    return [make_sasefe(tmp_path / "a", many), make_sasefe(tmp_path / "b", few)]


def test_concurrent_registrations_of_one_name_never_overwrite_silently(workspace, two_folders):
    outcomes = _race(workspace, two_folders, replace=False)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["DatasetError", "ok"], outcomes
    assert "already registered" in next(m for k, m in outcomes if k != "ok")
    winner = next(m for k, m in outcomes if k == "ok")
    dataset = load_dataset(workspace, "same")  # index.csv matches dataset.json
    assert dataset.meta["source"] == str(Path(winner).resolve())


def test_concurrent_replacements_leave_one_whole_registration(workspace, two_folders):
    outcomes = _race(workspace, two_folders, replace=True)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    dataset = load_dataset(workspace, "same")  # index.csv matches dataset.json
    expected = {str(f.resolve()): len(list(f.glob("*/*.mp4"))) for f in two_folders}
    assert len(dataset.index) == dataset.meta["n_videos"] == expected[dataset.meta["source"]]


def test_a_reader_during_a_registration_waits_for_it(registered):
    index = registered.dataset_dir("sase") / "index.csv"
    whole = index.read_bytes()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    with registered.lock("dataset-sase"):  # as a registration holds it while writing
        index.write_bytes(whole[: len(whole) // 2])  # what a reader sees mid-way
        reader = context.Process(
            target=spawned.load_when_told, args=(str(registered.root), results)
        )
        reader.start()
        assert results.get(timeout=60)[0] == "reading"
        time.sleep(0.5)
        index.write_bytes(whole)
    assert results.get(timeout=60) == ("ok", 240)
    reader.join(timeout=30)


def test_a_held_lock_makes_the_second_writer_fail_clearly(workspace, tmp_path, sasefe_genders):
    root = make_sasefe(tmp_path / "sase", sasefe_genders)
    with workspace.lock("dataset-sase"):
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        process = context.Process(
            target=spawned.save_under_the_lock, args=(str(workspace.root), results)
        )
        process.start()
        kind, message = results.get(timeout=60)
        process.join(timeout=30)
    assert kind == "Busy" and "try again" in message
    register_dataset(workspace, "sase", root, kind="sasefe")  # free again


@pytest.mark.parametrize(
    "args, message",
    [
        (["audit", "--reference", "domnich2021", "--bootstrap", "100000000"], "out of range"),
        (["audit", "--reference", "domnich2021", "--bootstrap", "10"], "out of range"),
        (["preprocess", "x", "--workers", "100000"], "out of range"),
        (["preprocess", "x", "--workers", "0"], "out of range"),
        (["preprocess", "x", "--size", "100000"], "out of range"),
        (["train", "--dataset", "x", "--arch", "3dcnn", "--epochs", "1e9"], "not a whole number"),
        (["train", "--dataset", "x", "--arch", "3dcnn", "--seeds", "1,-2"], "not '-2'"),
        (["train", "--dataset", "x", "--arch", "3dcnn", "--input-size", "99999"], "out of range"),
        (["synth", "x", "--duration", "36000"], "out of range"),
        (["datasets", "split", "x", "--per-group", "0"], "out of range"),
    ],
)
def test_resource_options_are_bounded(args, message, capsys, workspace, tmp_path):
    out = ["--out", str(tmp_path / "audit")] if args[0] == "audit" else []
    with pytest.raises(SystemExit) as exit_info:
        main(["--workspace", str(workspace.root), *args, *out])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "audit").exists()


def test_long_problem_lists_show_thirty_and_a_count(capsys, workspace, tmp_path):
    root = tmp_path / "sase"
    make_sasefe(root, {f"S{i:02d}": "female" for i in range(45)}, table=False)
    table = tmp_path / "subjects.csv"
    table.write_text("subject,gender\n" + "".join(f"S{i:02d},\n" for i in range(45)))
    code, _, err = run(capsys, workspace, "datasets", "add", "s", str(root), "--kind", "sasefe",
                       "--subjects", str(table))  # fmt: skip
    assert code == 2
    listed = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(listed) == 31 and listed[-1] == "  - ... and 15 more"


@pytest.mark.parametrize("value", ["no", "No", "false", "0", 0, False])
def test_a_synthetic_column_saying_no_is_not_synthetic(value):
    assert not synthetic_flags(pd.Series([value, value])).any()


@pytest.mark.parametrize("value", ["maybe", "", None, "2", "n"])
def test_a_synthetic_column_must_be_a_clear_yes_or_no(value):
    with pytest.raises(AuditError, match="column synthetic holds"):
        synthetic_flags(pd.Series(["yes", value]))


def test_a_real_audit_is_not_labelled_synthetic(capsys, workspace, tmp_path):
    rows = []
    for subject, gender in [(f"f{i}", "female") for i in range(3)] + [
        (f"m{i}", "male") for i in range(3)
    ]:
        for cls in ("happy", "sad", "surprised", "upset"):
            rows.append(dict(run_id="r", arch="a", train_set="regular", seed=1,
                             video_id=f"{subject}-{cls}", subject=subject, gender=gender,
                             y_true=cls, y_pred=cls, synthetic="no"))  # fmt: skip
    path = tmp_path / "p.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    code, out, err = run(capsys, workspace, "audit", str(path), "--bootstrap", "100",
                         "--out", str(tmp_path / "audit"))  # fmt: skip
    assert code == 0, err
    assert "SYNTHETIC" not in out
    assert os.path.exists(tmp_path / "audit" / "audit.json")


@pytest.mark.browser
def test_page_text_inputs_refuse_names_that_leave_the_workspace(
    served, browser_page, tmp_path, sasefe_genders
):
    from fer_audit.jobs import JobRegistry
    from fer_audit.video.batch import preprocess_dataset

    workspace, outside = served.workspace, served.workspace.root.parent
    data = make_sasefe(served.data_root / "hostile-sase", sasefe_genders)
    run = workspace.runs_dir / "hostile-sase-3dcnn-regular-s1-0"
    try:
        register_dataset(workspace, "hostile-sase", data, kind="sasefe")
        # every clip unreadable: a preprocessing report
        preprocess_dataset(workspace, "hostile-sase", TINY_PREPROCESS)
        run.mkdir(parents=True)
        (run / "model.pt").write_bytes(b"")
        jobs = len(JobRegistry(workspace).list())
        before = files_under(outside) - files_under(workspace.root)
        refuse_escaping_names(served.url, browser_page, tmp_path)
        assert len(JobRegistry(workspace).list()) == jobs
        assert files_under(outside) - files_under(workspace.root) == before
        assert not (outside / "escaped").exists() and not (outside.parent / "escaped").exists()
    finally:
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(workspace.dataset_dir("hostile-sase"), ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def refuse_escaping_names(url: str, page, tmp_path: Path) -> None:
    """Type names that leave the workspace into the Data and Train pages' fields; each
    is refused with a message, and no traceback shows."""
    page.goto(url)
    page.get_by_role("link", name="Data", exact=True).click()
    page.get_by_role("tab", name="Register a dataset").click()
    name = page.get_by_label("Name in the workspace")
    name.fill("../../escaped")
    name.press("Enter")
    page.get_by_role("button", name="Register").click()
    page.get_by_text("is not allowed").first.wait_for(timeout=60_000)

    page.get_by_role("link", name="Train", exact=True).click()
    for label, typed, refusal in [
        ("Seeds (comma-separated)", "1,-2", "seeds must be whole numbers from 0"),
        ("Weight file", "../../../etc/passwd", "outside the configured data roots"),
    ]:
        field = page.get_by_label(label)
        field.fill(typed)
        field.press("Tab")
        page.get_by_role("button", name="Queue training").click()
        page.get_by_text(refusal).first.wait_for(timeout=60_000)
        field.fill("1" if label.startswith("Seeds") else "")
    idle(page)  # a click while the page reruns can be lost
    page.get_by_text("Evaluate finished runs").click()
    out = page.get_by_label("Predictions file name")
    out.fill("../../escaped.parquet")
    out.press("Enter")
    idle(page)
    page.get_by_role("button", name="Evaluate in the background").click()
    page.get_by_text("is not allowed").first.wait_for(timeout=60_000)

    text = page.inner_text("body")
    assert "Traceback" not in text and page.locator("[data-testid='stException']").count() == 0
    assert "Something went wrong" not in text
    page.screenshot(path=str(tmp_path / "hostile-train.png"), full_page=True)


def test_labels_from_the_data_show_as_text_in_page_markdown(monkeypatch, workspace):
    from streamlit.testing.v1 import AppTest
    from test_fairness import simulated

    from app_pages.ui import plain_markdown

    link = "[win](http://evil.example)"
    joiner = "\u2060"
    assert plain_markdown(f"{link} :red[x] $y$ 11:00 :100: a@b.org /srv/www.x.org") == (
        rf"\[win\]\(http:{joiner}//evil.example\) :{joiner}red\[x\] \$y\$ 11:00 "
        rf":{joiner}100: a{joiner}@b.org /srv/www.x.org"
    )
    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    table["gender"] = table["gender"].replace({"female": link})
    save_audit(table, workspace, "hostile", bootstrap=200)
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "audit.py"), default_timeout=120).run()
    app.selectbox(key="audit_source").set_value(app.selectbox(key="audit_source").options[1])
    app.run()
    assert not app.exception
    summary = app.markdown[0].value
    assert "evil" in summary and link not in summary and r"\[win\]" in summary


def test_a_run_json_without_its_model_keys_or_a_foreign_model_is_named(capsys, workspace):
    import json

    import torch

    folder = workspace.run_dir("r1")
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": "done"}))
    torch.save({"x": torch.zeros(1)}, folder / "model.pt")
    code, _, err = run(capsys, workspace, "evaluate", "r1")
    assert code == 2 and "run.json is damaged (no run_id, arch, classes" in err
    assert "Traceback" not in err
    meta = {"run_id": "r1", "arch": "3dcnn", "classes": ["a", "b"], "input_size": 32}
    (folder / "run.json").write_text(json.dumps({**meta, "preprocessing": {}}))
    code, _, err = run(capsys, workspace, "evaluate", "r1")
    assert code == 2 and "model.pt is damaged (its tensors do not fit a 3dcnn model" in err
    assert not workspace.predictions_dir.exists()


def test_job_logs_on_the_pages_leave_tracebacks_out(monkeypatch, workspace):
    from streamlit.testing.v1 import AppTest

    from conftest import wait_for_job
    from fer_audit.jobs import JobRegistry

    registry = JobRegistry(workspace)
    job = wait_for_job(
        registry, registry.submit(["datasets", "show", "none"]).id, lambda j: not j.active
    )
    frames = "".join(f'  File "/srv/secret/m{i}.py", line {i}, in f\n    g()\n' for i in range(40))
    job.log_path.write_text(  # longer than the 30 lines a page shows
        f"start\nTraceback (most recent call last):\n{frames}KeyError: 'arch'\nnext line\n"
    )
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "train.py"), default_timeout=120).run()
    assert not app.exception
    logs = [code.value for code in app.code]
    assert any("KeyError: 'arch'" in log and "next line" in log for log in logs), logs
    assert not any("Traceback" in log or "/srv/secret" in log for log in logs)


@pytest.mark.browser
def test_no_label_from_the_data_becomes_a_link_on_the_audit_page(served, browser_page, tmp_path):
    from test_fairness import simulated

    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    labels = {
        "female": '<a href="http://evil.example">x</a> www.evil.example',
        "male": "[m](http://evil.example)",
    }
    table["gender"] = table["gender"].replace(labels)
    folder = save_audit(table, served.workspace, "hostile", bootstrap=200)
    try:
        audit_with_hostile_labels(served.url, browser_page, tmp_path)
    finally:
        (served.workspace.predictions_dir / "hostile.parquet").unlink()
        shutil.rmtree(folder)


def audit_with_hostile_labels(url: str, page, tmp_path: Path) -> None:
    page.goto(url)
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_role("heading", name="Audit").wait_for(timeout=60_000)
    page.get_by_text("Published results").first.wait_for(timeout=60_000)  # drawn
    choose_option(page, page.get_by_label("Source"), "Saved audit: hostile")
    page.get_by_role("heading", name="Summary").wait_for(timeout=60_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    page.wait_for_timeout(1000)
    summary = page.get_by_test_id("stMarkdown").filter(has_text="evil")
    summary = summary.filter(has_text="true positive rate").first  # not the source's caption
    assert "[m](http://evil.example)" in summary.inner_text().replace("\u2060", "")
    assert summary.locator("li").count() >= 1  # the summary is still a list
    evil = page.locator("a[href*='evil'], svg a, .js-plotly-plot a[href]")
    assert evil.count() == 0, [evil.nth(i).get_attribute("href") for i in range(evil.count())]
    page.screenshot(path=str(tmp_path / "hostile-audit.png"), full_page=True)
