"""The registry of the paper's six architectures: `create_model(name, num_classes, ...)`.

Each entry records its builder, input size, pretrained weights and their provenance,
and the paper's training hyperparameters (SGD, batch 12; DESIGN.md section 4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from fer_audit.models.c3d import build_3dcnn
from fer_audit.models.r2plus1d import build_resnet3d
from fer_audit.models.resnet import build_resnet50
from fer_audit.models.senet import build_senetlstm
from fer_audit.models.vgg import build_vgg16, build_vggface


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable[..., nn.Module]
    input_size: int
    weights: str  # what `pretrained=True` loads, and from where
    normalisation: str
    lr: float
    weight_decay: float
    batch_size: int = 12
    temporal: str = "lstm"  # "lstm": per-frame backbone + LSTM (frozen mode works); "3d"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "vgg16",
            "VGG16 + LSTM",
            build_vgg16,
            224,
            "ImageNet (torchvision VGG16_Weights.IMAGENET1K_V1)",
            "ImageNet mean/std",
            lr=1e-2,
            weight_decay=5e-3,
        ),
        ModelSpec(
            "vggface",
            "VGG16 + LSTM, VGGFace weights",
            build_vggface,
            224,
            "VGGFace, Parkhi et al. 2015 (vgg_face_dag.pth, local path)",
            "RGB mean subtraction (VGGFace means), no scaling",
            lr=5e-3,
            weight_decay=8e-4,
        ),
        ModelSpec(
            "resnet50",
            "ResNet50 + LSTM",
            build_resnet50,
            224,
            "ImageNet (torchvision ResNet50_Weights.IMAGENET1K_V1)",
            "ImageNet mean/std",
            lr=5e-3,
            weight_decay=1e-3,
        ),
        ModelSpec(
            "senetlstm",
            "SE-ResNet-50 + LSTM (256 hidden), VGGFace2 weights",
            build_senetlstm,
            224,
            "VGGFace2, Cao et al. 2018 (senet50_ft_weight.pkl, local path)",
            "RGB mean subtraction (VGGFace2 means), no scaling",
            lr=1e-2,
            weight_decay=5e-4,
        ),
        ModelSpec(
            "3dcnn",
            "3D CNN of Haddad et al. 2020, from scratch",
            build_3dcnn,
            224,
            "none (trained from scratch)",
            "pixels scaled to [0, 1]",
            lr=5e-3,
            weight_decay=1e-6,
            temporal="3d",
        ),
        ModelSpec(
            "resnet3d",
            "R(2+1)D-18 at 112x112",
            build_resnet3d,
            112,
            "Kinetics-400 (torchvision R2Plus1D_18_Weights.KINETICS400_V1)",
            "Kinetics mean/std",
            lr=5e-3,
            weight_decay=5e-3,
            temporal="3d",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}; choose one of {', '.join(MODELS)}"
        ) from None


def create_model(
    name: str,
    num_classes: int,
    *,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
    input_size: int | None = None,
) -> nn.Module:
    """Build architecture `name` with `num_classes` outputs.

    `pretrained=True` loads the spec's weights (from `weights_path`, or the torch hub
    cache for torchvision weights) or raises WeightsMissing naming the file; it never
    falls back to random weights. `input_size` overrides the spec's frame size (e.g. a
    reduced size for quick runs; record it with the run).
    """
    spec = get_spec(name)
    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    return spec.build(
        num_classes, pretrained=pretrained, weights_path=weights_path, size=input_size
    )
