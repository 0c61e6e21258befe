"""Training one run: SGD with the paper's hyperparameters, augmentation, validation-based
model selection and early stopping, a run folder written atomically after every epoch,
and resumption that gives the same result as an uninterrupted run.

Every random choice of epoch e (batch order, augmentation, dropout) is seeded from
(seed, e), so a run resumed after epoch e continues exactly as it would have.

Run folder (DESIGN.md section 6): run.json, model.pt (the best state dict, loadable
with `torch.load(weights_only=True)`), metrics.jsonl (one line per epoch), train.log,
and checkpoint.pt (model, optimiser and history of the last finished epoch).
"""

from __future__ import annotations

import contextlib
import json
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from fer_audit import atomic
from fer_audit.data.registry import load_dataset
from fer_audit.data.splits import load_split, run_split
from fer_audit.errors import DamagedFile, one_line
from fer_audit.labels import get_scheme
from fer_audit.models import create_model, get_spec
from fer_audit.overview import usable_subjects
from fer_audit.safe_load import load_tensors
from fer_audit.seeding import seeded_rng
from fer_audit.train import distributed
from fer_audit.train.config import TrainConfig
from fer_audit.train.data import ClipSet, load_clips
from fer_audit.train.features import HeadOnly, compute_features
from fer_audit.train.inference import predict_probabilities
from fer_audit.train.run_writer import RunWriter
from fer_audit.train.runs import read_metrics, read_run_json, run_folder
from fer_audit.version import code_version
from fer_audit.video.augment import Augment
from fer_audit.video.faces import resolve_device

EpochCallback = Callable[[dict], None]
NO_DISTRIBUTION = distributed.DistContext()


def train(
    workspace,
    config: TrainConfig,
    *,
    device: str = "auto",
    on_epoch: EpochCallback | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train (or resume) the run of `config`; returns its folder."""
    config = config.resolved()
    folder = run_folder(workspace, config.run_id())
    context, device = distributed.setup(resolve_device(device))
    dataset = load_dataset(workspace, config.dataset)
    split = load_split(workspace.dataset_dir(config.dataset))
    if split is None:
        raise ValueError(
            f"dataset {config.dataset} has no test split yet: draw one with "
            f"fer-audit datasets split {config.dataset}"
        )
    sides = run_split(
        _with_usable_clips(workspace, dataset, config.preprocess),
        split,
        train_set=config.train_set,
        seed=config.seed,
        val_fraction=config.val_fraction,
    )
    scheme = get_scheme(config.scheme)
    load = dict(scheme=scheme, settings=config.preprocess)
    train_set = load_clips(workspace, dataset, sides.train, **load)
    val_set = load_clips(workspace, dataset, sides.validation, **load)
    torch.manual_seed(int(seeded_rng(config.seed, "init").integers(2**31)))  # same init
    model = create_model(
        config.arch,
        len(scheme.classes),
        pretrained=config.pretrained,
        weights_path=config.weights_path,
        input_size=config.input_size,
    )
    model.to(device)
    trained, train_data, val_data = model, train_set, val_set
    if config.frozen_backbone:
        trained, train_data, val_data = _frozen(
            model, train_set, val_set, config, workspace, device
        )
    trained = distributed.wrap(trained, context, device)
    optimiser = torch.optim.SGD(
        [p for p in trained.parameters() if p.requires_grad],
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    state, damaged_checkpoint = _resume(folder, model, optimiser)
    meta = _run_meta(config, dataset, split, sides, train_set, val_set, device)
    meta["world_size"] = context.world
    writer = RunWriter(folder, meta, log, enabled=context.main)
    if damaged_checkpoint:
        writer.log(f"{damaged_checkpoint}; starting the run again from epoch 1")
    if state["done"]:
        problem = _unfinished_record(folder)
        if problem is None:
            writer.log(f"run {folder.name} already finished; nothing to do")
            return folder
        writer.log(
            f"run {folder.name} finished, but {problem}: rewriting run.json and "
            "metrics.jsonl from its checkpoint"
        )
        writer.repair(state)
        return folder
    scaler = torch.amp.GradScaler("cuda", enabled=device == "cuda")
    augment = Augment() if config.augment and not config.frozen_backbone else None
    with writer.stops_recorded(state):  # run.json never stays "running"
        writer.start(state)
        for epoch in range(state["epoch"] + 1, config.epochs + 1):
            started = time.perf_counter()
            for group in optimiser.param_groups:
                group["lr"] = config.epoch_lr(epoch)
            train_loss, train_acc = _train_epoch(
                trained, optimiser, scaler, train_data, config, epoch, augment, device, context
            )
            val_loss, val_acc = evaluate_loss(
                distributed.unwrap(trained), val_data, config.batch_size, device
            )
            record = {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": train_acc,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "n_train": len(train_set),
                "n_val": len(val_set),
                "lr": config.epoch_lr(epoch),
                "seconds": round(time.perf_counter() - started, 3),
            }
            improved = _better(record, state["best"])
            if improved:
                state["best"] = record
            if improved and context.main:
                with atomic.atomic_path(folder / "model.pt") as tmp:
                    torch.save(model.state_dict(), tmp)
            state["history"].append(record)
            state["epoch"] = epoch
            stale = epoch - state["best"]["epoch"]
            state["done"] = epoch == config.epochs or stale >= config.patience
            writer.epoch(model, optimiser, state, record, improved)
            if on_epoch:
                on_epoch(record)
            if state["done"]:
                break
    if not distributed.parameters_agree(model, context):
        raise RuntimeError("the ranks ended with different parameters")
    if context.enabled:
        writer.log(f"ranks agree: identical parameters on {context.world} processes")
    writer.finish(state)
    distributed.teardown(context)
    return folder


def _with_usable_clips(workspace, dataset, settings) -> pd.DataFrame:
    """The dataset's subjects (subject, gender) that its preprocessing left a usable
    clip, as readiness counts them: validation is drawn among these, so a subject whose
    every clip failed never becomes the run's only validation subject. All of them
    when there is no report (loading the clips then says to preprocess)."""
    subjects = dataset.subjects()
    usable = usable_subjects(workspace, dataset, settings)
    return subjects if usable is None else subjects[subjects["subject"].isin(usable)]


def _frozen(model, train_set, val_set, config, workspace, device):
    """Freeze the backbone, cache both sides' features, train the head alone."""
    if get_spec(config.arch).temporal != "lstm":
        raise ValueError(
            f"--frozen-backbone needs a per-frame backbone; {config.arch} is a "
            "3D CNN (choose vgg16, vggface, resnet50 or senetlstm)"
        )
    model.backbone.requires_grad_(False)
    key = json.dumps(
        [
            config.arch,
            config.pretrained,
            config.weights_path,
            config.input_size,
            config.preprocess.key(),
            config.dataset,
        ]
    )
    cached = [
        compute_features(
            model,
            data,
            batch_size=config.batch_size,
            device=device,
            cache_dir=workspace.cache_dir,
            key=key,
        )
        for data in (train_set, val_set)
    ]
    return HeadOnly(model), cached[0], cached[1]


def _better(record: dict, best: dict | None) -> bool:
    if best is None:
        return True
    return (record["val_accuracy"], -record["val_loss"]) > (best["val_accuracy"], -best["val_loss"])


def _train_epoch(
    model, optimiser, scaler, data: ClipSet, config, epoch, augment, device, context=NO_DISTRIBUTION
):
    model.train()
    weights = None
    if config.balanced_loss:
        weights = class_weights(data.labels, len(get_scheme(config.scheme).classes)).to(device)
    rng = seeded_rng(config.seed, "epoch", epoch)
    torch.manual_seed(int(rng.integers(2**31)) + context.rank)
    order = distributed.shard(rng.permutation(len(data)), context)
    total_loss, correct = 0.0, 0
    for start in range(0, len(order), config.batch_size):
        indices = order[start : start + config.batch_size]
        rngs = [seeded_rng(config.seed, "augment", epoch, int(i)) for i in indices]
        clips = data.batch(indices, augment=augment, rngs=rngs).to(device)
        labels = torch.from_numpy(data.labels[indices]).to(device)
        with torch.autocast(device_type="cuda", enabled=device == "cuda"):
            logits = model(clips)
            loss = F.cross_entropy(logits, labels, weight=weights)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        total_loss += loss.item() * len(indices)
        correct += int((logits.argmax(-1) == labels).sum())
    seen = distributed.reduce_sum(float(len(order)), context)
    return (
        distributed.reduce_sum(total_loss, context) / seen,
        distributed.reduce_sum(float(correct), context) / seen,
    )


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """n / (classes * n_c) per class c (0 for a class with no example)."""
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    weights = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def evaluate_loss(model, data: ClipSet, batch_size: int, device: str) -> tuple[float, float]:
    probabilities = predict_probabilities(model, data, batch_size, device)
    labels = data.labels
    loss = float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1)).mean())
    return loss, float((probabilities.argmax(1) == labels).mean())


def _resume(folder: Path, model, optimiser) -> tuple[dict, str | None]:
    """The state of the last finished epoch (model and optimiser loaded from
    checkpoint.pt), or a fresh start; with a note when the checkpoint was damaged (it
    is moved aside, and the run starts again: nothing of it was loaded)."""
    fresh = {"epoch": 0, "best": None, "history": [], "done": False}
    path = folder / "checkpoint.pt"
    if not path.exists():
        return fresh, None
    try:
        checkpoint = load_tensors(path)
        state = json.loads(checkpoint["state"])
        required = {"epoch", "best", "history", "done"}
        if not isinstance(state, dict) or not required <= set(state):
            raise ValueError("its training state is incomplete")
    except (RuntimeError, ValueError, KeyError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        with contextlib.suppress(FileNotFoundError):  # another rank moved it already
            path.replace(aside)
        return fresh, f"{path} is damaged ({one_line(exc)}), moved to {aside.name}"
    model.load_state_dict(checkpoint["model"])
    optimiser.load_state_dict(checkpoint["optimiser"])
    return state, None


def _unfinished_record(folder: Path) -> str | None:
    """Why a run whose checkpoint says it is done does not look done on disk (run.json
    damaged, missing or not "done"; metrics.jsonl damaged), or None."""
    try:
        meta = read_run_json(folder)
        read_metrics(folder / "metrics.jsonl")
    except DamagedFile as exc:
        return f"{exc.path.name} is damaged ({exc.detail})"
    if meta is None:
        return "run.json is missing"
    if meta.get("status") != "done":
        return f"run.json says {meta.get('status')!r}"
    return None


def _run_meta(config, dataset, split, sides, train_set, val_set, device) -> dict:
    return {
        "run_id": config.run_id(),
        "arch": config.arch,
        "train_set": config.train_set,
        "seed": config.seed,
        "dataset": config.dataset,
        "synthetic": dataset.synthetic,
        "label_scheme": config.scheme,
        "classes": list(get_scheme(config.scheme).classes),
        "hyperparameters": {k: v for k, v in asdict(config).items() if k != "preprocess"},
        "input_size": config.input_size or get_spec(config.arch).input_size,
        "preprocessing": asdict(config.preprocess),
        "split": {"test": split.to_dict(), "run": sides.to_dict()},
        "data_fingerprint": dataset.meta["fingerprint"],
        "videos": {
            "train": len(train_set),
            "validation": len(val_set),
            "excluded_train": train_set.excluded,
            "excluded_validation": val_set.excluded,
        },
        "code_version": code_version(),
        "device": device,
        "torch": torch.__version__,
    }
