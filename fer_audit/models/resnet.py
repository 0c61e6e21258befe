"""ResNet50 + LSTM with ImageNet weights (`resnet50`): 2048 pooled features per frame;
its weights entry `IMAGENET1K_V1` (torchvision ResNet50_Weights.IMAGENET1K_V1) expects
ImageNet normalisation."""

from __future__ import annotations

from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from fer_audit.models.base import FrameLSTM
from fer_audit.models.weights import Weights, imagenet_entry

FEATURES = 2048

IMAGENET1K_V1 = imagenet_entry(ResNet50_Weights.IMAGENET1K_V1)


def build_resnet50(
    num_classes: int, *, weights: Weights | None = None, weights_path=None, size=None
) -> FrameLSTM:
    backbone = resnet50(weights=None)
    if weights is not None:
        weights.load_into(backbone, weights_path)
    backbone.fc = nn.Identity()
    prepare = (weights or IMAGENET1K_V1).make_input(size)
    return FrameLSTM(backbone, FEATURES, num_classes, input_module=prepare)
