"""Deleting runs and finished jobs (library and command line), nothing outside the
workspace touched; a training's ETA; the Train form remembered in the workspace; the
job list's order and pages."""

import json
import os

import pandas as pd
import pytest

from conftest import fake_job
from fer_audit import atomic, cli
from fer_audit.job_deletion import delete_jobs, job_dependents, refusals
from fer_audit.job_table import listing_order, page_count, page_label
from fer_audit.jobs import JobRegistry
from fer_audit.train.form import TrainFormValues, form_path, read_train_form, save_train_form
from fer_audit.train.run_deletion import delete_run, may_train, run_dependents
from fer_audit.train.runs import training_eta

TRAIN = ("train", "--dataset", "syn", "--arch", "3dcnn", "--train-set", "regular", "--seeds", "1,2")


def make_run(workspace, run_id: str, **meta) -> None:
    """A run folder with its run.json (seed 1 of 3dcnn on syn, regular, done)."""
    folder = workspace.run_dir(run_id)
    folder.mkdir(parents=True)
    defaults = {"dataset": "syn", "arch": "3dcnn", "train_set": "regular", "seed": 1}
    atomic.write_json(folder / "run.json", {"run_id": run_id, "status": "done", **defaults, **meta})
    (folder / "model.pt").write_bytes(b"weights")


def make_study(workspace, name: str, steps: list[dict]) -> None:
    record = {"name": name, "dataset": "syn", "outputs": {}, "created_at": "2025-01-01",
              "steps": [{"kind": "train", **step} for step in steps]}  # fmt: skip
    atomic.write_json(workspace.root / "studies" / f"{name}.json", record)


@pytest.fixture
def registry(workspace):
    return JobRegistry(workspace)


# ------------------------------------------------------------------ runs


def test_a_run_is_deleted_and_what_depends_on_it_is_listed_and_kept(workspace, registry):
    make_run(workspace, "r1")
    make_run(workspace, "r2", seed=3)
    workspace.predictions_dir.mkdir(parents=True)
    table = workspace.predictions_dir / "both.parquet"
    pd.DataFrame({"run_id": ["r1", "r2"], "dataset": ["syn", "syn"]}).to_parquet(table)
    pd.DataFrame({"run_id": ["r2"]}).to_parquet(workspace.predictions_dir / "other.parquet")
    audit = workspace.audit_dir("both-audit")
    atomic.write_json(audit / "audit.json", {"source": {"path": str(table.resolve())}})
    make_study(workspace, "st", [{"name": "train r1", "argv": list(TRAIN), "run_id": "r1"}])
    running = fake_job(registry, "running", argv=("datasets", "list"))
    queued = fake_job(registry, "queued", argv=TRAIN, title="train 3dcnn")  # seeds 1,2

    dependents = run_dependents(workspace, "r1")
    assert dependents.predictions == ["both.parquet"] and dependents.audits == ["both-audit"]
    assert dependents.studies == ["st"]
    assert dependents.active_jobs == [f"#{queued.id} train 3dcnn"]  # it may train seed 1
    with pytest.raises(ValueError, match=f"in use by #{queued.id}"):
        delete_run(workspace, "r1")
    assert workspace.run_dir("r1").is_dir()

    atomic.write_json(workspace.root / "demo.json", {"runs": ["r2"]})
    deletion = delete_run(workspace, "r2")  # seed 3: the queued job does not train it
    assert not workspace.run_dir("r2").exists()
    assert deletion.kept == [
        "2 predictions table(s) with its rows (they keep them): both.parquet, other.parquet",
        "1 audit(s) of those tables: both-audit",
        "the demo (demo.json) lists it: the demo then counts as incomplete, and its next "
        "build (make run, or the Home page) trains it again",
    ]
    assert table.exists() and (audit / "audit.json").exists()
    assert registry.get(running.id).status == "running"


def test_may_train_reads_the_dataset_arch_set_and_seeds_of_a_train_command():
    run = {"dataset": "syn", "arch": "3dcnn", "train_set": "male", "seed": 2}
    assert may_train(["train", "--dataset", "syn", "--arch", "all", "--train-set", "all",
                      "--seeds", "1,2"], run)  # fmt: skip
    assert not may_train(list(TRAIN), run)  # regular only
    assert not may_train(["train", "--dataset", "x", "--arch", "3dcnn", "--seed", "2"], run)
    assert not may_train(["evaluate", "r1"], run) and not may_train(list(TRAIN), {})


def test_runs_outside_the_workspace_are_never_deleted(workspace, tmp_path):
    outside = tmp_path / "outside"
    (outside / "runs" / "r3").mkdir(parents=True)
    (outside / "keep.txt").write_text("precious")
    make_run(workspace, "r1")
    (workspace.runs_dir / "evil").symlink_to(outside, target_is_directory=True)
    (workspace.runs_dir / "alias").symlink_to(workspace.run_dir("r1"), target_is_directory=True)
    for bad, why in (("../outside", "not allowed"), ("evil", "points outside"),
                     ("alias", "is a link"), ("nope", "no run 'nope'")):  # fmt: skip
        with pytest.raises(ValueError, match=why):
            delete_run(workspace, bad)
    assert (outside / "keep.txt").read_text() == "precious"
    assert workspace.run_dir("r1").is_dir() and (workspace.runs_dir / "alias").is_symlink()
    # a runs/ folder that is itself a link out of the workspace
    elsewhere = workspace.root.parent / "moved"
    (workspace.root / "runs").rename(elsewhere)
    (workspace.root / "runs").symlink_to(outside / "runs", target_is_directory=True)
    with pytest.raises(ValueError, match="outside the workspace"):
        delete_run(workspace, "r3")
    assert (outside / "runs" / "r3").is_dir()


def test_the_runs_delete_command_asks_first_then_deletes(workspace, capsys):
    make_run(workspace, "r1")
    args = ["--workspace", str(workspace.root), "runs", "delete", "r1"]
    assert cli.main(args) == 1  # no terminal to answer: nothing deleted without --yes
    out, err = capsys.readouterr()
    assert "removes" in out and "nothing depends on it" in out and "add --yes" in err
    assert workspace.run_dir("r1").is_dir()
    assert cli.main([*args, "--yes"]) == 0
    assert f"removed its folder {workspace.run_dir('r1')}" in capsys.readouterr().out
    assert not workspace.run_dir("r1").exists()
    assert cli.main(["--workspace", str(workspace.root), "runs", "delete", "../x", "--yes"]) == 2
    assert "not allowed" in capsys.readouterr().err


# ------------------------------------------------------------------ jobs


def test_finished_jobs_are_deleted_with_their_logs_and_the_others_kept(
    workspace, registry, tmp_path
):
    done = fake_job(registry, "done", argv=TRAIN, runs=("r1",))
    failed = fake_job(registry, "failed")
    waiting = fake_job(registry, "queued", after=failed.id)
    running = fake_job(registry, "running")
    elsewhere = fake_job(registry, "cancelled")
    outside_log = tmp_path / "outside.log"
    outside_log.write_text("not the workspace's")
    registry._execute("UPDATE jobs SET log_path = ? WHERE id = ?", (str(outside_log), elsewhere.id))
    make_study(workspace, "st", [{"name": "train r1", "argv": list(TRAIN), "job_id": done.id}])
    ids = [done.id, failed.id, running.id, elsewhere.id, 999]

    assert sorted(refusals(registry, ids)) == sorted([failed.id, running.id, 999])
    lines = job_dependents(registry, [done.id])
    assert f"study st: its step 'train r1' ran as job #{done.id}" in lines[0]
    assert lines[1] == "1 run folder(s) they trained: r1"

    deletion = delete_jobs(registry, ids)
    assert deletion.removed == [done.id, elsewhere.id]
    assert f"queued job #{waiting.id}" in deletion.refused[failed.id]
    assert "running: cancel it first" in deletion.refused[running.id]
    assert not done.log_path.exists() and deletion.logs_removed == [str(done.log_path)]
    assert outside_log.read_text() == "not the workspace's"  # named, left as it is
    assert deletion.logs_kept == [str(outside_log)]
    left = {job.id for job in registry.list()}
    assert left == {failed.id, waiting.id, running.id}
    assert fake_job(registry, "done").id > elsewhere.id  # ids are never given again


def test_the_jobs_delete_command(workspace, registry, capsys):
    done = fake_job(registry, "done")
    fake_job(registry, "running")
    base = ["--workspace", str(workspace.root), "jobs"]
    assert cli.main([*base, "delete"]) == 2
    assert cli.main([*base, "delete", "--finished"]) == 1  # asks; no terminal
    assert f"delete 1 job(s) and their logs: #{done.id}" in capsys.readouterr().out
    assert cli.main([*base, "delete", "--finished", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"deleted 1 job(s): #{done.id}" in out
    assert f"removed their log(s) in {workspace.root / 'jobs'}: {done.id}.log" in out
    assert cli.main([*base, "list"]) == 0
    assert "running, ran " in capsys.readouterr().out


# ------------------------------------------------------------------ ETA, form, list


def test_the_eta_is_seconds_per_epoch_times_the_epochs_left_an_upper_bound():
    meta = {"run_id": "r", "hyperparameters": {"epochs": 30, "patience": 8}, "best_epoch": 10}
    records = [{"epoch": e, "seconds": 20.0 if e % 2 else 40.0} for e in range(1, 13)]
    eta = training_eta(meta, records)
    assert (eta.epochs_left, eta.seconds_per_epoch, eta.seconds_left) == (18, 30.0, 540.0)
    assert eta.earliest_epochs_left == 6  # best epoch 10 + patience 8 - 12 done
    assert eta.words() == (
        "12 of at most 30 epochs done, 30 s each so far: at most about 9 min left; early "
        "stopping may end it sooner, after 6 more epoch(s) (about 3 min) if validation "
        "does not improve"
    )
    late = training_eta({**meta, "best_epoch": 29}, records)
    assert late.words().endswith(": about 9 min left")  # stopping early cannot come sooner
    assert training_eta(meta, [{"epoch": 1}]) is None  # no time recorded
    assert training_eta({}, records) is None  # epochs unknown


def test_the_train_form_is_remembered_and_a_bad_file_only_gives_a_note(workspace):
    assert read_train_form(workspace) == (TrainFormValues(), None)
    chosen = TrainFormValues(dataset="syn", archs=["vgg16"], seeds="4,5", epochs=7)
    save_train_form(workspace, chosen)
    assert read_train_form(workspace, archs=["vgg16", "3dcnn"]) == (chosen, None)
    stored = json.loads(form_path(workspace).read_text())
    form_path(workspace).write_text(json.dumps(stored | {"epochs": "7", "archs": ["nope"]}))
    values, note = read_train_form(workspace, archs=["vgg16"])
    assert (values.epochs, values.archs, values.seeds) == (30, ["3dcnn"], "4,5")
    assert "defaults are used for archs" in note and "epochs (not a whole number" in note
    form_path(workspace).write_text('{"epochs": ')
    values, note = read_train_form(workspace)
    assert values == TrainFormValues() and "is damaged (not valid JSON" in note


def test_a_job_list_shows_active_jobs_first_newest_first_in_pages(workspace, registry):
    jobs = [fake_job(registry, status) for status in ("done", "running", "failed", "queued")]
    assert [j.status for j in listing_order(jobs)] == ["running", "queued", "failed", "done"]
    assert page_count(37, 10) == 4 and page_count(0, 10) == 1
    assert [page_label(p, 37, 10) for p in (0, 3)] == ["Jobs 1-10 of 37", "Jobs 31-37 of 37"]
    assert jobs[0].seconds(0.0) == pytest.approx(90.0, abs=1)
    assert fake_job(registry, "queued").seconds(0.0) is None
    assert os.getpid() == jobs[1].pid


def test_discard_refuses_links_and_paths_outside_the_workspace(workspace, tmp_path):
    from fer_audit.trash import discard

    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    workspace.root.mkdir(parents=True)
    link = workspace.root / "link"
    link.symlink_to(outside)
    for path in (link, outside, workspace.root, workspace.root / ".." / "outside.txt"):
        with pytest.raises(ValueError, match="refused"):
            discard(workspace, path)
    assert outside.read_text() == "precious" and link.is_symlink()
    (workspace.root / "gone").mkdir()
    discard(workspace, workspace.root / "gone")
    assert not (workspace.root / "gone").exists() and not (workspace.root / ".deleting").exists()
