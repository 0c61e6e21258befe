import av
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fer_audit.data import synthetic
from fer_audit.data.index import SYNTHETIC_MARKER
from fer_audit.data.registry import register_dataset
from fer_audit.data.sasefe import CODES, read_sasefe
from fer_audit.data.synthetic import PlantedBias, SyntheticSettings
from fer_audit.data.synthetic.render import _vector_from

SMALL = SyntheticSettings(
    subjects_per_group={"female": 3, "male": 3}, seed=1, size=64, fps=10, duration_s=1.2
)


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    info = synthetic.generate(out, SMALL)
    return out, info


def test_output_is_what_the_sasefe_adapter_expects(small_dataset):
    out, info = small_dataset
    result = read_sasefe(out)
    index = result.index
    assert result.skipped == [] and result.notes == []
    assert len(index) == 6 * 12
    assert index.groupby("subject")["path"].count().eq(12).all()
    assert index.groupby("subject")["gender"].first().value_counts().to_dict() == {
        "female": 3,
        "male": 3,
    }
    assert info["synthetic"] is True and "SYNTHETIC" in info["note"]
    assert info["planted_biases"][0]["description"] == (
        "for female subjects 75% of sadness videos show one of the anger, disgust or "
        "contempt expressions (still labelled sadness)"
    )
    shown = info["displayed_as_other"]
    assert shown and set(shown.values()) <= {"anger", "disgust", "contempt"}
    female = {s for s, v in info["subjects"].items() if v["gender"] == "female"}
    assert all(
        key.split("/")[0] in female and key.split("/")[1] in ("N2S", "H2N2S") for key in shown
    )


def test_videos_decode_with_the_settings(small_dataset):
    out, _ = small_dataset
    with av.open(str(out / "S01" / "N2H.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 12
    assert frames[0].shape == (64, 64, 3)
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1  # expression moves


def test_registered_dataset_is_marked_synthetic(small_dataset, workspace):
    out, _ = small_dataset
    dataset, _ = register_dataset(workspace, "synth", out, kind="sasefe")
    assert dataset.synthetic
    assert dataset.meta["synthetic_info"]["planted_biases"][0]["group"] == "female"
    assert (out / SYNTHETIC_MARKER).exists()


def test_planted_bias_scales_only_its_group_and_emotion():
    settings = SyntheticSettings(biases=(PlantedBias("female", "sadness", 0.4),))
    subjects = {s.gender: s for s in synthetic.make_subjects(settings)}
    female, male = subjects["female"], subjects["male"]

    def peak(subject, code):
        track = synthetic.expression_track(subject, code, settings, 50)
        rest = _vector_from(subject.resting)
        return np.abs(track[-1] - rest).sum() / subject.intensity

    assert peak(female, "N2S") == pytest.approx(0.4 * peak(male, "N2S"))
    assert peak(female, "N2H") == pytest.approx(peak(male, "N2H"))


def test_display_bias_shows_another_expression_under_the_same_label():
    bias = PlantedBias("female", "sadness", 1.0, shown_as="anger")
    settings = SyntheticSettings(biases=(bias,))
    subjects = {s.gender: s for s in synthetic.make_subjects(settings)}
    female, male = subjects["female"], subjects["male"]
    unbiased = SyntheticSettings(biases=())

    def peak(subject, code, settings):
        return synthetic.expression_track(subject, code, settings, 50)[-1]

    assert np.allclose(peak(female, "N2S", settings), peak(female, "N2A", unbiased))
    assert np.allclose(peak(male, "N2S", settings), peak(male, "N2S", unbiased))
    assert np.allclose(peak(female, "N2H", settings), peak(female, "N2H", unbiased))
    none_shown = PlantedBias("female", "sadness", 0.0, shown_as="anger")
    assert not synthetic.displays_other(female, "N2S", none_shown, seed=0)


def test_generation_is_seeded_and_refuses_to_overwrite(small_dataset, tmp_path):
    out, _ = small_dataset
    with pytest.raises(FileExistsError):
        synthetic.generate(out, SMALL)
    subject = synthetic.make_subjects(SMALL)[0]
    again = synthetic.render_video(subject, "N2A", SMALL)
    assert np.array_equal(again, synthetic.render_video(subject, "N2A", SMALL))


def test_bias_parsing():
    assert PlantedBias.parse("Female:Sadness:0.4") == PlantedBias("female", "sadness", 0.4)
    assert PlantedBias.parse("female:sadness:0.75:Anger+disgust+contempt") == (
        synthetic.DEFAULT_BIAS
    )
    assert PlantedBias.parse("female:sadness:0.5:anger").shown == ("anger",)
    bad_ones = (
        "female:sadness",
        "female:boredom:0.4",
        "female:sadness:5",
        "female:sadness:1.5:anger",  # a share above 1
        "female:sadness:0.5:sadness",
        "female:sadness:0.5:boredom",
        "female:sadness:0.5:anger+sadness",
        "a:b:c:d:e",
    )
    for bad in bad_ones:
        with pytest.raises(ValueError):
            PlantedBias.parse(bad)
    with pytest.raises(ValueError, match="not one of the generated groups"):
        synthetic.generate(
            "unused",
            SyntheticSettings(
                subjects_per_group={"a": 1}, biases=(PlantedBias("female", "sadness", 0.4),)
            ),
        )


def test_emotions_are_learnable_across_subjects():
    """A linear model on (last frame - first frame), trained on 11 subjects, reads the
    emotion of 5 others: the data carries a signal that generalises across faces."""
    settings = SyntheticSettings(
        subjects_per_group={"female": 8, "male": 8},
        biases=(),
        seed=2,
        size=32,
        fps=8,
        duration_s=1.0,
    )
    subjects = synthetic.make_subjects(settings)
    features, labels, owners = [], [], []
    for subject in subjects:
        for code, (emotion, _) in CODES.items():
            frames = synthetic.render_video(subject, code, settings).mean(axis=3) / 255.0
            features.append((frames[-1] - frames[0]).ravel())
            labels.append(emotion)
            owners.append(subject.name)
    features, labels, owners = np.array(features), np.array(labels), np.array(owners)
    train = np.isin(owners, [s.name for s in subjects[:11]])
    model = LogisticRegression(max_iter=3000).fit(features[train], labels[train])
    accuracy = (model.predict(features[~train]) == labels[~train]).mean()
    assert accuracy > 0.7  # chance is 1/6
