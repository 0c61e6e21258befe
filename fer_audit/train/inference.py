"""A model loaded and applied: the one loader of a run folder's model (`load_folder`),
trained here or imported (e.g. checkpoints/fermini), used by evaluate (`load_run`, a
run of the workspace), predict and the live demo (`load_any_run`, a run id or a
folder); and class probabilities of a set of cached clips, in batches (validation
during training, the test subjects in `fer_audit.evaluate`).

The run.json's arch names the model's spec in `fer_audit.models.REGISTRY`, which
builds it (or, for a model imported as ONNX or TorchScript, reads its file); a trained
run's run.json records its classes, input size and preprocessing, and what an
imported model's leaves out, its spec fixes (`ModelSpec.run_defaults`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fer_audit.errors import DamagedFile, one_line
from fer_audit.models import REGISTRY, create_model
from fer_audit.safe_load import load_tensors
from fer_audit.train.data import ClipSet
from fer_audit.train.runs import MODEL_KEYS, RERUN, check_run_keys, read_run_json, run_folder
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import checkpoints_dir, contained


def predict_probabilities(model, data: ClipSet, batch_size: int, device: str) -> np.ndarray:
    """Softmax probabilities (N, C) of `data`, in order."""
    model.eval()
    out = []
    with torch.no_grad(), torch.autocast(device_type="cuda", enabled=device == "cuda"):
        for start in range(0, len(data), batch_size):
            indices = np.arange(start, min(start + batch_size, len(data)))
            out.append(model(data.batch(indices).to(device)).float().softmax(-1).cpu())
    return torch.cat(out).numpy()


def load_folder(folder: Path, ref: str) -> tuple[dict, torch.nn.Module, PreprocessSettings]:
    """(run.json, model, preprocessing settings) of run folder `folder` (`ref` names it
    in errors); DamagedFile when run.json or the model file cannot be read or the
    weights do not fit the architecture run.json names.

    The spec run.json's arch names reads the model: a model file of a format (ONNX,
    TorchScript) by the spec's `load`, any other by building the architecture and
    loading model.pt's state dict."""
    meta = read_run_json(folder, required=())
    if meta is None:
        raise ValueError(f"no run {ref!r} in {folder.parent}")
    arch = meta.get("arch")
    spec = REGISTRY.get(arch) if isinstance(arch, str) else None  # unknown: create_model says
    meta = {**(spec.run_defaults() if spec else {}), **meta}
    check_run_keys(meta, folder / "run.json", MODEL_KEYS)
    model_path = folder / (spec.model_file if spec else "model.pt")
    if not model_path.exists():
        raise ValueError(f"run {ref} has no model yet (status {meta.get('status')})")
    if spec is not None and spec.load is not None:
        return meta, spec.load(model_path, meta).eval(), PreprocessSettings(**meta["preprocessing"])
    model = create_model(meta["arch"], len(meta["classes"]), input_size=meta["input_size"])
    try:
        model.load_state_dict(load_tensors(model_path))
    except (RuntimeError, KeyError, TypeError) as exc:  # wrong names or shapes
        detail = f"its tensors do not fit a {meta['arch']} model: {one_line(exc, 120)}"
        raise DamagedFile(model_path, RERUN, detail) from None
    return meta, model.eval(), PreprocessSettings(**meta["preprocessing"])


def load_run(workspace, run_id: str) -> tuple[dict, torch.nn.Module]:
    """run.json and the best model of a finished training run of the workspace."""
    meta, model, _ = load_folder(run_folder(workspace, run_id), run_id)
    return meta, model


#: how a command line names an imported model by its folder under the checkpoints
IMPORTED = "imported:"


def named_import(ref: str, checkpoints: Path | None = None) -> Path | None:
    """The folder `imported:NAME` names (a plain name, inside the checkpoints folder);
    None when `ref` does not start with `imported:`; ValueError when there is no such
    model."""
    if not ref.startswith(IMPORTED):
        return None
    name = ref[len(IMPORTED) :]
    folder = contained(Path(checkpoints or checkpoints_dir()), name, what="imported model")
    if not (folder / "run.json").is_file():
        raise ValueError(
            f"no imported model {name!r} in {folder.parent} (fer-audit models list shows them)"
        )
    return folder


def load_any_run(workspace, ref: str | Path):
    """(run.json, model, preprocessing settings) of a run id of the workspace, of an
    imported model named `imported:NAME`, or of a run folder (one with a run.json, such
    as the imported checkpoints/fermini)."""
    folder = named_import(str(ref)) or Path(ref)
    if not (folder / "run.json").exists():
        folder = run_folder(workspace, str(ref))
    return load_folder(folder, str(ref))
