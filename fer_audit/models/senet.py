"""SE-ResNet-50 + LSTM with VGGFace2 weights (`senetlstm`).

The backbone is the SENet-50 of the VGGFace2 release (Cao et al. 2018), with the
parameter names of its PyTorch port (cydonia999/VGGFace2-pytorch), so that
`senet50_ft_weight.pkl` (a Python-2 pickle of numpy arrays) loads directly: its
weights entry `VGGFACE2`, which expects RGB mean subtraction on the 0-255 scale
(VGGFace2 means), no scaling. Per frame it gives 2048 pooled features; the LSTM has
256 hidden units.
"""

from __future__ import annotations

import torch
from torch import nn

from fer_audit.models.base import FrameLSTM
from fer_audit.models.weights import VGGFACE2_URL, Weights, vggface2_pickle

FEATURES = 2048

VGGFACE2 = Weights(
    name="VGGFACE2",
    file_name="senet50_ft_weight.pkl",
    source=f"download senet50_ft_weight.pkl from {VGGFACE2_URL} and pass its path with --weights",
    licence="none stated with the VGGFace2 models (ox-vgg/vgg_face2), research use",
    provenance="VGGFace2 SE-ResNet-50, Cao et al. 2018",
    input_size=224,
    mean=(131.0912, 103.8827, 91.4953),
    std=(1.0, 1.0, 1.0),
    scaling="RGB mean subtraction (VGGFace2 means), no scaling",
    loader=vggface2_pickle,
)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_down = nn.Conv2d(planes * 4, planes // 4, 1, bias=False)
        self.conv_up = nn.Conv2d(planes // 4, planes * 4, 1, bias=False)
        self.sig = nn.Sigmoid()
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        gate = self.sig(self.conv_up(self.relu(self.conv_down(self.global_pool(out)))))
        return self.relu(out * gate + residual)


class SENet50(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3)):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        self.layer1 = self._layer(64, layers[0])
        self.layer2 = self._layer(128, layers[1], stride=2)
        self.layer3 = self._layer(256, layers[2], stride=2)
        self.layer4 = self._layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def _layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


def build_senetlstm(
    num_classes: int, *, weights: Weights | None = None, weights_path=None, size=None
) -> FrameLSTM:
    backbone = SENet50()
    if weights is not None:
        weights.load_into(backbone, weights_path, drop=("fc.",))  # the identity classifier
    prepare = (weights or VGGFACE2).make_input(size)
    return FrameLSTM(backbone, FEATURES, num_classes, input_module=prepare)
