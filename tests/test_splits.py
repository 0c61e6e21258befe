import pandas as pd
import pytest

from conftest import make_sasefe
from fer_audit.data.index import DatasetError, subjects_table
from fer_audit.data.sasefe import read_sasefe
from fer_audit.data.splits import (
    HeldOutSplit,
    balanced_subset,
    draw_test_split,
    evaluation_sets,
    load_split,
    run_split,
    save_split,
)
from fer_audit.labels import apply_scheme


def paper_subjects() -> pd.DataFrame:
    """SASE-FE's 18 female and 32 male subjects."""
    rows = [(f"S{i:02d}", "female" if i <= 18 else "male") for i in range(1, 51)]
    return pd.DataFrame(rows, columns=["subject", "gender"])


def test_test_split_is_balanced_and_seeded():
    subjects = paper_subjects()
    split = draw_test_split(subjects, seed=3)
    gender = subjects.set_index("subject")["gender"]
    assert split.groups == ("female", "male")
    for group in split.groups:
        assert len(split.test_subjects[group]) == 5
        assert set(gender[split.test_subjects[group]]) == {group}
    assert draw_test_split(subjects, seed=3).test_subjects == split.test_subjects
    assert draw_test_split(subjects, seed=4).test_subjects != split.test_subjects


@pytest.mark.parametrize("train_set", ["regular", "male", "female"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_run_splits_never_share_a_subject(train_set, seed):
    subjects = paper_subjects()
    split = draw_test_split(subjects, seed=0)
    run = run_split(subjects, split, train_set=train_set, seed=seed)
    train, val, test = set(run.train), set(run.validation), set(run.test)
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(test) == 10
    pool = train | val
    expected_pool = 40 if train_set == "regular" else (13 if train_set == "female" else 27)
    assert len(pool) == expected_pool
    if train_set != "regular":
        gender = subjects.set_index("subject")["gender"]
        assert set(gender[list(pool)]) == {train_set}
    # 15% of the training subjects, stratified by gender
    assert len(val) == sum(
        round(0.15 * n) for n in subjects[subjects["subject"].isin(pool)]["gender"].value_counts()
    )


def test_validation_is_drawn_per_run():
    subjects = paper_subjects()
    split = draw_test_split(subjects, seed=0)
    draws = {
        tuple(run_split(subjects, split, train_set="regular", seed=s).validation) for s in range(5)
    }
    assert len(draws) > 1
    again = run_split(subjects, split, train_set="regular", seed=2)
    assert again == run_split(subjects, split, train_set="regular", seed=2)


def test_too_few_subjects_and_unknown_groups_are_errors():
    subjects = pd.DataFrame({"subject": ["a", "b", "c", "d"], "gender": ["f", "f", "m", "x"]})
    with pytest.raises(DatasetError, match="group 'm' has 1 subject"):
        draw_test_split(subjects, per_group=1)
    split = draw_test_split(subjects, per_group=1, groups=["f"])
    assert split.groups == ("f",)
    with pytest.raises(DatasetError, match="no subjects of group"):
        draw_test_split(subjects, groups=["nonexistent"])
    with pytest.raises(DatasetError, match="unknown training set"):
        run_split(subjects, split, train_set="robots", seed=0)


def test_evaluation_sets_and_persistence(tmp_path, sasefe_genders):
    index = read_sasefe(make_sasefe(tmp_path / "sase", sasefe_genders)).index
    split = draw_test_split(subjects_table(index), per_group=3, seed=1, dataset="sase")
    sets = evaluation_sets(index, split)
    assert set(sets) == {"test", "female", "male"}
    assert len(sets["test"]) == 6 * 12
    assert set(sets["female"]["gender"]) == {"female"}
    save_split(tmp_path, split)
    assert load_split(tmp_path) == split
    assert isinstance(load_split(tmp_path), HeldOutSplit)


def test_balanced_subset_keeps_two_videos_per_class_per_subject(tmp_path, sasefe_genders):
    index = read_sasefe(make_sasefe(tmp_path / "sase", sasefe_genders)).index
    labelled = apply_scheme(index, "paper4").index
    subset = balanced_subset(labelled, seed=0)
    counts = subset.groupby(["subject", "label"]).size()
    assert (counts == 2).all()
    assert len(subset) == 8 * len(sasefe_genders)
    upset = subset[subset["label"] == "upset"]
    assert (upset.groupby("subject")["authenticity"].nunique() == 2).all()
    assert subset.equals(balanced_subset(labelled, seed=0))
    assert not subset.equals(balanced_subset(labelled, seed=1))
