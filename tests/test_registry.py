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


def test_reregistration_with_other_data_removes_the_old_split(workspace, tmp_path, sasefe_genders):
    from fer_audit.data.splits import draw_test_split, load_split, save_split

    root = make_sasefe(tmp_path / "sase", sasefe_genders)
    dataset, _ = register_dataset(workspace, "sase", root, kind="sasefe")
    folder = workspace.dataset_dir("sase")
    split = draw_test_split(dataset.subjects(), data_fingerprint=dataset.meta["fingerprint"])
    save_split(folder, split)
    _, result = register_dataset(workspace, "sase", root, kind="sasefe", replace=True)
    assert load_split(folder) == split  # same data: the split stays
    table = (root / "subjects.csv").read_text().replace("S01,female", "S01,male")
    (root / "subjects.csv").write_text(table)
    _, result = register_dataset(workspace, "sase", root, kind="sasefe", replace=True)
    assert load_split(folder) is None
    assert any("old test split was removed" in n for n in result.notes)


def test_allowed_genders_apply_to_every_kind(workspace, tmp_path):
    root = tmp_path / "ravdess"
    touch(root / "02-01-03-01-01-01-01.mp4")
    touch(root / "02-01-03-01-01-01-02.mp4")
    with pytest.raises(DatasetError, match="gender outside female") as info:
        register_dataset(workspace, "r", root, kind="ravdess", allowed_genders=["female"])
    assert info.value.problems == ["Actor_01: male"]


def test_workspace_files_are_readable_by_others(workspace, tmp_path):
    import os
    import stat

    register_dataset(workspace, "sase", make_sasefe(tmp_path / "s", {"S1": "f"}), kind="sasefe")
    mode = stat.S_IMODE(os.stat(workspace.dataset_dir("sase") / "dataset.json").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
