"""One clip through one or more models: the live demo's and `fer-audit predict`'s path.

A run is a training run id in the workspace, or a run folder (such as the imported
`checkpoints/fermini`). The clip is preprocessed with each run's own settings
(keyframes, face crops), then the run's model gives per-keyframe and video-level
class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fer_audit import atomic
from fer_audit.evaluate import load_run
from fer_audit.models.fermini import FER_CLASSES, load_fer_run
from fer_audit.video.clip import PreprocessSettings, process_clip
from fer_audit.video.decode import Source
from fer_audit.video.faces import resolve_device

#: keyframes and crops for the imported FER2013 model (it expects a tight face)
FERMINI_SETTINGS = PreprocessSettings(k=20, margin=25, size=96)


def load_any_run(workspace, ref: str | Path):
    """(run.json, model, preprocessing settings) of a run id or a run folder."""
    folder = Path(ref)
    if (folder / "run.json").exists():
        meta = atomic.read_json(folder / "run.json")
        if meta.get("arch") == "fermini":
            return meta, load_fer_run(folder), FERMINI_SETTINGS
        ref = folder.name
    meta, model = load_run(workspace, str(ref))
    return meta, model, PreprocessSettings(**meta["preprocessing"])


def predict_clip(
    source: Source, refs: list[str | Path], *, workspace, device: str = "auto"
) -> dict:
    """{"runs": {run: {status, reason, classes, video_probabilities, keyframe_probabilities,
    frame_numbers, times, prediction}}}; a clip that cannot be read gets its status."""
    device = resolve_device(device)
    out = {"runs": {}}
    clips: dict[PreprocessSettings, object] = {}
    for ref in refs:
        meta, model, settings = load_any_run(workspace, ref)
        if settings not in clips:
            clips[settings] = process_clip(source, settings)
        clip = clips[settings]
        entry = {
            "status": clip.status,
            "reason": clip.reason,
            "arch": meta["arch"],
            "synthetic": bool(meta.get("synthetic")),
        }
        if clip.ok:
            entry |= _probabilities(model.to(device), clip, meta, device)
        out["runs"][meta.get("run_id", str(ref))] = entry
    return out


def _probabilities(model, clip, meta: dict, device: str) -> dict:
    classes = list(meta.get("classes") or FER_CLASSES)
    frames = torch.from_numpy(clip.crops).permute(0, 3, 1, 2)[None].float().to(device)
    model.eval()
    with torch.no_grad():
        video = model(frames).float().softmax(-1)[0].cpu().numpy()
        per_frame = (
            model.frame_probabilities(frames)[0].cpu().numpy()
            if hasattr(model, "frame_probabilities")
            else None
        )
    return {
        "classes": classes,
        "video_probabilities": {c: round(float(p), 6) for c, p in zip(classes, video, strict=True)},
        "prediction": classes[int(np.argmax(video))],
        "keyframe_probabilities": None if per_frame is None else per_frame.round(6).tolist(),
        "frame_numbers": clip.frame_numbers.tolist(),
        "times": [round(float(t), 3) for t in clip.times],
    }
