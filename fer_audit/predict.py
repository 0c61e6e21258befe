"""One clip through one or more models: the live demo's and `fer-audit predict`'s path.

A run is a training run id in the workspace, or a run folder (such as the imported
`checkpoints/fermini`). The clip is preprocessed with each run's own settings
(keyframes, face crops), then the run's model gives per-keyframe and video-level
class probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from fer_audit.errors import DamagedFile, read_all
from fer_audit.labels import SCHEMES, ModelClasses, train_set_order
from fer_audit.models import REGISTRY
from fer_audit.models.importer import imported_folders
from fer_audit.train.inference import load_any_run
from fer_audit.train.runs import read_run_json
from fer_audit.video.clip import process_clip
from fer_audit.video.decode import MAX_CLIP_FRAMES, MAX_CLIP_SECONDS, Source
from fer_audit.video.faces import resolve_device
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import checkpoints_dir


@dataclass(frozen=True)
class ModelChoice:
    """A model the live demo and `predict` can run: a finished run or an imported one."""

    ref: str  # run id, or run folder for imported models
    label: str
    arch: str
    train_set: str
    seed: int | None
    synthetic: bool
    imported: bool


def available_models(
    workspace, *, imported: Path | None = None, damaged: list[DamagedFile] | None = None
) -> list[ModelChoice]:
    """Imported models (run folders under `imported`, default `checkpoints_dir()`: the
    FER2013 model checkpoints/fermini, models imported as ONNX or TorchScript), then
    the workspace's runs that have a model, by architecture, training set and seed. A
    run.json that cannot be read is added to `damaged` when a list is given (the other
    models are listed), else raised (DamagedFile)."""
    imported = imported or checkpoints_dir()
    folders = imported_folders(imported)
    choices = read_all(folders, lambda f: _model_choice(f, str(f.resolve()), "imported"), damaged)
    folders = sorted(p.parent for p in workspace.runs_dir.glob("*/model.pt"))
    runs = read_all(folders, lambda f: _model_choice(f, f.name, None), damaged)
    order = {t: i for i, t in enumerate(train_set_order(str(c.train_set) for c in runs))}
    runs.sort(key=lambda c: (c.arch, order[str(c.train_set)], c.seed or 0, c.ref))
    return choices + runs


def _model_choice(folder: Path, ref: str, status: str | None) -> ModelChoice | None:
    """The choice of a run folder whose model file is there (None without a run.json or
    a model); `status` None takes the run's own."""
    meta = read_run_json(folder, required=("arch",))
    if meta is None or not _model_path(folder, meta).exists():
        return None
    return _choice(meta, ref, status or meta.get("status", "?"), imported=status == "imported")


def _choice(meta: dict, ref: str, status: str, *, imported: bool) -> ModelChoice:
    arch, train_set, seed = meta["arch"], meta.get("train_set", ""), meta.get("seed")
    synthetic = bool(meta.get("synthetic"))
    name = meta.get("run_id", "")
    # an imported model is named by its folder (unique there) unless that is its arch
    label = f"{name} · " if imported and name and name != arch else ""
    label += f"{arch} · {train_set}"
    label += f" · seed {seed}" if seed is not None else ""
    label += " · SYNTHETIC-trained" if synthetic else ""
    label += "" if status in ("done", "imported") else f" · {status}"
    return ModelChoice(ref, label, arch, train_set, seed, synthetic, imported)


def _model_path(folder: Path, meta: dict) -> Path:
    spec = REGISTRY.get(meta.get("arch")) if isinstance(meta.get("arch"), str) else None
    return folder / (spec.model_file if spec else "model.pt")


def model_file(workspace, ref: str | Path) -> Path:
    """The model file of a run id or run folder (its mtime keys model caches)."""
    folder = Path(ref)
    if not (folder / "run.json").exists():
        return workspace.run_dir(str(ref)) / "model.pt"
    return _model_path(folder, read_run_json(folder, required=()) or {})


def unmapped_classes(meta: dict) -> dict[str, list[str]]:
    """{label scheme: the model's classes that have no class there} for a model whose
    run.json gives each class's emotion (an imported one), else {}."""
    emotions = meta.get("emotions")
    if not isinstance(emotions, list) or len(emotions) != len(meta["classes"]):
        return {}
    classes = ModelClasses(tuple(meta["classes"]), tuple(emotions))
    return {name: classes.unmapped(scheme) for name, scheme in SCHEMES.items()}


def predict_clip(
    source: Source,
    refs: list[str | Path],
    *,
    workspace,
    device: str = "auto",
    load: Callable = load_any_run,
    keep_clips: bool = False,
    max_seconds: float = MAX_CLIP_SECONDS,
    max_frames: int = MAX_CLIP_FRAMES,
) -> dict:
    """{"runs": {run: {status, reason, classes, video_probabilities, keyframe_probabilities,
    frame_numbers, times, prediction, unmapped}}} (unmapped: per label scheme, the
    classes of an imported model that have no class there); a clip that cannot be read
    gets its status, one longer than `max_seconds` or `max_frames` (default 10 minutes,
    36,000 frames) is `too_long`.

    `load(workspace, ref)` gives (run.json, model, settings) (pass a cached loader to
    reuse models); with `keep_clips`, "clips" maps each run to its ClipResult."""
    device = resolve_device(device)
    out: dict = {"runs": {}, "device": device}
    clips: dict[PreprocessSettings, object] = {}
    kept = {}
    for ref in refs:
        meta, model, settings = load(workspace, ref)
        if settings not in clips:
            # a clip that cannot be read, or is too long, is so for every setting
            unusable = [c for c in clips.values() if c.status in ("unreadable", "too_long")]
            if unusable:
                clips[settings] = unusable[0]
            else:
                clips[settings] = process_clip(
                    source,
                    settings,
                    previews=keep_clips,
                    max_seconds=max_seconds,
                    max_frames=max_frames,
                )
        clip = clips[settings]
        entry = {
            "status": clip.status,
            "reason": clip.reason,
            "arch": meta["arch"],
            "synthetic": bool(meta.get("synthetic")),
            "unmapped": unmapped_classes(meta),
        }
        if clip.ok:
            entry |= _probabilities(model.to(device), clip, meta, device)
        run = meta.get("run_id", str(ref))
        out["runs"][run] = entry
        kept[run] = clip
    if keep_clips:
        out["clips"] = kept
    return out


def boxed_keyframes(clip) -> list[np.ndarray]:
    """The clip's keyframe previews with the face box drawn (green: detected; orange:
    borrowed from the nearest keyframe with a face)."""
    frames = []
    for preview, box, found in zip(
        clip.previews, clip.preview_boxes, clip.face_found, strict=False
    ):
        frame = preview.copy()
        if np.isfinite(box).all():
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            colour = (46, 204, 64) if found else (255, 133, 27)
            cv2.rectangle(frame, (x0, y0), (x1, y1), colour, max(1, frame.shape[1] // 160))
        frames.append(frame)
    return frames


def _probabilities(model, clip, meta: dict, device: str) -> dict:
    classes = list(meta["classes"])  # the loader fills in an imported model's (its spec)
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
