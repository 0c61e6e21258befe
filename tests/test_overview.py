from conftest import make_sasefe, touch
from fer_audit.data.registry import load_dataset, register_dataset
from fer_audit.data.splits import draw_test_split, load_split, save_split
from fer_audit.overview import suggested_preprocessing, workspace_overview
from fer_audit.video.settings import PreprocessSettings


def test_empty_workspace(workspace):
    overview = workspace_overview(workspace)
    assert overview.datasets.empty and overview.synthetic_datasets == []
    assert (overview.runs, overview.predictions, overview.audits) == (0, 0, 0)


def test_datasets_splits_and_runs_are_counted(workspace, tmp_path, sasefe_genders):
    register_dataset(workspace, "sase", make_sasefe(tmp_path / "s", sasefe_genders), kind="sasefe")
    touch(tmp_path / "syn" / "S1" / "N2A.mp4")
    (tmp_path / "syn" / "subjects.csv").write_text("subject,gender\nS1,male\n")
    (tmp_path / "syn" / "SYNTHETIC.json").write_text('{"synthetic": true}')
    register_dataset(workspace, "syn", tmp_path / "syn", kind="sasefe")
    dataset = load_dataset(workspace, "sase")
    save_split(workspace.dataset_dir("sase"), draw_test_split(dataset.subjects(), seed=4))
    touch(workspace.runs_dir / "r1" / "run.json", b"{}")
    touch(workspace.runs_dir / "half-written" / "model.pt")

    overview = workspace_overview(workspace)
    rows = overview.datasets.set_index("name")
    assert rows.loc["sase", "subjects per gender"] == "8 female, 12 male"
    split = load_split(workspace.dataset_dir("sase"))
    ids = {g: ", ".join(split.test_subjects[g]) for g in split.groups}
    said = f"5 female ({ids['female']}) + 5 male ({ids['male']}), seed 4"
    assert rows.loc["sase", "test split"] == said  # the subjects themselves, not counts
    assert rows.loc["syn", "test split"] == "not drawn"
    assert overview.synthetic_datasets == ["syn"]
    assert overview.runs == 1


def test_preprocessing_defaults_suit_the_dataset(workspace, tmp_path, sasefe_genders):
    register_dataset(workspace, "sase", make_sasefe(tmp_path / "s", sasefe_genders), kind="sasefe")
    touch(tmp_path / "syn" / "S1" / "N2A.mp4")
    (tmp_path / "syn" / "subjects.csv").write_text("subject,gender\nS1,male\n")
    (tmp_path / "syn" / "SYNTHETIC.json").write_text(
        '{"synthetic": true, "settings": {"size": 48}}'
    )
    register_dataset(workspace, "syn", tmp_path / "syn", kind="sasefe")
    paper = PreprocessSettings(k=20, margin=40, size=224, detector="mtcnn")
    assert suggested_preprocessing(load_dataset(workspace, "sase")) == paper
    drawn = suggested_preprocessing(load_dataset(workspace, "syn"))
    assert drawn == PreprocessSettings(k=20, margin=0, size=48, detector="none")
