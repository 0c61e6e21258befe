"""A trained model loaded and applied: the one loader of a run's model (`load_run` for a
run of the workspace, `load_any_run` also for an imported run folder), used by evaluate,
predict and the live demo; and class probabilities of a set of cached clips, in batches
(validation during training, the test subjects in `fer_audit.evaluate`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fer_audit.errors import DamagedFile, one_line
from fer_audit.models import create_model
from fer_audit.models.fermini import load_fer_run
from fer_audit.safe_load import load_tensors
from fer_audit.train.data import ClipSet
from fer_audit.train.runs import MODEL_KEYS, RERUN, read_run_json, run_folder
from fer_audit.video.settings import PreprocessSettings


def predict_probabilities(model, data: ClipSet, batch_size: int, device: str) -> np.ndarray:
    """Softmax probabilities (N, C) of `data`, in order."""
    model.eval()
    out = []
    with torch.no_grad(), torch.autocast(device_type="cuda", enabled=device == "cuda"):
        for start in range(0, len(data), batch_size):
            indices = np.arange(start, min(start + batch_size, len(data)))
            out.append(model(data.batch(indices).to(device)).float().softmax(-1).cpu())
    return torch.cat(out).numpy()


def load_run(workspace, run_id: str) -> tuple[dict, torch.nn.Module]:
    """run.json and the best model of a finished training run; DamagedFile when either
    cannot be read or the weights do not fit the architecture run.json names."""
    folder = run_folder(workspace, run_id)
    meta = read_run_json(folder, required=MODEL_KEYS)
    if meta is None:
        raise ValueError(f"no run {run_id!r} in {workspace.runs_dir}")
    if not (folder / "model.pt").exists():
        raise ValueError(f"run {run_id} has no model yet (status {meta.get('status')})")
    model = create_model(meta["arch"], len(meta["classes"]), input_size=meta["input_size"])
    try:
        model.load_state_dict(load_tensors(folder / "model.pt"))
    except (RuntimeError, KeyError, TypeError) as exc:  # wrong names or shapes
        detail = f"its tensors do not fit a {meta['arch']} model: {one_line(exc, 120)}"
        raise DamagedFile(folder / "model.pt", RERUN, detail) from None
    return meta, model.eval()


#: keyframes and crops for the imported FER2013 model (it expects a tight face)
FERMINI_SETTINGS = PreprocessSettings(k=20, margin=25, size=96)


def load_any_run(workspace, ref: str | Path):
    """(run.json, model, preprocessing settings) of a run id or a run folder."""
    folder = Path(ref)
    if (folder / "run.json").exists():
        meta = read_run_json(folder, required=("arch",))
        if meta["arch"] == "fermini":
            return meta, load_fer_run(folder), FERMINI_SETTINGS
        ref = folder.name
    meta, model = load_run(workspace, str(ref))
    return meta, model, PreprocessSettings(**meta["preprocessing"])
