"""Importing a model a user brings (ONNX or TorchScript, with its spec) as a run folder
beside checkpoints/fermini: the same function behind `fer-audit models import` and
the Live demo page's form.

`import_model` works in this order, and writes nothing until every check passed:

1. the NAME is plain and resolves inside the checkpoints folder; a model of that name
   is replaced only with `force`, and only when it is an imported model (a folder with
   a run.json);
2. the spec is already checked (`fer_audit.models.import_spec`);
3. the file (a path, or an upload's bytes) is copied in chunks, hashed, and refused
   past `MAX_MODEL_BYTES`, into a hidden folder beside the target (`.tmp-import-...`,
   which listings skip);
4. that copy (what is kept is what was checked) is loaded by its format's reader and
   run once on one clip, so the file reads an input of the spec's shape and gives one
   score per class (`fer_audit.models.external.check_model`);
5. spec.json and run.json (classes, emotions, what each scheme leaves unmapped,
   provenance with the file's SHA-256) are written there, and the folder is renamed
   into place (an old one moved aside first, then deleted).

Any failure removes the hidden folder: a refused import leaves nothing behind. With a
workspace, the whole import holds its lock for the target, so two imports of one
name never interleave. `list_imported` reads the folders back for `models list`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from fer_audit import atomic
from fer_audit.errors import DamagedFile, read_all
from fer_audit.labels import SCHEMES
from fer_audit.models import onnx_format, torchscript_format
from fer_audit.models.external import ModelFileError, check_model, wrap
from fer_audit.models.import_spec import ImportSpec
from fer_audit.train.runs import read_run_json
from fer_audit.version import code_version
from fer_audit.workspace import checkpoints_dir, contained

#: the formats a model can be imported in, and the module that reads each
FORMAT_READERS = {"onnx": onnx_format, "torchscript": torchscript_format}
#: the largest model file imported (the whole file is read into memory to load it)
MAX_MODEL_BYTES = 1 << 30
_CHUNK = 1 << 20


class ImportRefused(ValueError):
    """An import that cannot go ahead; the message says why in one line."""


@dataclass(frozen=True)
class ImportedModel:
    """An imported model's folder and what the import checked and recorded."""

    folder: Path
    name: str
    fmt: str
    spec: ImportSpec
    sha256: str
    size_bytes: int
    probabilities: tuple[float, ...]  # on the check's clip of mid-gray crops

    def unmapped(self) -> dict[str, list[str]]:
        """{label scheme: the model's classes that have no class there}."""
        return {n: self.spec.model_classes.unmapped(s) for n, s in SCHEMES.items()}

    def summary(self) -> list[str]:
        """What an import says: where, what it reads, and what is left unmapped."""
        spec = self.spec
        reads = (
            f"single face crops, {spec.size}x{spec.size} {spec.colour}, averaged over "
            f"{spec.preprocessing.k} keyframes"
            if spec.kind == "frames"
            else f"clips of {spec.frames} of {spec.preprocessing.k} keyframes, "
            f"{spec.size}x{spec.size} {spec.colour}"
        )
        lines = [
            f"imported {self.name} ({self.fmt}, {self.size_bytes / 1e6:.1f} MB, sha256 "
            f"{self.sha256[:12]}) to {self.folder}",
            f"it reads {reads}; {len(spec.classes)} classes: {', '.join(spec.classes)}",
        ]
        lines += unmapped_lines(self.spec.model_classes)
        return lines


def unmapped_lines(model_classes) -> list[str]:
    """Per label scheme, which of a model's classes are not mapped there and which of
    the scheme's classes it can never predict (one line each; "all mapped" too)."""
    lines = []
    for name, scheme in SCHEMES.items():
        unmapped = model_classes.unmapped(scheme)
        never = model_classes.never_predicted(scheme)
        text = (
            f"not mapped under {name} (left out, the rest renormalised): {', '.join(unmapped)}"
            if unmapped
            else f"every class is mapped under {name}"
        )
        if never:
            text += f"; it can never predict {', '.join(never)} there"
        lines.append(text)
    return lines


def import_model(
    source: str | Path | bytes,
    *,
    fmt: str,
    spec: ImportSpec,
    name: str,
    force: bool = False,
    checkpoints: Path | None = None,
    source_name: str | None = None,
    workspace=None,
) -> ImportedModel:
    """Import the model file `source` (a path, or bytes named `source_name`) in format
    `fmt` as checkpoints/NAME; see the module's docstring for the steps. ImportRefused,
    SpecError or ModelFileError (all ValueErrors, one line) when it cannot be done, and
    then nothing is written."""
    if fmt not in FORMAT_READERS:
        raise ImportRefused(f"unknown format {fmt!r}; use one of {', '.join(FORMAT_READERS)}")
    reader = FORMAT_READERS[fmt]
    base = Path(checkpoints or checkpoints_dir())
    target = contained(base, name, what="model")
    shown = source_name or (str(source) if not isinstance(source, bytes) else "the upload")
    lock = workspace.lock(f"import-{target.resolve()}") if workspace else contextlib.nullcontext()
    with lock:
        _check_replaceable(target, name, force)
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-import-{name}.", dir=base))
        try:
            model_path = staging / reader.MODEL_FILE
            sha256, size = _copy(source, model_path, shown)
            try:
                model = wrap(reader.open_network(model_path, spec), spec)
                probabilities = check_model(model, spec)
            except ModelFileError as exc:
                raise ModelFileError(f"{shown} cannot be imported: {exc}") from None
            imported = ImportedModel(
                target, name, fmt, spec, sha256, size, tuple(map(float, probabilities))
            )
            atomic.write_json(staging / "spec.json", spec.to_dict())
            atomic.write_json(staging / "run.json", _run_json(imported, reader, shown))
            _move_into_place(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return imported


def default_name(file_name: str | Path) -> str:
    """A model's default name: its file's name without extension, made plain."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", Path(file_name).stem).lstrip("-._+")[:100] or "model"


def _check_replaceable(target: Path, name: str, force: bool) -> None:
    if not (target.exists() or target.is_symlink()):
        return
    if not force:
        raise ImportRefused(
            f"an imported model {name!r} already exists ({target}); choose another name, or "
            "replace it (--force, or tick 'Replace' on the page)"
        )
    if target.is_symlink() or not (target / "run.json").is_file():
        raise ImportRefused(
            f"{target} is not an imported model (no run.json); fer-audit will not replace "
            "it: choose another name"
        )


def _copy(source: str | Path | bytes, destination: Path, shown: str) -> tuple[str, int]:
    """Copy `source` to `destination` in chunks; (SHA-256, size). ImportRefused when it
    is missing, not a file, empty or larger than MAX_MODEL_BYTES."""
    digest, size = hashlib.sha256(), 0
    limit = f"{MAX_MODEL_BYTES / 1e6:g} MB"
    if isinstance(source, bytes):
        if len(source) > MAX_MODEL_BYTES:
            raise ImportRefused(f"{shown} is larger than {limit}, the most fer-audit imports")
        destination.write_bytes(source)
        digest.update(source)
        size = len(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImportRefused(f"{shown} is not a file")
        if path.stat().st_size > MAX_MODEL_BYTES:  # refused unread; the copy counts too
            raise ImportRefused(f"{shown} is larger than {limit}, the most fer-audit imports")
        with open(path, "rb") as src, open(destination, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > MAX_MODEL_BYTES:
                    raise ImportRefused(
                        f"{shown} is larger than {limit}, the most fer-audit imports"
                    )
                digest.update(chunk)
                out.write(chunk)
    if size == 0:
        raise ImportRefused(f"{shown} is empty")
    return digest.hexdigest(), size


def _run_json(model: ImportedModel, reader, shown: str) -> dict:
    spec = model.spec
    return {
        "run_id": model.name,
        "arch": model.fmt,
        "status": "imported",
        "description": spec.description or f"a {model.fmt} model imported from {Path(shown).name}",
        "classes": list(spec.classes),
        "emotions": list(spec.emotions),
        "unmapped": model.unmapped(),
        "input_size": spec.size,
        "input_kind": spec.kind,
        "preprocessing": asdict(spec.preprocessing),
        "spec": spec.to_dict(),
        "train_set": f"{spec.trained_on} (external)" if spec.trained_on else "external",
        "seed": None,
        "synthetic": False,
        "model_file": reader.MODEL_FILE,
        "provenance": {
            "imported_from": Path(shown).name,
            "sha256": model.sha256,
            "bytes": model.size_bytes,
            "runtime": reader.runtime_version(),
            "licence": spec.licence or "not stated in its spec",
            "source": spec.source or "not stated in its spec",
        },
        "code_version": code_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an old `target` is moved aside first and deleted
    after, so a reader sees the old model or the new one, never a mix."""
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".tmp-replaced-{target.name}.", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        old.rename(target)  # put the old model back
        raise
    shutil.rmtree(old, ignore_errors=True)


def imported_folders(checkpoints: Path) -> list[Path]:
    """The run folders under `checkpoints` that hold a run.json, by name (hidden ones,
    such as an import being written, left out)."""
    if not checkpoints.is_dir():
        return []
    return sorted(
        p.parent for p in checkpoints.glob("*/run.json") if not p.parent.name.startswith(".")
    )


@dataclass(frozen=True)
class ImportedInfo:
    """An imported model as `models list` shows it: its folder and run.json."""

    folder: Path
    meta: dict


def list_imported(
    checkpoints: Path | None = None, *, damaged: list[DamagedFile] | None = None
) -> list[ImportedInfo]:
    """The imported models under the checkpoints folder (fermini and models imported
    as ONNX or TorchScript), by name; a damaged run.json is added to `damaged` when a
    list is given, else raised."""
    folders = imported_folders(Path(checkpoints or checkpoints_dir()))
    return read_all(folders, lambda f: ImportedInfo(f, read_run_json(f)), damaged)
