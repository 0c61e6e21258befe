"""Loading pretrained weights for real, or saying exactly what is missing.

Three sources: torchvision weight enums (ImageNet, Kinetics) read from the torch hub
cache or a local file; the VGGFace state dict (the `vgg_face_dag.pth` naming:
conv1_1 ... fc8) from a local path; the VGGFace2 SE-ResNet-50 weights, a Python-2
pickle of numpy arrays (read with latin1), from a local path the operator gives.
Nothing here downloads, and nothing falls back to random weights: a missing file is
a `WeightsMissing` error that names the file and where to get it.

No file given to fer-audit can run code when it is read: torch files and the VGGFace2
pickle are read by `fer_audit.safe_load` (an `UnsafeFile` error when they would need to).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fer_audit.safe_load import load_tensors, read_array_pickle


class WeightsMissing(FileNotFoundError):
    """Pretrained weights were asked for and are not on this machine."""


def _hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def torchvision_state_dict(weights, weights_path: str | Path | None) -> dict:
    """The state dict of a torchvision weight enum, from `weights_path` or the torch hub
    cache (never downloaded here)."""
    path = Path(weights_path) if weights_path else _hub_file(weights.url)
    if not path.is_file():
        raise WeightsMissing(
            f"pretrained weights {weights} are not on this machine: download {weights.url} "
            f"to {_hub_file(weights.url)} (or pass its path with --weights)"
        )
    return load_tensors(path)


def load_state_dict_strict(module: nn.Module, state: dict, *, source: str) -> None:
    """Load `state` into `module`; every parameter and buffer must be present with the
    right shape, or the error names what does not fit."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        raise ValueError(
            f"{source} does not fit this model: {len(missing)} missing "
            f"({', '.join(missing[:5])}), {len(wrong)} with another shape ({', '.join(wrong[:5])})"
        )
    module.load_state_dict({k: torch.as_tensor(state[k]) for k in own})


VGGFACE_URL = "https://www.robots.ox.ac.uk/~albanie/pytorch-models.html (vgg_face_dag.pth)"
VGGFACE_LAYERS = [
    "conv1_1",
    "conv1_2",
    "conv2_1",
    "conv2_2",
    "conv3_1",
    "conv3_2",
    "conv3_3",
    "conv4_1",
    "conv4_2",
    "conv4_3",
    "conv5_1",
    "conv5_2",
    "conv5_3",
]


def vggface_state_dict(weights_path: str | Path | None) -> dict:
    """VGGFace (Parkhi et al. 2015) weights in the vgg_face_dag.pth naming, renamed to
    torchvision's VGG16 layout (features.N, classifier.0 = fc6, classifier.3 = fc7)."""
    if not weights_path or not Path(weights_path).is_file():
        raise WeightsMissing(
            f"VGGFace weights are not on this machine: download vgg_face_dag.pth from "
            f"{VGGFACE_URL} and pass its path with --weights"
        )
    raw = load_tensors(weights_path)
    conv_indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    renamed = {}
    for layer, index in zip(VGGFACE_LAYERS, conv_indices, strict=True):
        for kind in ("weight", "bias"):
            renamed[f"features.{index}.{kind}"] = raw[f"{layer}.{kind}"]
    for layer, index in (("fc6", 0), ("fc7", 3)):
        for kind in ("weight", "bias"):
            renamed[f"classifier.{index}.{kind}"] = raw[f"{layer}.{kind}"]
    return renamed


VGGFACE2_URL = "https://github.com/cydonia999/VGGFace2-pytorch (senet50_ft_weight.pkl)"


def vggface2_pickle(weights_path: str | Path | None) -> dict:
    """VGGFace2 SE-ResNet-50 weights: a Python-2 pickle {name: numpy array}, read with
    latin1 encoding by `read_array_pickle` (arrays of numbers and plain containers
    only: a pickle that asks for anything else is an `UnsafeFile`, and nothing in it
    runs)."""
    if not weights_path or not Path(weights_path).is_file():
        raise WeightsMissing(
            f"VGGFace2 SE-ResNet-50 weights are not on this machine: download "
            f"senet50_ft_weight.pkl from {VGGFACE2_URL} and pass its path with --weights"
        )
    raw = read_array_pickle(weights_path)
    return {name: torch.from_numpy(value) for name, value in raw.items()}
