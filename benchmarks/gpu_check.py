"""GPU check: a training step and inference of each architecture on CUDA with mixed
precision, and the live-demo path (decode, keyframes, MTCNN, fer model) on a 10 s
640x360 clip built from a real sample clip.

Prints one JSON object. Where no CUDA device is present it says so and exits 0.
Run it on a machine with a GPU: `.venv/bin/python benchmarks/gpu_check.py`.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch


def time_cuda(function, repeats: int = 5) -> float:
    function()  # warm-up (cuDNN autotuning, allocations)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def architectures(batch: int, frames: int) -> dict:
    from fer_audit.models import MODELS, create_model

    results = {}
    for name, spec in MODELS.items():
        model = create_model(name, 4).cuda()
        clips = torch.randint(
            0, 256, (batch, frames, 3, spec.input_size, spec.input_size), device="cuda"
        ).float()
        labels = torch.randint(0, 4, (batch,), device="cuda")
        optimiser = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=0.9)
        scaler = torch.amp.GradScaler("cuda")

        def step(model=model, clips=clips, labels=labels, optimiser=optimiser, scaler=scaler):
            with torch.autocast("cuda", dtype=torch.float16):
                loss = torch.nn.functional.cross_entropy(model(clips), labels)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()

        def infer(model=model, clips=clips):
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
                model(clips)

        model.train()
        train_s = time_cuda(step)
        model.eval()
        infer_s = time_cuda(infer)
        results[name] = {
            "train_step_s": round(train_s, 4),
            "inference_s": round(infer_s, 4),
            "clips_per_s_inference": round(batch / infer_s, 1),
            "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        }
        del model, optimiser
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return results


def live_demo(device: str = "cuda") -> dict:
    import av

    from fer_audit.data.samples import fetch_samples
    from fer_audit.data.synthetic import write_video
    from fer_audit.models.fermini import import_fer
    from fer_audit.train.inference import load_any_run
    from fer_audit.video.clip import make_detector, process_clip

    samples = fetch_samples()
    with av.open(str(samples.video("single_face.mp4"))) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    import numpy as np

    looped = np.stack([frames[i % len(frames)] for i in range(300)])  # 10 s at 30 fps
    with tempfile.TemporaryDirectory() as tmp:
        clip_path = Path(tmp) / "demo.mp4"
        write_video(clip_path, looped, 30)
        _, fer, settings = load_any_run(None, import_fer(Path(tmp) / "fermini"))
        fer = fer.to(device)
        detector = make_detector(settings, device)
        start = time.perf_counter()
        with av.open(str(clip_path)) as container:
            for frame in container.decode(video=0):
                frame.to_ndarray(format="rgb24")
        decode_s = time.perf_counter() - start
        process_clip(clip_path, settings, detector=detector)  # warm-up
        start = time.perf_counter()
        result = process_clip(clip_path, settings, detector=detector)
        crops = torch.from_numpy(result.crops).permute(0, 3, 1, 2)[None].float().to(device)
        with torch.no_grad():
            fer(crops).softmax(-1)
        if device == "cuda":
            torch.cuda.synchronize()
        total_s = time.perf_counter() - start
    return {
        "clip": "10 s, 640x360, 30 fps",
        "decode_s": round(decode_s, 3),
        "clip_to_prediction_s": round(total_s, 3),
        "ratio_to_decode": round(total_s / decode_s, 2),
        "status": result.status,
    }


def main() -> int:
    if "--cpu-demo" in sys.argv:  # the live-demo path on the CPU, for comparison
        print(json.dumps({"cuda": False, "live_demo_cpu": live_demo("cpu")}))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"cuda": False, "message": "no CUDA device present; nothing timed"}))
        return 0
    batch, frames = 12, 20
    print(
        json.dumps(
            {
                "cuda": True,
                "device": torch.cuda.get_device_name(0),
                "torch": torch.__version__,
                "batch": batch,
                "keyframes": frames,
                "precision": "float16 autocast",
                "architectures": architectures(batch, frames),
                "live_demo": live_demo(),
                "machine": f"{platform.machine()}, {platform.python_version()}",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
