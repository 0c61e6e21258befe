"""Bounded memory for any clip (issue #11): decoding streams (no frame is held), the
keyframes and the frames read for them are those of the in-memory path on the real
sample clips, and clips beyond the cap are `too_long` with a readable reason."""

import shutil
import sys
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from bench_memory import reference_frames  # every decoded frame held, as before streaming

from conftest import widget
from fer_audit.data.samples import VIDEOS
from fer_audit.predict import predict_clip
from fer_audit.video.clip import process_clip
from fer_audit.video.decode import MAX_CLIP_SECONDS, clock, decode
from fer_audit.video.faces import WholeFrame, square_crop
from fer_audit.video.keyframes import select_keyframes
from fer_audit.video.settings import PreprocessSettings

NONE = PreprocessSettings(k=10, margin=0, size=32, detector="none")


def write_clip(path: Path, n_frames: int, fps: float, size=(320, 240)) -> Path:
    """A clip of moving stripes (each frame differs from the one before), H.264."""
    width, height = size
    x = np.arange(width)[None, :] + np.arange(height)[:, None]
    patterns = []  # 64 distinct frames, cycled (drawing each frame anew took seconds)
    for i in range(min(n_frames, 64)):
        grey = ((x + 3 * i) % 64 * 4).astype(np.uint8)
        rgb = np.stack([grey, np.roll(grey, 5 * i % width, axis=1), grey[::-1]], axis=-1)
        patterns.append(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for i in range(n_frames):
            for packet in stream.encode(patterns[i % len(patterns)]):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def peak_growth_mb(function):
    """(function's result, the most resident memory grew while it ran, in MB)."""
    start, peak, running = _rss_mb(), [0.0], [True]

    def sample():
        while running[0]:
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = function()
    finally:
        running[0] = False
        sampler.join()
    return result, max(peak[0], _rss_mb()) - start


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_decoding_a_long_clip_keeps_no_frame(tmp_path):
    # 3000 frames of 320x240: holding them as decoded (YUV) would take 330 MB
    clip = write_clip(tmp_path / "long.mp4", 3000, 25)
    decode(write_clip(tmp_path / "short.mp4", 30, 25))  # warm up (libraries, thread pools)
    video, growth = peak_growth_mb(lambda: decode(clip))
    assert video.n_frames == 3000 and not hasattr(video, "frames")
    assert video.thumbnails.nbytes < 3000 * 1000  # a thumbnail is 24 x 32 pixels
    assert growth < 60, f"decoding 3000 frames grew memory by {growth:.0f} MB"
    keys = select_keyframes(video.thumbnails, video.times, k=20)
    frames, growth = peak_growth_mb(lambda: video.rgb_frames(keys))
    assert len(frames) == 20 and frames[0].shape == (240, 320, 3)
    assert growth < 60, f"reading 20 keyframes grew memory by {growth:.0f} MB"


def test_keyframes_read_again_are_the_frames_decoded_first(tmp_path):
    clip = write_clip(tmp_path / "wide.mp4", 60, 10, size=(320, 160))
    video = decode(clip, max_side=200)  # read downscaled (reformatted) frames
    assert (video.width, video.height) == (200, 100) and "read at 200x100" in video.notes[0]
    frames = video.rgb_frames([59, 3, 3, 30])  # any order, repeats
    assert [f.shape for f in frames] == [(100, 200, 3)] * 4
    assert np.array_equal(frames[1], frames[2]) and not np.array_equal(frames[0], frames[1])
    with pytest.raises(IndexError):
        video.rgb_frames([60])


class Recorder(WholeFrame):
    """The whole frame as the face; remembers every frame it was shown."""

    def __init__(self):
        self.frames = []

    def detect(self, frames):
        self.frames += [np.array(f) for f in frames]
        return super().detect(frames)


SLOW = pytest.mark.slow


@pytest.mark.network
@pytest.mark.parametrize(
    "name",
    # two clips by default (a face throughout; a face that leaves); all five when slow
    [
        n if n in ("single_face.mp4", "face_noface.mov") else pytest.param(n, marks=SLOW)
        for n in VIDEOS
    ],
)
def test_keyframes_and_their_frames_match_the_in_memory_path(sample_set, name):
    path = sample_set.video(name)
    times, thumbs, rgb = reference_frames(path)
    for k in (10, 20, 50):
        settings = PreprocessSettings(**{**NONE.__dict__, "k": k})
        recorder = Recorder()
        result = process_clip(path, settings, detector=recorder)
        keys = select_keyframes(thumbs, times, k=k)
        assert np.array_equal(result.frame_numbers, keys), (name, k)
        assert np.array_equal(result.times, times[keys])
        assert result.n_frames == len(rgb)
        assert len(recorder.frames) == k
        assert all(
            np.array_equal(seen, rgb[i]) for seen, i in zip(recorder.frames, keys, strict=True)
        )
    # the paper order: K-means on every frame's (here whole-frame) crop
    paper = PreprocessSettings(**{**NONE.__dict__, "mode": "paper"})
    result = process_clip(path, paper)
    whole = [np.array([0, 0, f.shape[1], f.shape[0]], float) for f in rgb]
    crops = [square_crop(f, b, margin=0, size=32) for f, b in zip(rgb, whole, strict=True)]
    features = np.stack([cv2.resize(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), (32, 32)) for c in crops])
    keys = select_keyframes(features, times, k=10)
    assert np.array_equal(result.frame_numbers, keys)
    assert np.array_equal(result.crops, np.stack([crops[i] for i in keys]))


def test_a_detector_failure_in_the_paper_order_is_not_called_unreadable(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", 30, 10, size=(64, 48))

    class Broken:
        def detect(self, frames):
            raise RuntimeError("detector bug")

    with pytest.raises(RuntimeError, match="detector bug"):
        process_clip(
            clip, PreprocessSettings(**{**NONE.__dict__, "mode": "paper"}), detector=Broken()
        )


def test_clock():
    assert [clock(s) for s in (0, 59.6, 750, 600, 3725)] == [
        "0:00",
        "1:00",
        "12:30",
        "10:00",
        "1:02:05",
    ]


def test_a_clip_beyond_the_cap_is_too_long_with_a_readable_reason(tmp_path):
    clip = write_clip(tmp_path / "30s.mp4", 60, 2, size=(64, 48))  # 30 s at 2 fps
    stated = process_clip(clip, NONE, max_seconds=20)  # the header says 30 s: no decoding
    assert stated.status == "too_long"
    assert stated.reason == "the file says the clip is 0:30 long; fer-audit reads clips up to 0:20"
    decoded = process_clip(clip, NONE, max_seconds=29.2)  # within the header's slack
    assert decoded.status == "too_long"
    assert decoded.reason == "clip is over 0:29 long; fer-audit reads clips up to 0:29"
    frames = process_clip(clip, NONE, max_frames=50)
    assert frames.status == "too_long" and "over 50 frames" in frames.reason
    assert process_clip(clip, NONE, max_seconds=30, max_frames=60).status == "ok"
    assert process_clip(clip, NONE).status == "ok"  # dataset preprocessing: no cap
    calls = []

    def load(workspace, ref):
        calls.append(ref)
        return (
            {"arch": "none", "run_id": ref},
            None,
            PreprocessSettings(**{**NONE.__dict__, "k": int(ref)}),
        )

    result = predict_clip(
        clip, ["10", "20"], workspace=None, load=load, max_seconds=20, device="cpu"
    )
    assert {r["status"] for r in result["runs"].values()} == {"too_long"}
    assert result["runs"]["20"]["reason"] == stated.reason
    assert calls == ["10", "20"]


@pytest.mark.network
def test_the_live_demo_names_a_clip_beyond_ten_minutes(tmp_path, fer_model, monkeypatch, workspace):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    monkeypatch.setenv("FER_AUDIT_DATA_ROOTS", str(tmp_path))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    shutil.copytree(fer_model, tmp_path / "checkpoints" / "fermini")
    minutes = MAX_CLIP_SECONDS / 60 + 1
    clip = write_clip(tmp_path / "long.mp4", int(minutes * 60), 1, size=(32, 32))
    demo = Path(__file__).resolve().parent.parent / "app_pages" / "demo.py"
    app = AppTest.from_file(str(demo), default_timeout=120).run()
    widget(app.radio, "Clip").set_value("upload a clip").run()
    upload = widget(app.get("file_uploader"), key="clip_upload")
    upload.set_value(("long.mp4", clip.read_bytes(), "video/mp4")).run()
    assert not app.exception
    message = app.error[0].value
    assert f"clip is {clock(minutes * 60)} long" in message
    assert f"fer-audit reads clips up to {clock(MAX_CLIP_SECONDS)}" in message
