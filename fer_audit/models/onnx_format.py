"""ONNX models a user brings, run on onnxruntime (`fer-audit models import --format onnx`).

The file is read into memory and handed to onnxruntime as bytes, never by path: a
model that keeps its weights in other files (ONNX external data, which names paths)
cannot then reach any file beside it, and is refused with a clear message, as is a
file onnxruntime cannot parse. The model must take one float input; its declared
shape (fixed dimensions only; named ones are free) must agree with its spec, and its
first output gives one score per class. A fixed batch size in the file is honoured by
running in chunks. onnxruntime runs on CUDA (CUDAExecutionProvider, offered by the
onnxruntime-gpu package on a CUDA machine) when it can, else on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_audit.models.external import ModelFileError, Network, first_sentence, load_imported
from fer_audit.models.import_spec import ImportSpec

MODEL_FILE = "model.onnx"
#: onnxruntime's words when a model loaded from bytes names an external data file
_EXTERNAL_DATA = ("external data", "model_path must not be empty")


def providers() -> list[str]:
    """onnxruntime's execution providers to use: CUDA first when it is offered."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    cuda = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []
    return [*cuda, "CPUExecutionProvider"]


def runtime_version() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__} ({', '.join(providers())})"


class OnnxNetwork(Network):
    """An onnxruntime session as a Network: float32 in, its first output back."""

    def __init__(self, session, n_classes: int, batch: int | None, name: str):
        super().__init__(n_classes, batch, name)
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name

    def run(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        (out,) = self.session.run([self.output_name], {self.input_name: array})
        return torch.from_numpy(np.asarray(out))


def open_network(path: Path, spec: ImportSpec, *, name: str = "it") -> OnnxNetwork:
    """The session of ONNX file `path`, checked against `spec` as far as the file
    declares it; ModelFileError (calling the file `name`) otherwise."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # fatal only: a refusal is said in our message
    options.intra_op_num_threads = torch.get_num_threads()  # as torch, e.g. one in the tests
    try:
        session = onnxruntime.InferenceSession(
            Path(path).read_bytes(), options, providers=providers()
        )
    except Exception as exc:  # onnxruntime's own kinds (InvalidProtobuf, Fail, ...)
        if any(marker in str(exc).lower() for marker in _EXTERNAL_DATA):
            raise ModelFileError(
                f"{name} keeps its weights in other files (ONNX external data); fer-audit "
                "imports one self-contained file: save the model with its weights inside"
            ) from None
        raise ModelFileError(
            f"{name} is not an ONNX model onnxruntime can load ({first_sentence(exc)})"
        ) from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelFileError(
            f"{name} takes {len(inputs)} inputs ({names}); fer-audit gives a model one tensor"
        )
    if inputs[0].type != "tensor(float)":
        raise ModelFileError(
            f"{name} reads {inputs[0].type}; fer-audit gives a model float32 input "
            "(tensor(float)), normalised as its spec says"
        )
    batch = _check_input(inputs[0].shape, spec, name)
    declared = outputs[0].shape
    if declared and isinstance(declared[-1], int) and declared[-1] != len(spec.classes):
        raise ModelFileError(
            f"{name} gives {declared[-1]} outputs per input but its spec lists "
            f"{len(spec.classes)} classes"
        )
    return OnnxNetwork(session, len(spec.classes), batch, name)


def _check_input(declared: list, spec: ImportSpec, name: str) -> int | None:
    """The file's fixed batch size (None: any), once its declared input shape agrees
    with the spec's; ModelFileError otherwise."""
    expected = spec.input_shape()
    shown = "(" + ", ".join(str(d) for d in declared) + ")"
    wanted = "(N, " + ", ".join(str(d) for d in expected[1:]) + ")"
    layout = "(N, C, T, H, W)" if spec.kind == "clip" else "(N, C, H, W)"
    if len(declared) != len(expected):
        raise ModelFileError(
            f"{name} reads input of shape {shown}, but its spec (input kind {spec.kind}) "
            f"gives {layout} = {wanted}"
        )
    fixed = [
        (axis, d, e)
        for axis, (d, e) in enumerate(zip(declared[1:], expected[1:], strict=True), start=1)
        if isinstance(d, int) and d > 0 and d != e
    ]
    if fixed:
        raise ModelFileError(
            f"{name} reads input of shape {shown}, but its spec gives {layout} = {wanted} "
            f"(channels from colour {spec.colour}, size {spec.size})"
        )
    file_batch = declared[0] if isinstance(declared[0], int) and declared[0] > 0 else None
    if file_batch and spec.batch and file_batch != spec.batch:
        raise ModelFileError(
            f"{name} fixes the batch size at {file_batch}, its spec at {spec.batch}"
        )
    return file_batch or spec.batch


def load(path: Path, meta: dict) -> nn.Module:
    """The imported ONNX model at `path` (the registry's loader for arch `onnx`)."""
    return load_imported(path, meta, open_network)
