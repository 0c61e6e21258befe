"""Training runs: the run folder, resumption equal to an uninterrupted run, predictions."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY_PREPROCESS, TINY_TRAIN_ARGS
from fer_audit.data.registry import load_dataset
from fer_audit.evaluate import evaluate_runs
from fer_audit.fairness import audit
from fer_audit.train.config import TrainConfig
from fer_audit.train.data import NotPreprocessed
from fer_audit.train.loop import train
from fer_audit.train.runs import run_folder
from fer_audit.video.settings import PreprocessSettings


def config(**overrides) -> TrainConfig:
    base = dict(
        dataset="syn",
        arch="3dcnn",
        train_set="regular",
        seed=3,
        epochs=3,
        input_size=32,
        preprocess=TINY_PREPROCESS,
        batch_size=8,
    )
    return TrainConfig(**{**base, **overrides})


def test_run_folder_holds_every_contract_file(tiny_workspace):
    folder = train(tiny_workspace, config(epochs=2))
    meta = json.loads((folder / "run.json").read_text())
    assert meta["status"] == "done" and meta["epochs_done"] == 2
    assert meta["synthetic"] is True and meta["arch"] == "3dcnn"
    assert meta["hyperparameters"]["lr"] == 5e-3  # the paper's 3DCNN value
    assert set(meta["split"]["run"]["test"]).isdisjoint(meta["split"]["run"]["train"])
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert "done after 2 epochs" in (folder / "train.log").read_text()
    state = torch.load(folder / "model.pt", weights_only=True)
    assert state and all(k.startswith("network.") for k in state)
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert checkpoint["model"].keys() == state.keys()  # the last epoch's weights, whole
    assert all(
        torch.isfinite(v).all() for v in checkpoint["model"].values() if v.is_floating_point()
    )


def test_resume_after_an_interruption_equals_an_uninterrupted_run(tiny_workspace):
    whole = train(tiny_workspace, config(seed=5))
    expected = torch.load(whole / "model.pt", weights_only=True)
    expected_metrics = (whole / "metrics.jsonl").read_text()

    import shutil

    shutil.rmtree(whole)

    def kill_after_first_epoch(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        train(tiny_workspace, config(seed=5), on_epoch=kill_after_first_epoch)
    assert json.loads((whole / "run.json").read_text())["epochs_done"] == 1
    resumed = train(tiny_workspace, config(seed=5))
    assert resumed == whole
    got = torch.load(resumed / "model.pt", weights_only=True)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    strip = [
        {k: v for k, v in json.loads(line).items() if k != "seconds"}
        for text in (expected_metrics, (resumed / "metrics.jsonl").read_text())
        for line in text.splitlines()
    ]
    assert strip[: len(strip) // 2] == strip[len(strip) // 2 :]
    assert "resuming after epoch 1" in (resumed / "train.log").read_text()


def test_a_finished_run_is_not_trained_again(tiny_workspace):
    first = train(tiny_workspace, config(epochs=1, seed=9))
    stamp = (first / "model.pt").stat().st_mtime_ns
    assert train(tiny_workspace, config(epochs=1, seed=9)) == first
    assert (first / "model.pt").stat().st_mtime_ns == stamp


def test_missing_preprocessing_names_the_command(tiny_workspace):
    other = PreprocessSettings(k=20, margin=0, size=32, detector="none")
    with pytest.raises(NotPreprocessed, match="fer-audit preprocess syn --k 20"):
        train(tiny_workspace, config(preprocess=other))


def test_predictions_table_feeds_the_audit(tiny_workspace):
    folders = [
        train(tiny_workspace, config(epochs=1, train_set=t, seed=1)) for t in ("regular", "female")
    ]
    table, path = evaluate_runs(tiny_workspace, [f.name for f in folders])
    assert path.suffix == ".parquet" and path.exists()
    assert set(table["train_set"]) == {"regular", "female"}
    assert table["synthetic"].all()
    probabilities = table[[c for c in table.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert set(table["subject"]) == set(
        json.loads((run_folder(tiny_workspace, folders[0].name) / "run.json").read_text())["split"][
            "run"
        ]["test"]
    )
    result = audit(pd.read_parquet(path), n_boot=100)
    assert result.synthetic
    assert set(result.rankings["train_set"]) == {"regular", "female"}


def test_frozen_backbone_trains_only_the_head_on_cached_features(tiny_workspace):
    folder = train(tiny_workspace, config(arch="resnet50", epochs=2, frozen_backbone=True, seed=4))
    meta = json.loads((folder / "run.json").read_text())
    assert meta["hyperparameters"]["frozen_backbone"] is True
    cached = list((tiny_workspace.cache_dir / "features").glob("*.pt"))
    assert len(cached) == 2  # training and validation clips
    assert torch.load(cached[0], weights_only=True).shape[-1] == 2048
    trained = torch.load(folder / "model.pt", weights_only=True)
    torch.manual_seed(0)
    from fer_audit.models import create_model
    from fer_audit.seeding import seeded_rng

    torch.manual_seed(int(seeded_rng(4, "init").integers(2**31)))
    initial = create_model("resnet50", 4, input_size=32).state_dict()
    backbone = [k for k in initial if k.startswith("backbone.") and "num_batches" not in k]
    assert all(torch.equal(trained[k], initial[k]) for k in backbone)
    assert not torch.equal(trained["classifier.weight"], initial["classifier.weight"])
    with pytest.raises(ValueError, match="needs a per-frame backbone"):
        train(tiny_workspace, config(frozen_backbone=True))


def test_predict_one_clip_with_a_trained_run(tiny_workspace):
    from fer_audit.predict import predict_clip

    folder = train(tiny_workspace, config(epochs=1, seed=1))
    video = load_dataset(tiny_workspace, "syn").root / "S01" / "N2H.mp4"
    result = predict_clip(video, [folder.name], workspace=tiny_workspace)
    run = result["runs"][folder.name]
    assert run["status"] == "ok" and run["synthetic"] is True
    assert set(run["video_probabilities"]) == {"surprised", "upset", "sad", "happy"}
    assert run["keyframe_probabilities"] is None  # a 3D CNN sees the clip whole


def test_two_cpu_processes_with_gloo_train_one_run_and_agree(tiny_workspace):
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "fer_audit.cli",
        "--workspace",
        str(tiny_workspace.root),
        "train",
        "--dataset",
        "syn",
        "--arch",
        "3dcnn",
        "--seed",
        "11",
        "--epochs",
        "2",
        *TINY_TRAIN_ARGS,
        "--batch-size",
        "8",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = next(p for p in tiny_workspace.runs_dir.glob("syn-3dcnn-regular-s11-*"))
    meta = json.loads((folder / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "done"
    assert "ranks agree: identical parameters on 2 processes" in (folder / "train.log").read_text()
    state = torch.load(folder / "model.pt", weights_only=True)
    assert state and all(k.startswith("network.") for k in state)


def test_balanced_loss_weights_classes_by_inverse_frequency(tiny_workspace):
    import numpy as np

    from fer_audit.train.loop import class_weights

    weights = class_weights(np.array([0, 1, 1, 1, 1, 1, 2, 2]), 4)
    assert torch.allclose(weights, torch.tensor([2.0, 0.4, 1.0, 0.0]))
    assert config(balanced_loss=True).run_id() != config().run_id()
    folder = train(tiny_workspace, config(epochs=1, balanced_loss=True))
    meta = json.loads((folder / "run.json").read_text())
    assert meta["hyperparameters"]["balanced_loss"] is True


#: for each setting a run is named by, a value other than config()'s
OTHER_VALUES = {
    "dataset": "other", "arch": "resnet3d", "train_set": "female", "seed": 4, "epochs": 4,
    "patience": 9, "lr": 0.1, "weight_decay": 0.01, "batch_size": 4, "momentum": 0.5,
    "scheme": "six", "input_size": 48, "pretrained": True, "weights_path": "w.pt",
    "augment": False, "frozen_backbone": True, "val_fraction": 0.2, "balanced_loss": True,
    "lr_schedule": "cosine",
}  # fmt: skip


def test_each_setting_changes_the_run_id_alone():
    from dataclasses import fields, replace

    base = config()
    assert {f.name for f in fields(TrainConfig)} == set(OTHER_VALUES) | {"preprocess"}
    ids = {name: replace(base, **{name: value}).run_id() for name, value in OTHER_VALUES.items()}
    for f in fields(PreprocessSettings):
        other = replace(TINY_PREPROCESS, **{f.name: _other(getattr(TINY_PREPROCESS, f.name))})
        ids[f"preprocess.{f.name}"] = replace(base, preprocess=other).run_id()
    assert base.run_id() not in ids.values()
    assert len(set(ids.values())) == len(ids)  # and no two changes give one id


def _other(value):
    if isinstance(value, str):
        return {"none": "mtcnn", "fast": "paper"}[value]
    return value + 1


def test_cosine_schedule_lowers_the_rate_each_epoch_and_names_a_new_run(tiny_workspace):
    cosine = config(lr_schedule="cosine")
    assert cosine.run_id() != config().run_id()
    # a constant-rate run keeps the id it had before the option existed
    tiny_k4 = PreprocessSettings(k=4, margin=0, size=32, detector="none")
    assert config(preprocess=tiny_k4).run_id() == "syn-3dcnn-regular-s3-2de46856"
    folder = train(tiny_workspace, cosine)
    rates = [json.loads(line)["lr"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert rates == pytest.approx([5e-3, 3.75e-3, 1.25e-3])  # lr * (1 + cos(pi * (e-1) / 3)) / 2
    assert json.loads((folder / "run.json").read_text())["hyperparameters"]["lr_schedule"] == (
        "cosine"
    )
    with pytest.raises(ValueError, match="lr schedule 'step' is not one of constant, cosine"):
        config(lr_schedule="step")
