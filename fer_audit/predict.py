"""One clip through one or more models: the live demo's and `fer-audit predict`'s path.

A run is a training run id in the workspace, or a run folder (such as the imported
`checkpoints/fermini`). The clip is preprocessed with each run's own settings
(keyframes, face crops), then the run's model gives per-keyframe and video-level
class probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from fer_audit.labels import SCHEMES, ModelClasses
from fer_audit.model_choices import ModelChoice as ModelChoice  # re-exported
from fer_audit.model_choices import available_models as available_models  # re-exported
from fer_audit.model_choices import model_path
from fer_audit.train.inference import load_any_run
from fer_audit.train.runs import read_run_json
from fer_audit.video.clip import MIN_FACE_SHARE, ClipResult, process_clip
from fer_audit.video.decode import MAX_CLIP_FRAMES, MAX_CLIP_SECONDS, Source
from fer_audit.video.faces import FaceDetector, resolve_device
from fer_audit.video.settings import PreprocessSettings

#: statuses that one model's reading of a clip may have and another's not
_PER_MODEL = ("ok", "no_face")
#: what a clip that no model can read is, by status
_CLIP_PROBLEMS = {"too_long": "is too long", "too_short": "is too short"}


def model_file(workspace, ref: str | Path) -> Path:
    """The model file of a run id or run folder (its mtime keys model caches)."""
    folder = Path(ref)
    if not (folder / "run.json").exists():
        return workspace.run_dir(str(ref)) / "model.pt"
    return model_path(folder, read_run_json(folder, required=()) or {})


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
    frame_numbers, times, prediction, unmapped, whole_frame, warning}}, "faces": ...}
    (unmapped: per label scheme, the classes of an imported model that have no class
    there; whole_frame: the model reads whole frames, not face crops; warning: what its
    numbers mean when the clip shows no face, else None; faces: `face_check`'s verdict);
    a clip that cannot be read gets its status, one longer than `max_seconds` or
    `max_frames` (default 10 minutes, 36,000 frames) is `too_long`.

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
                    # a whole-frame reading's keyframes are checked for a face
                    previews=keep_clips or settings.detector == "none",
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
            "whole_frame": settings.detector == "none",
        }
        if clip.ok:
            entry |= _probabilities(model.to(device), clip, meta, device)
        run = meta.get("run_id", str(ref))
        out["runs"][run] = entry
        kept[run] = clip
    out["faces"] = face_check(clips, device)
    for entry in out["runs"].values():
        entry["warning"] = face_warning(out["faces"], entry)
    if keep_clips:
        out["clips"] = kept
    return out


def face_check(clips: dict[PreprocessSettings, ClipResult], device: str = "auto") -> dict | None:
    """Whether the clip shows a face, as {"keyframes", "with_face", "face"}: the
    face-found flags of the first reading made with a face detector, else MTCNN run on
    the keyframes of a whole-frame reading (its previews); "face" is False below
    MIN_FACE_SHARE of keyframes with a face. None when no reading has keyframes (the
    clip could not be read)."""
    for settings, clip in clips.items():
        if settings.detector != "none" and clip.status in _PER_MODEL and len(clip.face_found):
            return _face_verdict(clip.face_found)
    for clip in clips.values():
        if clip.previews:
            detections = FaceDetector(device, detect_width=None).detect(clip.previews)
            return _face_verdict(np.array([d.box is not None for d in detections]))
    return None


def _face_verdict(found: np.ndarray) -> dict:
    keyframes, with_face = len(found), int(np.sum(found))
    return {
        "keyframes": keyframes,
        "with_face": with_face,
        "face": with_face >= MIN_FACE_SHARE * keyframes,
    }


def face_warning(faces: dict | None, entry: dict) -> str | None:
    """What a model's result means on a clip where no face was found (`face_check`):
    a face-crop model gives none; any other reading is of frames without a face. None
    when a face was found, or the model could not read the clip at all."""
    if faces is None or faces["face"] or entry["status"] not in _PER_MODEL:
        return None
    keyframes, with_face = faces["keyframes"], faces["with_face"]
    head = (
        f"No face found in this clip (none in the {keyframes} keyframes searched)"
        if with_face == 0
        else f"Hardly a face in this clip (one in only {with_face} of the {keyframes} "
        "keyframes searched)"
    )
    if entry["status"] == "no_face":
        return f"{head}: this model reads face crops, so it gives no reading of this clip."
    reads = "whole frames" if entry.get("whole_frame") else "crops without a face"
    return (
        f"{head}: this model reads {reads}, so these probabilities are its reading of "
        "frames without a face, not of a facial expression."
    )


def clip_problem(result: dict, clip_name: str) -> str | None:
    """One message naming the clip when every model failed to read it for the same
    reason (unreadable, too long, too short): None when any model read it, or when
    they failed each for its own reason (their results say why)."""
    failures = {(e["status"], e["reason"]) for e in result["runs"].values()}
    if len(failures) != 1:
        return None
    status, reason = failures.pop()
    if status in _PER_MODEL:
        return None
    return f"{clip_name} {_CLIP_PROBLEMS.get(status, 'cannot be read')}: {reason}"


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
