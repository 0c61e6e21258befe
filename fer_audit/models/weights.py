"""Weights entries, and loading their files for real or saying exactly what is missing.

`Weights` is one set of weights an architecture can start from, after torchvision's
`Weights` (url, transforms, meta): the file, where to get it and under which licence,
and the input it expects (size, colour order, mean and std on the 0-255 scale, and the
module that prepares clips so). Each architecture's module declares its entries next
to its builder; builders take `weights=` (None: random initialisation) and the local
`weights_path` of the file.

The loaders read three kinds of file: torchvision weight enums (ImageNet, Kinetics)
from the torch hub cache or a local file; the VGGFace state dict (the
`vgg_face_dag.pth` naming: conv1_1 ... fc8) from a local path; the VGGFace2
SE-ResNet-50 weights, a Python-2 pickle of numpy arrays (read with latin1), from a
local path the operator gives. Nothing here downloads, and nothing falls back to
random weights: a missing file is a `WeightsMissing` error that names the file and
where to get it.

No file given to fer-audit can run code when it is read: torch files and the VGGFace2
pickle are read by `fer_audit.safe_load` (an `UnsafeFile` error when they would need to).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from fer_audit.models.base import ClipInput
from fer_audit.safe_load import load_tensors, read_array_pickle


class WeightsMissing(FileNotFoundError):
    """Pretrained weights were asked for and are not on this machine."""


@dataclass(frozen=True)
class Weights:
    """One set of weights of an architecture and the input they expect.

    Every model of the architecture reads its input as its default entry says, with
    or without the weights loaded (a model trained from scratch and a fine-tuned one
    read the same crops). An entry with no `file_name` has nothing to load (an
    architecture trained from scratch); it still declares the input.
    """

    name: str  # e.g. "IMAGENET1K_V1"
    file_name: str | None  # the file the user places (None: nothing to load)
    source: str  # how to obtain it: a URL, or what to run
    licence: str
    provenance: str  # one line: what the weights are and whose
    input_size: int  # frames are resized to input_size x input_size
    mean: tuple[float, ...]  # per channel, on the 0-255 scale
    std: tuple[float, ...]
    scaling: str  # the normalisation in words ("ImageNet mean/std", "[0, 1]", ...)
    colour: str = "RGB"  # the channel order the weights expect
    #: weights_path -> state dict of the weights' network (WeightsMissing when absent)
    loader: Callable[[str | Path | None], dict] | None = None
    #: (size, (mean, std)) -> the module that turns crops (B, K, 3, H, W) on 0-255
    #: into what the network reads
    transforms: Callable[..., nn.Module] = ClipInput

    def __str__(self) -> str:
        if self.file_name is None:
            return self.provenance
        return f"{self.provenance}, file {self.file_name}, licence: {self.licence}"

    @property
    def stats(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.mean, self.std

    def make_input(self, size: int | None = None) -> nn.Module:
        """The input module at `size` (default the entry's input size)."""
        return self.transforms(size or self.input_size, self.stats)

    def load_into(
        self, module: nn.Module, weights_path: str | Path | None, *, drop: tuple[str, ...] = ()
    ) -> None:
        """Load the file into `module` (its parameters named in `drop`, by prefix, left
        out: a classifier the model replaces); every other parameter must fit."""
        if self.loader is None:
            raise ValueError(f"{self.provenance}: there are no weights to load")
        state = {k: v for k, v in self.loader(weights_path).items() if not k.startswith(drop)}
        load_state_dict_strict(module, state, source=f"the {self.provenance} weights file")


def _hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


#: ImageNet statistics on the 0-255 scale (torchvision's ImageNet weights), RGB
IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
#: the weights torchvision publishes (BSD-3-Clause code; the data's terms may apply)
TORCHVISION_LICENCE = "BSD-3-Clause (torchvision)"


def torchvision_entry(
    weights, *, provenance: str, licence: str, input_size: int, mean, std, scaling: str
) -> Weights:
    """The entry of a torchvision weight enum: its file in the torch hub cache (or any
    local path given with --weights), never downloaded here."""
    return Weights(
        name=weights.name,
        file_name=Path(weights.url).name,
        source=f"download {weights.url} into the torch hub cache ($TORCH_HOME/hub/checkpoints) "
        "or pass its path with --weights",
        licence=licence,
        provenance=provenance,
        input_size=input_size,
        mean=mean,
        std=std,
        scaling=scaling,
        loader=partial(torchvision_state_dict, weights),
    )


def imagenet_entry(weights) -> Weights:
    """The entry of a torchvision ImageNet enum (224 px, ImageNet mean/std)."""
    return torchvision_entry(
        weights,
        provenance=f"ImageNet (torchvision {type(weights).__name__}.{weights.name})",
        licence=f"{TORCHVISION_LICENCE}, ImageNet terms (non-commercial research)",
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        scaling="ImageNet mean/std",
    )


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
