"""A model a user brings (ONNX or TorchScript), made a model of fer-audit.

Every fer-audit model reads face crops (B, K, 3, H, W), RGB on 0-255, and returns
values whose softmax is its class probabilities (`fer_audit.models.base`). A model
file reads what its spec says (`fer_audit.models.import_spec.ImportSpec`), so:

- `SpecInput` turns the crops into that input: colour order (RGB, BGR, or gray as
  ITU-R 601 luma, as the fer package makes it), resize to the spec's size (bilinear,
  antialiased, as `ClipInput`), pixels on 0-255 or 0-1, then (x - mean) / std.
- `FrameModel` (input kind `frames`) classifies each keyframe's crop and returns the
  log of the mean over keyframes of each frame's probabilities, as `FerClipModel`
  does; its `frame_probabilities` gives the Live demo's per-keyframe view.
- `ClipModel` (kind `clip`) gives the network (B, C, T, H, W), T keyframes taken
  evenly from the K; its logits, or the log of its probabilities.

The network is a `Network`: a callable module from one tensor to one (N, classes)
tensor, run in chunks of the file's fixed batch size when it has one; the file
formats subclass it (`onnx_format.OnnxNetwork`, `torchscript_format.ScriptNetwork`).
Its output shape is checked on every call, so a file that does not give one value per
class of its spec is refused on import (`check_model`) and never misread later.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_audit.errors import DamagedFile, one_line
from fer_audit.models.import_spec import PIXELS, ImportSpec, SpecError, parse_spec

#: ITU-R 601 luma weights of R, G, B
LUMA = (0.299, 0.587, 0.114)


class ModelFileError(ValueError):
    """A model file that cannot be read, or that does not do what its spec says."""


def first_sentence(exc: BaseException, limit: int = 200) -> str:
    """The first sentence of an exception's message on one line (libraries append
    advice that does not apply here)."""
    text = one_line(exc, 10_000)
    cut = text.find(". ")
    return one_line(Exception(text if cut < 0 else text[: cut + 1]), limit)


class SpecInput(nn.Module):
    """Crops (B, K, 3, H, W), RGB on 0-255 -> (B, K, C, size, size) as the spec says."""

    def __init__(self, spec: ImportSpec):
        super().__init__()
        self.size, self.colour, self.channels = spec.size, spec.colour, spec.channels
        self.divisor = PIXELS[spec.pixels]
        shape = (1, spec.channels, 1, 1)
        self.register_buffer("mean", torch.tensor(spec.mean).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(shape), persistent=False)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, frames = clips.shape[:2]
        x = clips.flatten(0, 1).float()
        if self.colour == "gray":
            x = (x * self.luma).sum(dim=1, keepdim=True)
        elif self.colour == "bgr":
            x = x.flip(1)
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
            )
        x = (x / self.divisor - self.mean) / self.std
        return x.view(batch, frames, self.channels, self.size, self.size)


class Network(nn.Module):
    """The model file's own forward pass: (N, ...) -> (N, classes), in chunks of
    `batch` (padded with zeros, the padding's outputs dropped) when the file fixes
    its batch size. Subclasses implement `run` on one chunk."""

    def __init__(self, n_classes: int, batch: int | None, name: str = "it"):
        super().__init__()
        self.n_classes, self.batch, self.name = n_classes, batch, name

    def run(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch is None:
            out = self._checked(self.run(x), len(x))
        else:
            chunks = []
            for start in range(0, len(x), self.batch):
                chunk = x[start : start + self.batch]
                padded = F.pad(chunk, (0,) * (2 * (x.dim() - 1)) + (0, self.batch - len(chunk)))
                chunks.append(self._checked(self.run(padded), self.batch)[: len(chunk)])
            out = torch.cat(chunks)
        return out.to(x.device)

    def _checked(self, out, n: int) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise ModelFileError(
                f"{self.name} returns {type(out).__name__}, not one tensor of class scores"
            )
        if tuple(out.shape) != (n, self.n_classes):
            if out.dim() == 2 and out.shape[0] == n:
                raise ModelFileError(
                    f"{self.name} gives {out.shape[1]} outputs per input but its spec lists "
                    f"{self.n_classes} classes"
                )
            raise ModelFileError(
                f"{self.name} gives outputs of shape {tuple(out.shape)} for {n} input(s); "
                f"fer-audit reads ({n}, {self.n_classes}): one score per class of its spec"
            )
        return out.float()


class FrameModel(nn.Module):
    """Kind `frames`: each keyframe's crop classified, probabilities averaged over the
    keyframes; (B, K, 3, H, W) -> (B, classes) log of that mean."""

    def __init__(self, network: Network, spec: ImportSpec):
        super().__init__()
        self.input = SpecInput(spec)
        self.network = network
        self.gives_probabilities = spec.output == "probabilities"

    def frame_probabilities(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.input(clips)
        batch, frames = x.shape[:2]
        out = self.network(x.flatten(0, 1))
        probabilities = out if self.gives_probabilities else out.softmax(-1)
        return probabilities.view(batch, frames, -1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.frame_probabilities(clips).mean(dim=1).clamp_min(1e-12).log()


def even_indices(available: int, wanted: int) -> torch.Tensor:
    """`wanted` indices spread evenly over range(available), first and last included."""
    if wanted > available:
        raise ModelFileError(f"the model reads {wanted} frames but the clip has {available}")
    return torch.from_numpy(np.linspace(0, available - 1, wanted).round().astype(np.int64))


class ClipModel(nn.Module):
    """Kind `clip`: (B, K, 3, H, W) -> T of the K keyframes, evenly spaced, as
    (B, C, T, size, size) -> the network's logits (or the log of its probabilities)."""

    def __init__(self, network: Network, spec: ImportSpec):
        super().__init__()
        self.input = SpecInput(spec)
        self.network = network
        self.frames = spec.frames
        self.gives_probabilities = spec.output == "probabilities"

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        chosen = even_indices(clips.shape[1], self.frames).to(clips.device)
        x = self.input(clips.index_select(1, chosen)).permute(0, 2, 1, 3, 4).contiguous()
        out = self.network(x)
        return out.clamp_min(1e-12).log() if self.gives_probabilities else out


#: the wrapper of each input kind
WRAPPERS: dict[str, type[nn.Module]] = {"frames": FrameModel, "clip": ClipModel}


def wrap(network: Network, spec: ImportSpec) -> nn.Module:
    """The fer-audit model around `network`, as the spec's input kind says."""
    return WRAPPERS[spec.kind](network, spec).eval()


def check_model(model: nn.Module, spec: ImportSpec) -> np.ndarray:
    """Run `model` once on one clip of mid-gray crops at the spec's preprocessing size
    (so the network reads an input of the spec's shape); its (classes,) probabilities.
    ModelFileError when the file refuses the input, gives the wrong number of outputs,
    or gives values that are not finite, or not probabilities where the spec says so."""
    size, k = spec.preprocessing.size, spec.preprocessing.k
    clips = torch.full((1, k, 3, size, size), 128.0)
    raw: list[torch.Tensor] = []  # what the file itself returns
    hook = model.network.register_forward_hook(lambda module, args, out: raw.append(out))
    try:
        with torch.no_grad():
            out = model(clips)
    except ModelFileError:
        raise
    except Exception as exc:  # onnxruntime and TorchScript raise their own kinds
        raise ModelFileError(
            f"it does not accept an input of shape {spec.input_shape(_batch_of(spec))} as its "
            f"spec says (input kind {spec.kind}, colour {spec.colour}, size {spec.size}): "
            f"{first_sentence(exc)}"
        ) from None
    finally:
        hook.remove()
    if not torch.isfinite(raw[0]).all():
        raise ModelFileError("its outputs are not finite numbers (NaN or infinity)")
    if spec.output == "probabilities":
        sums = raw[0].sum(-1)
        if raw[0].min() < -1e-6 or raw[0].max() > 1 + 1e-6 or (sums - 1).abs().max() > 1e-3:
            raise ModelFileError(
                "its outputs are not probabilities (each between 0 and 1, summing to 1): if "
                'they are scores, set "output": "logits" in the spec'
            )
    return out.softmax(-1)[0].numpy()


def _batch_of(spec: ImportSpec) -> int:
    return spec.preprocessing.k if spec.kind == "frames" else 1


#: what to do about an imported model's folder that cannot be loaded
REIMPORT = (
    "import the model again (fer-audit models import FILE --format FORMAT --spec SPEC.json "
    "--name NAME --force, or the Live demo page), or delete its folder"
)


def load_imported(path: Path, meta: dict, open_network: Callable[..., Network]) -> nn.Module:
    """The fer-audit model of an imported model file `path` (its run.json `meta` holds
    the spec; `open_network(path, spec)` reads the file). DamagedFile naming run.json or
    the model file when either no longer holds what the import checked."""
    run_json = path.parent / "run.json"
    try:
        spec = parse_spec(meta.get("spec"), str(run_json))
    except SpecError as exc:
        raise DamagedFile(run_json, REIMPORT, str(exc)) from None
    if list(spec.classes) != list(meta["classes"]):
        raise DamagedFile(run_json, REIMPORT, "its classes differ from its spec's")
    try:
        return wrap(open_network(path, spec), spec)
    except ModelFileError as exc:
        raise DamagedFile(path, REIMPORT, str(exc)) from None
