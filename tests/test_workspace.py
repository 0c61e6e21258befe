import os
from pathlib import Path

import pytest

from fer_audit import atomic
from fer_audit.workspace import OutsideDataRootsError, Workspace


def test_workspace_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tmp_path / "ws"))
    assert Workspace.from_env().root == (tmp_path / "ws").resolve()
    assert Workspace.from_env(tmp_path / "other").root == (tmp_path / "other").resolve()


def test_data_roots_refuse_escapes(monkeypatch, tmp_path):
    root = tmp_path / "data"
    (root / "sasefe").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    monkeypatch.setenv("FER_AUDIT_DATA_ROOTS", str(root))
    ws = Workspace(tmp_path / "ws")
    assert ws.resolve_data_path(root / "sasefe") == (root / "sasefe").resolve()
    assert ws.resolve_data_path("sasefe") == (root / "sasefe").resolve()
    for bad in (root / ".." / "secret", root / "link", Path("/etc")):
        with pytest.raises(OutsideDataRootsError, match="outside the configured data roots"):
            ws.resolve_data_path(bad)


def test_data_roots_from_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("FER_AUDIT_DATA_ROOTS", raising=False)
    ws = Workspace(tmp_path / "ws")
    assert ws.data_roots() == [ws.root]
    ws.save_settings({"data_roots": [str(tmp_path)]})
    assert ws.data_roots() == [tmp_path.resolve()]


def test_atomic_write_keeps_old_content_on_failure(tmp_path):
    target = tmp_path / "file.json"
    atomic.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert atomic.read_json(target) == {"a": 1}
    assert os.listdir(tmp_path) == ["file.json"]
