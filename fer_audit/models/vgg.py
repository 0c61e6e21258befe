"""VGG16 + LSTM with ImageNet weights (`vgg16`) or VGGFace weights (`vggface`).

The backbone is VGG16 up to fc7 (4096 features per frame). ImageNet weights come
from torchvision (VGG16_Weights.IMAGENET1K_V1) and expect ImageNet normalisation;
VGGFace weights (Parkhi et al. 2015, vgg_face_dag.pth) expect RGB mean subtraction
on the 0-255 scale, no scaling.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import VGG16_Weights, vgg16

from fer_audit.models.base import IMAGENET, VGGFACE, FrameLSTM
from fer_audit.models.weights import (
    load_state_dict_strict,
    torchvision_state_dict,
    vggface_state_dict,
)

FEATURES = 4096


def _backbone() -> nn.Module:
    network = vgg16(weights=None)
    network.classifier = nn.Sequential(*list(network.classifier.children())[:-1])  # to fc7
    return network


def _fc7_only(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith("classifier.6.")}


def build_vgg16(
    num_classes: int, *, pretrained: bool = False, weights_path=None, size: int | None = None
) -> FrameLSTM:
    backbone = _backbone()
    if pretrained:
        state = torchvision_state_dict(VGG16_Weights.IMAGENET1K_V1, weights_path)
        load_state_dict_strict(backbone, _fc7_only(state), source="VGG16 ImageNet weights")
    return FrameLSTM(backbone, FEATURES, num_classes, size=size or 224, stats=IMAGENET)


def build_vggface(
    num_classes: int, *, pretrained: bool = False, weights_path=None, size: int | None = None
) -> FrameLSTM:
    backbone = _backbone()
    if pretrained:
        load_state_dict_strict(backbone, vggface_state_dict(weights_path), source="VGGFace weights")
    return FrameLSTM(backbone, FEATURES, num_classes, size=size or 224, stats=VGGFACE)
