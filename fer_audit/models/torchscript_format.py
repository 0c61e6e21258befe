"""TorchScript models a user brings, run on torch (`fer-audit models import --format
torchscript`).

Read with `torch.jit.load(map_location="cpu")`, which reads TorchScript's own archive
(its code in TorchScript, its tensors by TorchScript's restricted reader), never a
Python pickle: a file saved with `torch.save` is refused. TorchScript is deprecated in
torch 2.14.1 (`torch.jit.load` and `torch.jit.trace` warn and name `torch.export`),
but it still loads and runs, and it is the format people deliver; the warning is
silenced here only. Note that a TorchScript model is a program: it can run any torch
operation, so import only files you would run.

Nothing in the archive declares the input shape, so the spec is checked by running
the model once on import (`fer_audit.models.external.check_model`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from fer_audit.models.external import ModelFileError, Network, first_sentence, load_imported
from fer_audit.models.import_spec import ImportSpec

MODEL_FILE = "model.torchscript"


def runtime_version() -> str:
    return f"torch {torch.__version__} (torch.jit)"


class ScriptNetwork(Network):
    """A TorchScript module as a Network (moved to a device with the model)."""

    def __init__(self, module, n_classes: int, batch: int | None, name: str):
        super().__init__(n_classes, batch, name)
        self.module = module

    def run(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def open_network(path: Path, spec: ImportSpec, *, name: str = "it") -> ScriptNetwork:
    """The TorchScript module in `path`; ModelFileError (calling the file `name`) when
    torch cannot read it as TorchScript."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated")
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, ValueError, ...
        raise ModelFileError(
            f"{name} is not a TorchScript file torch can load ({first_sentence(exc)})"
        ) from None
    return ScriptNetwork(module.eval(), len(spec.classes), spec.batch, name)


def load(path: Path, meta: dict) -> nn.Module:
    """The imported TorchScript model at `path` (the registry's loader for arch
    `torchscript`)."""
    return load_imported(path, meta, open_network)
