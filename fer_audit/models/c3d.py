"""The 3D CNN of Haddad et al. (2020), trained from scratch (`3dcnn`).

Haddad, Lezoray, Hamel, "3D-CNN for Facial Emotion Recognition in Videos" (ISVC
2020): stacked 3x3x3 convolution blocks (convolution, batch normalisation, ReLU,
max pooling) over the keyframes, then a classifier. Adapted here, as in the paper
we reproduce, to 224x224 inputs and any number of keyframes K: pooling is spatial
only until the last block, and an adaptive average pool makes the classifier
independent of K and of the input size. Inputs are scaled to [0, 1] (no pretrained
statistics apply).
"""

from __future__ import annotations

from torch import nn

from fer_audit.models.base import Clip3D

UNIT = ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))
CHANNELS = (32, 64, 128, 256)


def _block(c_in: int, c_out: int, pool: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(pool, ceil_mode=True),
    )


def build_3dcnn(
    num_classes: int, *, pretrained: bool = False, weights_path=None, size: int = 224
) -> Clip3D:
    if pretrained:
        raise ValueError("3dcnn is trained from scratch: it has no pretrained weights")
    blocks, c_in = [], 3
    for i, c_out in enumerate(CHANNELS):
        blocks.append(_block(c_in, c_out, (2, 2, 2) if i == len(CHANNELS) - 1 else (1, 2, 2)))
        c_in = c_out
    network = nn.Sequential(
        *blocks,
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(c_in, num_classes),
    )
    return Clip3D(network, size=size or 224, stats=UNIT)
