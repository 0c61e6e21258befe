"""Deleting saved audits and predictions tables (issue #16 item 6): what depends on them,
what is removed, refusals that touch nothing (outside the workspace above all), the
`audits delete` and `predictions delete` commands, and the Audit and Reports pages."""

import io
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_fairness import simulated

import fer_audit.report.housekeeping
from conftest import save_audit, shown, widget
from fer_audit import atomic
from fer_audit.cli import main
from fer_audit.jobs import JobRegistry
from fer_audit.report.housekeeping import (
    DeletionRefused,
    audit_removal,
    delete_audit,
    delete_table,
    table_removal,
)
from fer_audit.report.sources import PREDICTIONS, SAVED, list_sources, saved_audits
from fer_audit.study.chain import STUDIES

REPO = Path(__file__).resolve().parent.parent


def tree(root: Path) -> list[tuple[str, int]]:
    """Every file under `root` (links not followed) with its size; locks left out."""
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if not relative.startswith("locks/"):
                found.append((relative, path.lstat().st_size))
    return sorted(found)


def predictions():
    return simulated(3, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")


@pytest.fixture
def audited(workspace):
    """Saved audit "mine" of predictions table mine.parquet, with its HTML report, and a
    study record naming both."""
    folder = save_audit(predictions(), workspace, "mine", bootstrap=100)
    (folder / "report.html").write_text("<html></html>")
    table = workspace.predictions_path("mine")
    outputs = {"predictions": str(table), "audit": str(folder), "report": str(folder / "x")}
    record = {"name": "study1", "dataset": "syn", "steps": [], "outputs": outputs}
    atomic.write_json(workspace.root / STUDIES / "study1.json", record)
    atomic.write_json(workspace.root / "demo.json", {"status": "done", "audit": str(folder)})
    return workspace


# ------------------------------------------------------------------ library


def test_deleting_a_saved_audit_removes_its_folder_only(audited):
    folder, table = audited.audit_dir("mine"), audited.predictions_path("mine")
    planned = audit_removal(audited, "mine")
    assert planned.removes == [
        f"its folder {folder} (9 file(s): the audit's tables and settings, its HTML "
        "report report.html)"
    ]
    assert planned.kept == [
        f"its predictions table {table.resolve()} (the Audit page offers it for a new audit)",
        "1 study record(s) naming it as their audit: study1",
        "the demo's record demo.json, which names it as its audit (make demo-reset builds "
        "the demo again)",
    ]
    before = tree(audited.root)
    assert delete_audit(audited, "mine") == planned
    assert tree(audited.root) == [p for p in before if not p[0].startswith("audits/mine/")]
    assert [(s.kind, s.path) for s in list_sources(audited)[1:]] == [(PREDICTIONS, str(table))]
    with pytest.raises(DeletionRefused, match="no saved audit named 'mine'.*saved: none"):
        delete_audit(audited, "mine")


def test_deleting_a_table_keeps_its_audits_which_say_it_is_gone(audited):
    table = audited.predictions_path("mine")
    planned = table_removal(audited, "mine")
    assert planned.removes == [f"its file {table} ({table.stat().st_size:,} bytes)"]
    assert planned.kept == [
        "1 saved audit(s) made from it: mine (they open as saved, and say their "
        "predictions table is gone)",
        "1 study record(s) naming it as their predictions: study1",
    ]
    before = tree(audited.root)
    delete_table(audited, "mine.parquet")
    assert tree(audited.root) == [p for p in before if p[0] != "predictions/mine.parquet"]
    (saved,) = saved_audits(audited)
    assert "its predictions table" in saved.stale() and "is gone" in saved.stale()
    assert [s.kind for s in list_sources(audited)] == ["reference", SAVED]


def test_a_job_writing_or_reading_it_refuses_the_deletion(audited):
    folder, table = audited.audit_dir("mine"), audited.predictions_path("mine")
    registry = JobRegistry(audited, max_running=0)  # queued, never started here
    job = registry.submit(["report", str(folder), "--out", str(folder / "r.html")])
    before = tree(audited.root)
    with pytest.raises(DeletionRefused, match="saved audit 'mine' is in use") as refused:
        delete_audit(audited, "mine")
    assert refused.value.problems == [f"#{job.id} {job.title}"]
    registry.cancel(job.id)
    registry.submit(["evaluate", "run1", "--out", str(table)])
    with pytest.raises(DeletionRefused, match="predictions table 'mine.parquet' is in use"):
        delete_table(audited, "mine")
    assert tree(audited.root) == before


def test_only_the_workspace_own_audits_and_tables_are_deleted(audited, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "audit.json").write_text("{}")
    (outside / "mine").mkdir()  # a folder outside named like a saved audit
    (outside / "mine" / "audit.json").write_text("{}")
    (outside / "t.parquet").write_bytes(b"PAR1")
    os.symlink(outside, audited.audits_dir / "link")
    os.symlink(outside / "t.parquet", audited.predictions_dir / "link.parquet")
    before, kept = tree(audited.root), tree(outside)
    refusals = [
        (delete_audit, "..", "is not allowed"),
        (delete_audit, "../predictions", "is not in"),
        (delete_audit, str(outside / "mine"), "is not in"),
        (delete_audit, "link", "points outside"),
        (delete_audit, str(audited.audits_dir / "link"), "points outside"),
        (delete_table, ".hidden", "is not allowed"),
        (delete_table, "../audits/mine/audit.json", "is not in"),
        (delete_table, str(outside / "t.parquet"), "is not in"),
        (delete_table, "link", "points outside"),
    ]
    for delete, name, why in refusals:
        with pytest.raises(DeletionRefused, match=why):
            delete(audited, name)
    assert tree(audited.root) == before and tree(outside) == kept

    os.symlink(outside / "t.parquet", audited.audit_dir("mine") / "linked.parquet")
    delete_audit(audited, str(audited.audit_dir("mine")))  # its own path is fine
    assert tree(outside) == kept and (outside / "t.parquet").exists()  # the link only


def test_a_linked_audit_inside_the_workspace_goes_alone(audited):
    os.symlink(audited.audit_dir("mine"), audited.audits_dir / "alias")
    planned = audit_removal(audited, "alias")
    assert planned.removes == [
        f"the link {audited.audits_dir / 'alias'} (the folder it points to, "
        f"{audited.audit_dir('mine').resolve()}, is kept)"
    ]
    before = tree(audited.root)
    delete_audit(audited, "alias")
    assert tree(audited.root) == before and not (audited.audits_dir / "alias").exists()
    assert [a.folder.name for a in saved_audits(audited)] == ["mine"]


def test_a_deletion_stopped_half_way_leaves_no_saved_audit(audited, monkeypatch):
    def interrupted(workspace, folder):
        raise OSError("interrupted")

    monkeypatch.setattr(fer_audit.report.housekeeping, "discard", interrupted)
    with pytest.raises(OSError, match="interrupted"):
        delete_audit(audited, "mine")
    assert saved_audits(audited) == [] and audited.audit_dir("mine").is_dir()
    monkeypatch.undo()
    delete_audit(audited, "mine")  # what is left can be deleted by name
    assert not audited.audit_dir("mine").exists()


# ------------------------------------------------------------------ command line


def run(capsys, workspace, *args):
    code = main(["--workspace", str(workspace.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_delete_commands_say_what_they_remove_and_keep(capsys, audited, monkeypatch):
    folder, table = audited.audit_dir("mine"), audited.predictions_path("mine")
    code, out, err = run(capsys, audited, "predictions", "delete", "mine")
    assert (code, err) == (1, "") and table.exists()  # not a terminal: nothing asked
    assert out.splitlines()[:2] == [
        "deleting predictions table mine.parquet would:",
        f"  remove its file {table} ({table.stat().st_size:,} bytes)",
    ]
    assert out.splitlines()[-1] == "nothing was deleted (add --yes to delete without asking)"
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = run(capsys, audited, "predictions", "delete", "mine")
    assert code == 0 and not table.exists()
    assert "deleted predictions table mine.parquet:\n  removed its file" in out
    assert "  kept: 1 saved audit(s) made from it: mine (they open as saved" in out

    code, out, err = run(capsys, audited, "audits", "delete", "mine", "--yes")
    assert (code, err) == (0, "") and not folder.exists()
    assert out.splitlines() == [
        "deleted saved audit mine:",
        f"  removed its folder {folder} (9 file(s): the audit's tables and settings, its "
        "HTML report report.html)",
        "  kept: 1 study record(s) naming it as their audit: study1",
        "  kept: the demo's record demo.json, which names it as its audit (make demo-reset "
        "builds the demo again)",
    ]
    code, out, err = run(capsys, audited, "audits", "delete", "../datasets", "--yes")
    assert (code, out) == (2, "") and err.startswith("error: ../datasets is not in")


# ------------------------------------------------------------------ pages


@pytest.fixture
def env(monkeypatch, audited, tmp_path):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(audited.root))
    monkeypatch.setenv("FER_AUDIT_DATA_ROOTS", str(tmp_path / "data"))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    return audited


def page(name: str) -> AppTest:
    return AppTest.from_file(str(REPO / "app_pages" / f"{name}.py"), default_timeout=120)


def choose(app: AppTest, start: str) -> None:
    sources = widget(app.selectbox, key="audit_source")
    sources.set_value(next(o for o in sources.options if o.startswith(start))).run()


def test_the_audit_page_deletes_a_saved_audit_and_its_table(env):
    folder, table = env.audit_dir("mine"), env.predictions_path("mine")
    app = page("audit").run()
    choose(app, "Saved audit: mine")
    widget(app.checkbox, "Delete this predictions table").check().run()
    (warning,) = [shown(w.value) for w in app.warning if "This removes" in w.value]
    assert f"This removes its file {table} (" in warning
    assert "- 1 saved audit(s) made from it: mine (they open as saved" in warning
    widget(app.button, "Delete mine.parquet now").click().run()
    assert not app.exception and not table.exists()
    assert "Deleted the predictions table mine.parquet." in shown(app.success[0].value)
    assert widget(app.selectbox, key="audit_source").value.label.startswith("Saved audit: mine")
    assert any("is gone" in shown(w.value) for w in app.warning)  # the audit says so

    widget(app.checkbox, "Delete this saved audit").check().run()
    (warning,) = [shown(w.value) for w in app.warning if "This removes" in w.value]
    assert f"This removes its folder {folder} (9 file(s)" in warning
    assert "- 1 study record(s) naming it as their audit: study1" in warning
    widget(app.button, "Delete mine now").click().run()
    assert not app.exception and not app.error and not folder.exists()
    assert "Deleted the saved audit mine." in shown(app.success[0].value)
    source = widget(app.selectbox, key="audit_source")
    assert source.value.label.startswith("Published results")
    assert source.proto.set_value  # sent to the browser, which would show the old one
    assert source.options == [source.value.label]  # nothing left of it
    app.run()
    assert not app.success  # said once


def test_the_reports_page_deletes_a_table_not_audited_unless_a_job_uses_it(env):
    other = env.predictions_dir / "other.parquet"
    predictions().head(30).to_parquet(other)
    registry = JobRegistry(env, max_running=0)  # queued, never started here
    job = registry.submit(["audit", str(other), "--out", str(env.audit_dir("other"))])
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120).run()
    app.switch_page("app_pages/reports.py").run()  # its link to the Audit page needs app.py
    choose(app, "Predictions not audited yet: other.parquet")
    widget(app.checkbox, "Delete this predictions table").check().run()
    (warning,) = [shown(w.value) for w in app.warning if "This removes" in w.value]
    assert f"1 job(s) queued or running on it: #{job.id} audit" in warning
    assert widget(app.button, "Delete other.parquet now").disabled

    registry.cancel(job.id)
    app.run()
    widget(app.button, "Delete other.parquet now").click().run()
    assert not app.exception and not other.exists()
    assert "Deleted the predictions table other.parquet." in shown(app.success[0].value)
    source = widget(app.selectbox, key="audit_source")
    assert source.value.label.startswith("Published results") and source.proto.set_value
    assert [o.split(":")[0] for o in source.options] == ["Published results", "Saved audit"]


def test_a_table_that_cannot_be_read_can_still_be_deleted(env):
    from fer_audit.report.sources import AuditSource

    broken = env.predictions_dir / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 100)
    app = page("audit")
    app.session_state["audit_source"] = AuditSource(
        "Predictions not audited yet: broken.parquet", PREDICTIONS, str(broken)
    )
    app.run()
    assert "not a readable table" in shown(app.error[0].value)
    widget(app.checkbox, "Delete this predictions table").check().run()
    widget(app.button, "Delete broken.parquet now").click().run()
    assert not app.exception and not broken.exists()
    assert "Deleted the predictions table broken.parquet." in shown(app.success[0].value)
