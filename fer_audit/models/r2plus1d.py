"""R(2+1)D-18 (`resnet3d`; Tran et al. 2018) at 112x112; its weights entry
`KINETICS400_V1` (torchvision R2Plus1D_18_Weights.KINETICS400_V1) expects Kinetics
normalisation."""

from __future__ import annotations

from torch import nn
from torchvision.models.video import R2Plus1D_18_Weights, r2plus1d_18

from fer_audit.models.base import Clip3D
from fer_audit.models.weights import TORCHVISION_LICENCE, Weights, torchvision_entry

KINETICS400_V1 = torchvision_entry(
    R2Plus1D_18_Weights.KINETICS400_V1,
    provenance="Kinetics-400 (torchvision R2Plus1D_18_Weights.KINETICS400_V1)",
    licence=f"{TORCHVISION_LICENCE}, trained on Kinetics-400 (YouTube videos)",
    input_size=112,
    mean=(110.2008, 100.6398, 95.9948),
    std=(58.1477, 56.4698, 55.3322),
    scaling="Kinetics mean/std",
)


def build_resnet3d(
    num_classes: int, *, weights: Weights | None = None, weights_path=None, size=None
) -> Clip3D:
    network = r2plus1d_18(weights=None)
    if weights is not None:
        weights.load_into(network, weights_path)
    network.fc = nn.Linear(network.fc.in_features, num_classes)
    return Clip3D(network, input_module=(weights or KINETICS400_V1).make_input(size))
