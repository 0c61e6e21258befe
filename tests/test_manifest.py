import pytest

from conftest import touch, write_csv
from fer_audit.data.index import DatasetError
from fer_audit.data.manifest import read_manifest


def test_manifest_rows_become_the_index(tmp_path):
    touch(tmp_path / "clips" / "a.mp4")
    touch(tmp_path / "clips" / "b.mp4")
    manifest = write_csv(
        tmp_path / "m.csv",
        "path,subject,gender,emotion,authenticity",
        [
            "clips/a.mp4,p1,F,Happy,genuine",
            "clips/b.mp4,p2,nonbinary,angry,",
            "clips/missing.mp4,p3,M,sad,fake",
        ],
    )
    result = read_manifest(manifest)
    index = result.index.set_index("path")
    assert index.loc["clips/a.mp4", ["gender", "emotion", "authenticity"]].tolist() == [
        "female",
        "happiness",
        "genuine",
    ]
    assert index.loc["clips/b.mp4", ["gender", "emotion", "authenticity"]].tolist() == [
        "nonbinary",
        "anger",
        "unknown",
    ]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("clips/missing.mp4", "row 4: file not found")
    ]


def test_manifest_bad_rows_are_all_reported(tmp_path):
    touch(tmp_path / "a.mp4")
    manifest = write_csv(
        tmp_path / "m.csv",
        "path,subject,gender,emotion",
        ["a.mp4,p1,,happy", "a.mp4,p1,f,boredom", ",p2,m,sad"],
    )
    with pytest.raises(DatasetError, match="3 bad row") as info:
        read_manifest(manifest)
    assert len(info.value.problems) == 3
    assert "unknown emotion 'boredom'" in info.value.problems[1]


def test_manifest_missing_columns(tmp_path):
    manifest = write_csv(tmp_path / "m.csv", "path,subject", ["a.mp4,p1"])
    with pytest.raises(DatasetError, match="needs the columns path,subject,gender,emotion"):
        read_manifest(manifest)


def test_manifest_duplicate_paths(tmp_path):
    touch(tmp_path / "a.mp4")
    manifest = write_csv(
        tmp_path / "m.csv", "path,subject,gender,emotion", ["a.mp4,p1,f,happy", "a.mp4,p1,f,sad"]
    )
    with pytest.raises(DatasetError, match="duplicate video_id"):
        read_manifest(manifest)


def test_manifest_subject_with_two_genders_and_non_videos(tmp_path):
    touch(tmp_path / "a.mp4")
    touch(tmp_path / "b.mp4")
    touch(tmp_path / "notes.txt")
    manifest = write_csv(
        tmp_path / "m.csv", "path,subject,gender,emotion", ["a.mp4,p1,f,happy", "b.mp4,p1,m,sad"]
    )
    with pytest.raises(DatasetError, match="subjects with more than one gender: p1"):
        read_manifest(manifest)
    manifest = write_csv(
        tmp_path / "m.csv",
        "path,subject,gender,emotion",
        ["a.mp4,p1,f,happy", "notes.txt,p1,f,sad"],
    )
    result = read_manifest(manifest)
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("notes.txt", "row 3: not a video file")
    ]
    with pytest.raises(DatasetError, match="is a folder; give the CSV file itself"):
        read_manifest(tmp_path)
