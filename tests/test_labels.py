import pandas as pd
import pytest

from fer_audit.labels import (
    PAPER4,
    SASEFE_EMOTIONS,
    SIX,
    UnknownEmotionError,
    apply_scheme,
    get_scheme,
    normalize_emotion,
)


def test_six_sasefe_emotions():
    assert SASEFE_EMOTIONS == ("anger", "contempt", "disgust", "happiness", "sadness", "surprise")


def test_paper4_fuses_anger_disgust_contempt_into_upset():
    assert PAPER4.classes == ("surprised", "upset", "sad", "happy")
    assert {PAPER4.class_of(e) for e in ("anger", "disgust", "contempt")} == {"upset"}
    assert PAPER4.class_of("sadness") == "sad"
    assert PAPER4.class_of("happiness") == "happy"
    assert PAPER4.class_of("surprise") == "surprised"


def test_six_scheme_is_identity_over_sasefe_emotions():
    assert SIX.classes == SASEFE_EMOTIONS
    assert all(SIX.class_of(e) == e for e in SASEFE_EMOTIONS)


@pytest.mark.parametrize("emotion", ["neutral", "calm", "fear"])
def test_uncovered_emotions_are_not_mapped(emotion):
    assert PAPER4.class_of(emotion) is None
    assert SIX.class_of(emotion) is None


def test_apply_scheme_reports_excluded_emotions():
    index = pd.DataFrame({"emotion": ["anger", "neutral", "fear", "neutral", "happiness"]})
    applied = apply_scheme(index, "paper4")
    assert applied.index["label"].tolist() == ["upset", "happy"]
    assert applied.excluded == {"neutral": 2, "fear": 1}
    assert "2 neutral" in applied.describe_excluded()


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Happy", "happiness"),
        ("ANGRY", "anger"),
        (" surprised ", "surprise"),
        ("fearful", "fear"),
        ("SAD", "sadness"),
        ("contempt", "contempt"),
    ],
)
def test_normalize_emotion_accepts_common_spellings(raw, canonical):
    assert normalize_emotion(raw) == canonical


def test_unknown_emotion_and_scheme_are_clear_errors():
    with pytest.raises(UnknownEmotionError, match="unknown emotion 'boredom'"):
        normalize_emotion("boredom")
    with pytest.raises(ValueError, match="choose one of paper4, six"):
        get_scheme("seven")
