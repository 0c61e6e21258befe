"""Frozen-backbone training against fine-tuning (DESIGN.md section 9).

On a small SYNTHETIC dataset (drawn faces; 6 + 6 subjects, K=10 keyframes) it trains
ResNet50 + LSTM for one epoch fine-tuning everything, and for one epoch of the head
alone on cached per-frame features, and compares the epoch times (the one-time
feature computation is reported separately). Prints one JSON object; bar: ratio
(head / fine-tune) under 0.05.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

from fer_audit.data.registry import load_dataset, register_dataset
from fer_audit.data.splits import draw_test_split, save_split
from fer_audit.data.synthetic import SyntheticSettings, generate
from fer_audit.train.config import TrainConfig
from fer_audit.train.loop import train
from fer_audit.video.batch import preprocess_dataset
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import Workspace

INPUT_SIZE = 112
PRE = PreprocessSettings(k=10, margin=0, size=INPUT_SIZE, detector="none")


def epoch_seconds(folder: Path) -> float:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["seconds"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "workspace")
        generate(
            Path(tmp) / "syn",
            SyntheticSettings(
                subjects_per_group={"female": 6, "male": 6}, size=INPUT_SIZE, fps=10, duration_s=2.0
            ),
        )
        register_dataset(workspace, "syn", Path(tmp) / "syn", kind="sasefe")
        dataset = load_dataset(workspace, "syn")
        save_split(
            workspace.dataset_dir("syn"),
            draw_test_split(
                dataset.subjects(), per_group=2, data_fingerprint=dataset.meta["fingerprint"]
            ),
        )
        preprocess_dataset(workspace, "syn", PRE)
        base = dict(
            dataset="syn",
            arch="resnet50",
            train_set="regular",
            epochs=1,
            input_size=INPUT_SIZE,
            preprocess=PRE,
        )
        finetune = train(workspace, TrainConfig(**base))
        started = time.perf_counter()
        head = train(workspace, TrainConfig(**base, frozen_backbone=True))
        head_total = time.perf_counter() - started
        finetune_epoch, head_epoch = epoch_seconds(finetune), epoch_seconds(head)
        n_train = json.loads((head / "run.json").read_text())["videos"]["train"]
    print(
        json.dumps(
            {
                "arch": "resnet50",
                "input_size": INPUT_SIZE,
                "keyframes": PRE.k,
                "train_clips": n_train,
                "finetune_epoch_s": round(finetune_epoch, 3),
                "head_epoch_s": round(head_epoch, 4),
                "ratio": round(head_epoch / finetune_epoch, 5),
                "features_once_s": round(head_total - head_epoch, 2),
                "data": "SYNTHETIC drawn faces (fer_audit.data.synthetic)",
                "machine": f"{platform.machine()}, {platform.python_version()}, CPU",
            }
        )
    )


if __name__ == "__main__":
    main()
