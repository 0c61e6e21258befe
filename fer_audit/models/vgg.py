"""VGG16 + LSTM with ImageNet weights (`vgg16`) or VGGFace weights (`vggface`).

The backbone is VGG16 up to fc7 (4096 features per frame). Its weights entries:
`IMAGENET1K_V1` (torchvision VGG16_Weights.IMAGENET1K_V1, ImageNet normalisation)
and `VGGFACE` (Parkhi et al. 2015, vgg_face_dag.pth: RGB mean subtraction on the 0-255
scale, no scaling).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models import VGG16_Weights, vgg16

from fer_audit.models.base import FrameLSTM
from fer_audit.models.weights import (
    VGGFACE_URL,
    Weights,
    imagenet_entry,
    vggface_state_dict,
)

FEATURES = 4096

IMAGENET1K_V1 = imagenet_entry(VGG16_Weights.IMAGENET1K_V1)
VGGFACE = Weights(
    name="VGGFACE",
    file_name="vgg_face_dag.pth",
    source=f"download vgg_face_dag.pth from {VGGFACE_URL} and pass its path with --weights",
    licence="non-commercial research use (VGG Face descriptor, Creative Commons Attribution)",
    provenance="VGGFace, Parkhi et al. 2015",
    input_size=224,
    mean=(129.186279296875, 104.76238250732422, 93.59396362304688),
    std=(1.0, 1.0, 1.0),
    scaling="RGB mean subtraction (VGGFace means), no scaling",
    loader=vggface_state_dict,
)


def _build(
    num_classes: int,
    weights: Weights | None,
    weights_path: str | Path | None,
    size: int | None,
    default: Weights,
) -> FrameLSTM:
    backbone = vgg16(weights=None)
    backbone.classifier = nn.Sequential(*list(backbone.classifier.children())[:-1])  # to fc7
    if weights is not None:
        weights.load_into(backbone, weights_path, drop=("classifier.6.",))
    prepare = (weights or default).make_input(size)
    return FrameLSTM(backbone, FEATURES, num_classes, input_module=prepare)


def build_vgg16(
    num_classes: int, *, weights: Weights | None = None, weights_path=None, size=None
) -> FrameLSTM:
    return _build(num_classes, weights, weights_path, size, IMAGENET1K_V1)


def build_vggface(
    num_classes: int, *, weights: Weights | None = None, weights_path=None, size=None
) -> FrameLSTM:
    return _build(num_classes, weights, weights_path, size, VGGFACE)
