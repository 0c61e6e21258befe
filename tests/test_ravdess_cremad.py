import pytest

from conftest import touch, write_csv
from fer_audit.data.cremad import read_cremad
from fer_audit.data.index import DatasetError
from fer_audit.data.ravdess import read_ravdess


def test_ravdess_labels_and_gender_from_actor_parity(tmp_path):
    root = tmp_path / "ravdess"
    touch(root / "Actor_01" / "02-01-03-01-01-01-01.mp4")  # happy, actor 1 (male)
    touch(root / "Actor_02" / "02-01-04-02-01-01-02.mp4")  # sad, actor 2 (female)
    touch(root / "Actor_02" / "02-01-01-01-01-01-02.mp4")  # neutral
    touch(root / "Actor_02" / "03-01-04-02-01-01-02.wav")  # audio only
    touch(root / "Actor_02" / "readme.txt")
    result = read_ravdess(root)
    index = result.index.set_index("path")
    assert index.loc[
        "Actor_01/02-01-03-01-01-01-01.mp4", ["subject", "gender", "emotion"]
    ].tolist() == ["Actor_01", "male", "happiness"]
    assert index.loc["Actor_02/02-01-04-02-01-01-02.mp4", ["gender", "emotion"]].tolist() == [
        "female",
        "sadness",
    ]
    assert index.loc["Actor_02/02-01-01-01-01-01-02.mp4", "emotion"] == "neutral"
    assert {s.path for s in result.skipped} == {
        "Actor_02/03-01-04-02-01-01-02.wav",
        "Actor_02/readme.txt",
    }


def test_ravdess_prefers_video_only_over_audio_video_duplicate(tmp_path):
    root = tmp_path / "ravdess"
    touch(root / "01-01-05-01-01-01-03.mp4")
    touch(root / "02-01-05-01-01-01-03.mp4")
    result = read_ravdess(root)
    assert result.index["path"].tolist() == ["02-01-05-01-01-01-03.mp4"]
    assert result.skipped[0].path == "01-01-05-01-01-01-03.mp4"


def test_ravdess_folder_without_ravdess_names(tmp_path):
    touch(tmp_path / "x" / "clip.mp4")
    with pytest.raises(DatasetError, match="no RAVDESS video"):
        read_ravdess(tmp_path / "x")


def _cremad(root, demographics_rows):
    touch(root / "VideoFlash" / "1001_DFA_ANG_XX.flv")
    touch(root / "VideoFlash" / "1002_IEO_HAP_HI.flv")
    touch(root / "VideoFlash" / "1002_IEO_FEA_LO.flv")
    touch(root / "VideoFlash" / "bad_name.flv")
    write_csv(root / "VideoDemographics.csv", "ActorID,Age,Sex,Race,Ethnicity", demographics_rows)
    return root


def test_cremad_gender_from_demographics(tmp_path):
    root = _cremad(
        tmp_path / "cremad",
        ["1001,51,Male,Caucasian,Not Hispanic", "1002,21,Female,Caucasian,Not Hispanic"],
    )
    result = read_cremad(root)
    index = result.index.set_index("path")
    assert index.loc[
        "VideoFlash/1001_DFA_ANG_XX.flv", ["subject", "gender", "emotion"]
    ].tolist() == ["1001", "male", "anger"]
    assert index.loc["VideoFlash/1002_IEO_FEA_LO.flv", "emotion"] == "fear"
    assert index.loc["VideoFlash/1002_IEO_HAP_HI.flv", "gender"] == "female"
    assert [s.path for s in result.skipped] == ["VideoFlash/bad_name.flv"]


def test_cremad_actor_missing_from_demographics(tmp_path):
    root = _cremad(tmp_path / "cremad", ["1001,51,Male,Caucasian,Not Hispanic"])
    with pytest.raises(DatasetError, match="missing from the subject table") as info:
        read_cremad(root)
    assert info.value.problems == ["1002"]


def test_cremad_without_demographics(tmp_path):
    touch(tmp_path / "c" / "1001_DFA_ANG_XX.flv")
    with pytest.raises(DatasetError, match="VideoDemographics.csv"):
        read_cremad(tmp_path / "c")


def test_cremad_flv_and_mp4_copies_of_one_clip_count_once(tmp_path):
    root = _cremad(
        tmp_path / "cremad",
        ["1001,51,Male,Caucasian,Not Hispanic", "1002,21,Female,Caucasian,Not Hispanic"],
    )
    touch(root / "VideoMP4" / "1001_DFA_ANG_XX.mp4")
    result = read_cremad(root)
    assert len(result.index) == 3
    assert ("VideoMP4/1001_DFA_ANG_XX.mp4", "same recording as VideoFlash/1001_DFA_ANG_XX.flv") in {
        (s.path, s.reason) for s in result.skipped
    }
