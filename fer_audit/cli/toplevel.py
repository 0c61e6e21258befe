"""The top of the command line: `main`, and `build_parser`, which makes the `fer-audit`
parser and adds each command group's commands. Each subcommand calls the library, as
the dashboard does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fer_audit.cli import (
    audit,
    datasets,
    demo,
    housekeeping,
    models,
    preprocess,
    runs,
    study,
    synth,
    train,
)
from fer_audit.data.index import DatasetError
from fer_audit.errors import FIX_LINE, DataProblem
from fer_audit.fetch import WheelUnavailable
from fer_audit.procs import TERMINATED_EXIT, Terminated, sigterm_unwinds
from fer_audit.version import code_version
from fer_audit.workspace import Busy, Workspace


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    workspace = Workspace.from_env(args.workspace)
    try:
        with sigterm_unwinds():
            return args.handler(args, workspace) or 0
    except (DatasetError, ValueError, OSError, WheelUnavailable, Busy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, DataProblem):
            print(f"{FIX_LINE}{exc.fix}", file=sys.stderr)
        return 2
    except Terminated:
        print("cancelled (SIGTERM)", flush=True)
        return TERMINATED_EXIT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fer-audit",
        description="Audit video facial-expression-recognition models for gender bias.",
    )
    parser.add_argument("--version", action="version", version=code_version())
    parser.add_argument(
        "--workspace", help="workspace folder (default $FER_AUDIT_WORKSPACE or ./workspace)"
    )
    commands = parser.add_subparsers(title="commands")
    for group in (
        datasets,
        preprocess,
        models,
        train,
        runs,
        study,
        audit,
        housekeeping,
        demo,
        synth,
    ):
        group.add_parser(commands)
    return parser
