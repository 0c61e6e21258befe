"""ResNet50 + LSTM with ImageNet weights (`resnet50`): 2048 pooled features per frame,
ImageNet normalisation (torchvision ResNet50_Weights.IMAGENET1K_V1)."""

from __future__ import annotations

from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from fer_audit.models.base import IMAGENET, FrameLSTM
from fer_audit.models.weights import load_state_dict_strict, torchvision_state_dict

FEATURES = 2048


def build_resnet50(
    num_classes: int, *, pretrained: bool = False, weights_path=None, size: int | None = None
) -> FrameLSTM:
    backbone = resnet50(weights=None)
    if pretrained:
        state = torchvision_state_dict(ResNet50_Weights.IMAGENET1K_V1, weights_path)
        load_state_dict_strict(backbone, state, source="ResNet50 ImageNet weights")
    backbone.fc = nn.Identity()
    return FrameLSTM(backbone, FEATURES, num_classes, size=size or 224, stats=IMAGENET)
