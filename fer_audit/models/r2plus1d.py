"""R(2+1)D-18 (`resnet3d`; Tran et al. 2018) at 112x112, with Kinetics-400 weights
where available (torchvision R2Plus1D_18_Weights.KINETICS400_V1, Kinetics
normalisation)."""

from __future__ import annotations

from torch import nn
from torchvision.models.video import R2Plus1D_18_Weights, r2plus1d_18

from fer_audit.models.base import KINETICS, Clip3D
from fer_audit.models.weights import load_state_dict_strict, torchvision_state_dict


def build_resnet3d(
    num_classes: int, *, pretrained: bool = False, weights_path=None, size: int | None = None
) -> Clip3D:
    network = r2plus1d_18(weights=None)
    if pretrained:
        state = torchvision_state_dict(R2Plus1D_18_Weights.KINETICS400_V1, weights_path)
        load_state_dict_strict(network, state, source="R(2+1)D-18 Kinetics weights")
    network.fc = nn.Linear(network.fc.in_features, num_classes)
    return Clip3D(network, size=size or 112, stats=KINETICS)
