"""A training run's settings and its id: `TrainConfig`, declared once (the fields made
with `setting` are `fer-audit train`'s options), and the run id that changes whenever
one of them does.

Light on purpose (no torch): the command line builds its options from it at start-up.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field

from fer_audit.labels import SCHEMES
from fer_audit.options import setting
from fer_audit.video.settings import PreprocessSettings

LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The fields declared with `setting` are `fer-audit train`'s
    options; the others keep their defaults (the paper's)."""

    dataset: str = setting(help="registered dataset")
    arch: str = setting(
        help="vgg16, vggface, resnet50, senetlstm, 3dcnn or resnet3d (all: each in turn)"
    )
    train_set: str = setting(
        "regular",
        help="regular, male, female, any gender label of the dataset, or all (each in turn)",
    )
    seed: int = 0
    epochs: int = setting(30, help="at most this many epochs", low=1, high=10_000)
    patience: int = setting(8, help="early stopping (epochs)", low=1, high=10_000)
    #: None: the paper's value for the architecture (see `resolved`)
    lr: float | None = setting(
        None, help="default: the paper's value for the arch", low=1e-8, high=10.0
    )
    weight_decay: float | None = None
    batch_size: int | None = setting(None, help="default: the paper's 12", low=1, high=1024)
    momentum: float = 0.9
    scheme: str = setting(
        "paper4", help="label scheme: the paper's four classes, or six", choices=SCHEMES
    )
    preprocess: PreprocessSettings = field(default_factory=PreprocessSettings)
    input_size: int | None = setting(
        None,
        help="frame size fed to the model (default: the architecture's; smaller for quick runs)",
        low=16,
        high=1024,
    )
    pretrained: bool = setting(False, help="load the arch's weights")
    weights_path: str | None = setting(
        None, help="local weight file (VGGFace, VGGFace2, torchvision)", flag="--weights"
    )
    augment: bool = setting(True, help="train without augmentation")
    frozen_backbone: bool = setting(
        False,
        help="cache per-frame backbone features once and train only the LSTM head "
        "(LSTM architectures)",
    )
    val_fraction: float = 0.15
    #: weight the loss by inverse class frequency (n / (classes * n_c)): under paper4,
    #: Upset holds three emotions and would otherwise outweigh Sad three to one
    balanced_loss: bool = setting(
        False, help="weight the loss by inverse class frequency (Upset holds three emotions)"
    )
    #: "constant" (the paper's) or "cosine": the rate of epoch e (1-based) is
    #: lr * (1 + cos(pi * (e - 1) / epochs)) / 2, so the last epochs settle
    lr_schedule: str = setting(
        "constant",
        help="constant (the paper's) or cosine decay to 0 over the epochs",
        choices=LR_SCHEDULES,
    )

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr schedule {self.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}"
            )

    def epoch_lr(self, epoch: int) -> float:
        """The learning rate of `epoch` (1-based) under the schedule."""
        if self.lr_schedule == "constant":
            return self.lr
        return self.lr * (1 + math.cos(math.pi * (epoch - 1) / self.epochs)) / 2

    def resolved(self) -> TrainConfig:
        """The config with the architecture's defaults filled in."""
        from fer_audit.models import get_spec  # torch: only once a run is set up

        spec = get_spec(self.arch, trainable=True)  # an imported model is not trained here
        return TrainConfig(
            **{
                **asdict(self),
                "preprocess": self.preprocess,
                "lr": self.lr if self.lr is not None else spec.lr,
                "weight_decay": self.weight_decay
                if self.weight_decay is not None
                else spec.weight_decay,
                "batch_size": self.batch_size or spec.batch_size,
            }
        )

    def run_id(self) -> str:
        payload = {**asdict(self), "preprocess": asdict(self.preprocess)}
        # run ids from before these options stay the same
        if not self.balanced_loss:
            del payload["balanced_loss"]
        if self.lr_schedule == "constant":
            del payload["lr_schedule"]
        text = json.dumps(payload, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return f"{self.dataset}-{self.arch}-{_id_part(self.train_set)}-s{self.seed}-{digest}"


def _id_part(label: str) -> str:
    """A group label from the data as part of a run id: characters outside plain names
    become '_', at most 100 (the digest keeps ids of different labels apart); plain
    labels such as female, male or regular are unchanged."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", label)[:100] or "_"
