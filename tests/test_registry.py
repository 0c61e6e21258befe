import pytest

from conftest import make_sasefe, touch
from fer_audit.data.index import DatasetError
from fer_audit.data.registry import list_datasets, load_dataset, register_dataset


def test_register_then_load_and_list(workspace, tmp_path, sasefe_genders):
    root = make_sasefe(tmp_path / "sase", sasefe_genders)
    touch(root / "S01" / "extra.mp4")
    dataset, result = register_dataset(workspace, "sase", root, kind="sasefe")
    assert dataset.meta["n_videos"] == 240
    assert dataset.meta["subjects_per_gender"] == {"female": 8, "male": 12}
    assert dataset.meta["skipped"] == [
        {"path": "S01/extra.mp4", "reason": "video name matches no SASE-FE code"}
    ]
    assert dataset.meta["synthetic"] is False
    loaded = load_dataset(workspace, "sase")
    assert loaded.index.equals(dataset.index)
    assert [m["name"] for m in list_datasets(workspace)] == ["sase"]


def test_failed_registration_writes_nothing(workspace, tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f"}, table=False)
    with pytest.raises(DatasetError):
        register_dataset(workspace, "sase", root, kind="sasefe")
    assert not workspace.dataset_dir("sase").exists()
    assert list_datasets(workspace) == []


def test_existing_name_needs_replace(workspace, tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f", "S2": "m"})
    register_dataset(workspace, "sase", root, kind="sasefe")
    with pytest.raises(DatasetError, match="already registered"):
        register_dataset(workspace, "sase", root, kind="sasefe")
    (root / "S2" / "N2A.mp4").unlink()
    dataset, _ = register_dataset(workspace, "sase", root, kind="sasefe", replace=True)
    assert dataset.meta["n_videos"] == 23


def test_fingerprint_changes_with_the_data(workspace, tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f", "S2": "m"})
    first, _ = register_dataset(workspace, "a", root, kind="sasefe")
    (root / "S1" / "N2A.mp4").write_bytes(b"re-encoded, longer")
    second, _ = register_dataset(workspace, "b", root, kind="sasefe")
    third, _ = register_dataset(workspace, "c", root, kind="sasefe")
    assert first.meta["fingerprint"] != second.meta["fingerprint"]
    assert second.meta["fingerprint"] == third.meta["fingerprint"]


@pytest.mark.parametrize("name", ["../x", "", "a/b", ".hidden"])
def test_bad_names_are_refused(workspace, tmp_path, name):
    with pytest.raises(DatasetError, match="is not allowed"):
        register_dataset(workspace, name, tmp_path, kind="sasefe")


def test_unknown_kind_and_tampered_index(workspace, tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f"})
    with pytest.raises(DatasetError, match="unknown dataset kind"):
        register_dataset(workspace, "x", root, kind="affectnet")
    register_dataset(workspace, "x", root, kind="sasefe")
    index = workspace.dataset_dir("x") / "index.csv"
    index.write_text(index.read_text().replace("female", "male"))
    with pytest.raises(DatasetError, match="does not match dataset.json"):
        load_dataset(workspace, "x")
    with pytest.raises(DatasetError, match="no dataset named 'y'"):
        load_dataset(workspace, "y")
