import pytest

from conftest import make_sasefe, touch, write_csv
from fer_audit.data.index import INDEX_COLUMNS, DatasetError
from fer_audit.data.sasefe import CODES, read_sasefe


def test_reads_all_twelve_codes_per_subject(tmp_path, sasefe_genders):
    root = make_sasefe(tmp_path / "sase", sasefe_genders)
    result = read_sasefe(root)
    index = result.index
    assert list(index.columns) == list(INDEX_COLUMNS)
    assert len(index) == 12 * len(sasefe_genders)
    assert result.skipped == [] and result.notes == []
    s01 = index[index["subject"] == "S01"].set_index("path")
    assert s01.loc["S01/N2Sur.mp4", ["emotion", "authenticity"]].tolist() == ["surprise", "genuine"]
    assert s01.loc["S01/D2N2Sur.mp4", ["emotion", "authenticity"]].tolist() == ["surprise", "fake"]
    assert s01.loc["S01/N2S.mp4", "emotion"] == "sadness"
    assert set(s01["gender"]) == {"female"}
    assert (index.groupby("subject")["emotion"].value_counts() == 2).all()
    assert index["video_id"].is_unique


def test_codes_in_any_letter_case_and_extension(tmp_path):
    root = tmp_path / "sase"
    for name in ("n2a.MP4", "N2SUR.mp4", "h2n2s.Mp4", "d2n2sur.mov"):
        touch(root / "S1" / name)
    write_csv(root / "subjects.csv", "subject,gender", ["S1,F"])
    index = read_sasefe(root).index.set_index("path")
    assert index.loc["S1/n2a.MP4", "emotion"] == "anger"
    assert index.loc["S1/N2SUR.mp4", "emotion"] == "surprise"
    assert index.loc["S1/h2n2s.Mp4", ["emotion", "authenticity"]].tolist() == ["sadness", "fake"]
    assert index.loc["S1/d2n2sur.mov", "authenticity"] == "fake"
    assert set(index["gender"]) == {"female"}


def test_unmatched_files_are_listed_not_fatal(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "male"})
    touch(root / "S1" / "N2X.mp4")
    touch(root / "S1" / "notes.txt")
    touch(root / "N2A.mp4")
    result = read_sasefe(root)
    assert len(result.index) == 12
    skipped = {s.path: s.reason for s in result.skipped}
    assert skipped == {
        "N2A.mp4": "not inside a subject folder",
        "S1/N2X.mp4": "video name matches no SASE-FE code",
        "S1/notes.txt": "not a video file",
    }


def test_missing_subject_rows_are_named(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "female", "S2": "male", "S3": "male"}, table=False)
    write_csv(root / "subjects.csv", "subject,gender", ["S1,female"])
    with pytest.raises(DatasetError, match="2 subject") as info:
        read_sasefe(root)
    assert info.value.problems == ["S2", "S3"]


def test_subject_table_problems_are_all_reported(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f", "S2": "m"}, table=False)
    table = write_csv(
        tmp_path / "t.csv", "Subject,Gender", ["S1,female", "S1,male", "S2,", "S3,robot"]
    )
    with pytest.raises(DatasetError) as info:
        read_sasefe(root, subjects=table, allowed_genders=["female", "male"])
    problems = "\n".join(info.value.problems)
    assert "duplicate row for subject 'S1'" in problems
    assert "subject 'S2' has no gender" in problems
    assert "'robot', not one of female, male" in problems


def test_free_gender_labels_are_kept(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "Woman", "S2": "M", "S3": "Non-binary"})
    genders = read_sasefe(root).index.groupby("subject")["gender"].first().to_dict()
    assert genders == {"S1": "female", "S2": "male", "S3": "non-binary"}


def test_subject_table_without_gender_column(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f"}, table=False)
    table = write_csv(tmp_path / "t.csv", "subject,sex", ["S1,female"])
    with pytest.raises(DatasetError, match="needs the columns subject,gender"):
        read_sasefe(root, subjects=table)


def test_no_table_and_no_videos_are_clear_errors(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f"}, table=False)
    with pytest.raises(DatasetError, match="give a subject table"):
        read_sasefe(root)
    empty = tmp_path / "empty"
    touch(empty / "S1" / "clip.mp4")
    with pytest.raises(DatasetError, match="no SASE-FE video found") as info:
        read_sasefe(empty)
    assert "S1/clip.mp4: video name matches no SASE-FE code" in info.value.problems


def test_two_files_with_one_code_are_an_error(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f"})
    touch(root / "S1" / "n2a.avi")
    with pytest.raises(DatasetError, match="two videos for code N2A"):
        read_sasefe(root)


def test_incomplete_subject_is_noted(tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f", "S2": "m"})
    (root / "S2" / "N2H.mp4").unlink()
    result = read_sasefe(root)
    assert len(result.index) == 23
    assert result.notes == ["subject S2 lacks 1 of 12 videos: N2H"]


def test_codes_table_is_complete():
    assert len(CODES) == 12
    assert sum(a == "fake" for _, a in CODES.values()) == 6


def test_symlinked_subject_folders_are_followed_and_broken_links_listed(tmp_path):
    elsewhere = make_sasefe(tmp_path / "elsewhere", {"S2": "m"}, table=False)
    root = make_sasefe(tmp_path / "sase", {"S1": "f"}, table=False)
    (root / "S2").symlink_to(elsewhere / "S2")
    (root / "S1" / "loop").symlink_to(root)  # a cycle must not hang the walk
    (root / "S1" / "N2Q.mp4").symlink_to(tmp_path / "gone.mp4")
    write_csv(root / "subjects.csv", "subject,gender", ["S1,f", "S2,m"])
    result = read_sasefe(root)
    assert result.index.groupby("subject").size().to_dict() == {"S1": 12, "S2": 12}
    assert ("S1/N2Q.mp4", "broken link") in {(s.path, s.reason) for s in result.skipped}
