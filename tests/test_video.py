"""Video preprocessing: real sample clips, keyframe windows, bad inputs, the cache."""

from pathlib import Path

import numpy as np
import pytest

from conftest import synthetic_workspace
from fer_audit.commands import preprocess_argv
from fer_audit.data.registry import register_dataset
from fer_audit.data.synthetic import write_video
from fer_audit.video.augment import Augment, apply
from fer_audit.video.batch import Shard, build_report, load_clip, preprocess_dataset
from fer_audit.video.cache import ClipCache, content_hash
from fer_audit.video.clip import make_detector, process_clip
from fer_audit.video.faces import square_crop
from fer_audit.video.keyframes import select_keyframes, windows
from fer_audit.video.settings import PreprocessSettings

FAST = PreprocessSettings(k=20, margin=40, size=96)
NONE = PreprocessSettings(k=10, margin=0, size=48, detector="none")


@pytest.fixture(scope="module")
def detector():
    return make_detector(FAST, "cpu")


@pytest.mark.network
@pytest.mark.parametrize("name", ["single_face.mp4", "WolfgangLanger_Pexels.mp4"])
def test_a_face_in_every_keyframe_of_the_face_clips(sample_set, detector, name):
    result = process_clip(sample_set.video(name), FAST, detector=detector)
    assert result.status == "ok", result.reason
    assert result.face_found.all() and (result.probabilities > 0.9).all()
    assert result.crops.shape == (20, 96, 96, 3) and result.crops.dtype == np.uint8
    assert np.all(np.diff(result.frame_numbers) > 0)  # time order, distinct
    assert np.all(np.diff(result.times) > 0)
    x1, y1, x2, y2 = result.boxes.T
    assert (x2 > x1).all() and (y2 > y1).all() and (x2 <= result.width + 5).all()


@pytest.mark.network
def test_no_face_clip_is_reported(sample_set, detector):
    result = process_clip(sample_set.video("no_face.mp4"), FAST, detector=detector)
    assert result.status == "no_face"
    assert "no face in any of the 20 keyframes" in result.reason
    assert result.crops is None


@pytest.mark.network
def test_a_clip_with_a_face_in_few_keyframes_is_no_face(sample_set, detector):
    result = process_clip(sample_set.video("face_noface.mov"), FAST, detector=detector)
    assert result.status == "no_face"
    assert result.reason.startswith("a face in only")


@pytest.fixture(scope="module")
def short_face_clip(sample_set, tmp_path_factory) -> Path:
    """The first 24 frames of the real single_face.mp4 (MTCNN on every frame of all 72
    takes 14 s; on these, a third of it)."""
    import av

    path = tmp_path_factory.mktemp("short") / "single_face_24.mp4"
    with (
        av.open(str(sample_set.video("single_face.mp4"))) as source,
        av.open(str(path), "w") as target,
    ):
        stream = target.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for number, frame in enumerate(source.decode(video=0)):
            if number == 24:
                break
            target.mux(stream.encode(frame.reformat(format="yuv420p")))
        target.mux(stream.encode())
    return path


@pytest.mark.network
def test_paper_mode_runs_mtcnn_on_every_frame_then_kmeans(short_face_clip):
    settings = PreprocessSettings(k=10, size=64, mode="paper")
    result = process_clip(short_face_clip, settings)
    assert result.n_frames == 24
    assert result.status == "ok" and len(result.frame_numbers) == 10
    assert result.face_found.all() and np.all(np.diff(result.frame_numbers) > 0)


@pytest.mark.network
def test_k_variants_respect_their_windows(sample_set):
    path = sample_set.video("WolfgangLanger_Pexels.mp4")  # 472 frames at 23.98 fps
    none = PreprocessSettings(detector="none", size=32)
    for k in (10, 20, 50):
        result = process_clip(path, PreprocessSettings(**{**none.__dict__, "k": k}))
        assert result.status == "ok" and len(result.frame_numbers) == k
        assert len(set(result.frame_numbers)) == k
    k20 = process_clip(path, PreprocessSettings(**{**none.__dict__, "k": 20}))
    assert (k20.times >= 1.0).all()
    k50 = process_clip(path, PreprocessSettings(**{**none.__dict__, "k": 50}))
    half = k50.n_frames // 2
    assert (k50.frame_numbers < half).sum() == 20 and (k50.frame_numbers >= half).sum() == 30


def test_windows_and_too_short():
    times = np.arange(40) / 20  # 2 s at 20 fps
    ((window, count),) = windows(times, 20)
    assert count == 20 and window[0] == 20  # the first second is skipped
    features = np.random.default_rng(0).random((40, 8))
    with pytest.raises(Exception, match="K=20 needs 20 frames"):
        select_keyframes(features[:30], times[:30], k=20)
    picked = select_keyframes(features, times, k=10)
    assert len(set(picked)) == 10 and np.all(np.diff(picked) > 0)


def test_bad_inputs_get_a_status_and_a_reason(tmp_path):
    frames = np.zeros((30, 64, 64, 3), np.uint8)
    frames[:, 20:40, 20:40] = np.arange(30)[:, None, None, None] * 8
    good = tmp_path / "good.mp4"
    write_video(good, frames, 10)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    (tmp_path / "truncated.mp4").write_bytes(good.read_bytes()[:300])
    write_video(tmp_path / "one.mp4", frames[:1], 10)
    expected = {
        "empty.mp4": "unreadable",
        "text.mp4": "unreadable",
        "truncated.mp4": "unreadable",
        "one.mp4": "too_short",
        "good.mp4": "ok",
    }
    for name, status in expected.items():
        result = process_clip(tmp_path / name, NONE)
        assert result.status == status, (name, result.reason)
        assert status == "ok" or result.reason
    assert process_clip(b"", NONE).status == "unreadable"
    from_bytes = process_clip(good.read_bytes(), NONE)
    assert from_bytes.status == "ok" and from_bytes.times[0] >= 0
    assert process_clip(tmp_path / "one.mp4", NONE).n_frames == 1
    assert str(tmp_path) not in process_clip(tmp_path / "missing.mp4", NONE).reason


def test_an_unexpected_decoder_failure_is_unreadable_not_a_crash(tmp_path, monkeypatch):
    import fer_audit.video.clip as clip_module

    def broken(source, **options):
        raise ValueError("all input arrays must have the same shape")

    monkeypatch.setattr(clip_module, "decode", broken)
    result = process_clip(tmp_path / "any.mp4", NONE)
    assert result.status == "unreadable"
    assert result.reason == "decoding failed: ValueError: all input arrays must have the same shape"


def test_cuda_without_a_gpu_is_a_clear_error():
    import torch

    from fer_audit.video.faces import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


def test_square_crop_follows_the_facenet_margin():
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[50:150, 100:200] = 255  # a 100-pixel "face"
    box = np.array([100, 50, 200, 150], float)
    tight = square_crop(frame, box, margin=0, size=100)
    assert tight.mean() == pytest.approx(255, abs=3)
    wide = square_crop(frame, box, margin=128, size=200)  # 100 * (1 + 128/128) = 200 px
    assert wide[100, 100].tolist() == [255, 255, 255] and wide[5, 5].tolist() == [0, 0, 0]
    edge = square_crop(frame, np.array([250, 0, 300, 50], float), margin=65, size=64)
    assert edge.shape == (64, 64, 3)


@pytest.fixture
def synthetic_dataset(workspace, tmp_path):
    return synthetic_workspace(workspace, tmp_path / "syn", per_group=2, duration_s=1.6)


def test_cache_resumes_after_an_interrupted_run(synthetic_dataset):
    workspace = synthetic_dataset

    def stop_after_three(done, total, video_id, status):
        if done == 3:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        preprocess_dataset(workspace, "syn", NONE, progress=stop_after_three)
    report = build_report(workspace, "syn", NONE)
    assert (report["status"] == "ok").sum() == 3
    assert (report["status"] == "pending").sum() == 45
    # a half-written entry (crops without the status that commits them) is redone
    half = report[report["status"] == "pending"].iloc[0]
    cache = ClipCache(workspace.cache_dir, NONE)
    (cache.folder / f"{half['content_sha256']}.npz").write_bytes(b"half")
    summary = preprocess_dataset(workspace, "syn", NONE)
    assert summary.skipped == 3 and summary.processed == 45
    assert summary.statuses == {"ok": 48}
    final = build_report(workspace, "syn", NONE)
    assert (final["status"] == "ok").all()
    clip = load_clip(workspace, workspace.root.parent / "syn" / half["path"], NONE)
    assert clip.crops.shape == (10, 48, 48, 3)


def test_shards_cover_the_dataset_exactly_once(synthetic_dataset, monkeypatch):
    workspace = synthetic_dataset
    from fer_audit.data.registry import load_dataset

    index = load_dataset(workspace, "syn").index
    taken = [Shard(i, 3).take(index)["video_id"].tolist() for i in range(3)]
    assert sorted(sum(taken, [])) == sorted(index["video_id"])
    assert len(set(sum(taken, []))) == len(index)
    first = preprocess_dataset(workspace, "syn", NONE, shard=Shard(0, 2))
    assert first.processed == 24
    assert (build_report(workspace, "syn", NONE)["status"] == "pending").sum() == 24
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    assert Shard.parse(None) == Shard(1, 2)
    monkeypatch.setenv("SLURM_ARRAY_TASK_STEP", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert Shard.parse(None) == Shard(1, 2)  # --array=1-3:2 -> tasks 1 and 3
    monkeypatch.delenv("SLURM_ARRAY_TASK_STEP")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    second = preprocess_dataset(workspace, "syn", NONE, shard=Shard.parse(None))
    assert second.processed == 24 and second.skipped == 0
    assert (build_report(workspace, "syn", NONE)["status"] == "ok").all()
    with pytest.raises(ValueError, match="need 0 <= I < N"):
        Shard.parse("3/3")


def test_workers_give_the_same_cache_as_one_process(synthetic_dataset):
    workspace = synthetic_dataset
    summary = preprocess_dataset(workspace, "syn", NONE, workers=2)
    assert summary.statuses == {"ok": 48}, summary.problems[:3]
    cache = ClipCache(workspace.cache_dir, NONE)
    report = build_report(workspace, "syn", NONE)
    one = report.iloc[0]
    path = workspace.root.parent / "syn" / one["path"]
    assert content_hash(path) == one["content_sha256"]
    again = process_clip(path, NONE)
    assert np.array_equal(cache.load(one["content_sha256"])["frame_numbers"], again.frame_numbers)


def test_augmentation_draws_once_per_clip():
    clip = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    flipped = apply(clip, flip=True, degrees=0.0, brightness=1.0)
    assert np.array_equal(flipped, clip[:, :, ::-1])
    rotated = apply(clip, flip=False, degrees=8.0, brightness=1.3)
    assert rotated.shape == clip.shape and rotated.dtype == np.uint8
    augment = Augment()
    draws = [augment.draw(np.random.default_rng(s)) for s in range(200)]
    assert 0.4 < np.mean([d["flip"] for d in draws]) < 0.6
    assert 0.4 < np.mean([d["degrees"] != 0 for d in draws]) < 0.6
    out = augment(clip, np.random.default_rng(3))
    draw = augment.draw(np.random.default_rng(3))
    assert np.array_equal(out, apply(clip, **draw))


def test_kill_9_mid_run_then_rerun_resumes(synthetic_dataset):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    workspace = synthetic_dataset
    exe = Path(sys.executable).parent / "fer-audit"
    command = [
        str(exe),
        "--workspace",
        str(workspace.root),
        *preprocess_argv("syn", PreprocessSettings(k=10, margin=0, size=48, detector="none")),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    folder = ClipCache(workspace.cache_dir, NONE).folder
    deadline = time.monotonic() + 120
    while len(list(folder.glob("*.json"))) < 5 and time.monotonic() < deadline:
        assert process.poll() is None, "finished before it could be killed"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(folder.glob("*.json")))
    assert 5 <= finished < 48
    summary = preprocess_dataset(workspace, "syn", NONE)
    assert summary.skipped == finished and summary.processed == 48 - finished
    assert (build_report(workspace, "syn", NONE)["status"] == "ok").all()


def test_a_batch_goes_on_past_bad_videos_and_names_them(workspace, tmp_path):
    frames = np.zeros((30, 64, 64, 3), np.uint8)
    frames[:, 20:40, 20:40] = np.arange(30)[:, None, None, None] * 8
    write_video(tmp_path / "good.mp4", frames, 10)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 40)
    (tmp_path / "m.csv").write_text(
        "path,subject,gender,emotion\ngood.mp4,a,f,happy\nempty.mp4,b,m,sad\ntext.mp4,c,f,sad\n"
    )
    register_dataset(workspace, "bad", tmp_path / "m.csv", kind="manifest")
    summary = preprocess_dataset(workspace, "bad", NONE)
    assert summary.statuses == {"ok": 1, "unreadable": 2}
    lines = "\n".join(summary.lines())
    assert "empty.mp4: unreadable: empty file (0 bytes)" in lines
    assert "text.mp4: unreadable: not a readable video" in lines
    again = preprocess_dataset(workspace, "bad", NONE)  # cached failures are listed too
    assert again.skipped == 3 and len(again.problems) == 2
