"""The 3D CNN of Haddad et al. (2020), trained from scratch (`3dcnn`).

Haddad, Lezoray, Hamel, "3D-CNN for Facial Emotion Recognition in Videos" (ISVC
2020): stacked 3x3x3 convolution blocks (convolution, batch normalisation, ReLU,
max pooling) over the keyframes, then a classifier. Adapted here, as in the paper
we reproduce, to 224x224 inputs and any number of keyframes K: pooling is spatial
only until the last block, and an adaptive average pool makes the classifier
independent of K and of the input size. Its one weights entry, `SCRATCH`, has no
file: it declares the input (224x224, scaled to [0, 1]; no pretrained statistics
apply).
"""

from __future__ import annotations

from torch import nn

from fer_audit.models.base import Clip3D
from fer_audit.models.weights import Weights

SCRATCH = Weights(
    name="SCRATCH",
    file_name=None,
    source="none: trained from scratch on the audit's data",
    licence="none (no pretrained weights)",
    provenance="none (trained from scratch)",
    input_size=224,
    mean=(0.0, 0.0, 0.0),
    std=(255.0, 255.0, 255.0),
    scaling="pixels scaled to [0, 1]",
)
CHANNELS = (32, 64, 128, 256)


def _block(c_in: int, c_out: int, pool: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(pool, ceil_mode=True),
    )


def build_3dcnn(
    num_classes: int, *, weights: Weights | None = None, weights_path=None, size=None
) -> Clip3D:
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
    if weights is not None:
        weights.load_into(network, weights_path)  # SCRATCH: a ValueError, nothing to load
    return Clip3D(network, input_module=(weights or SCRATCH).make_input(size))
