"""`demo`: build the demo workspace (sample clips, the FER2013 model, SYNTHETIC data
with a planted bias, small trained models and their audit)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from fer_audit.cli.common import _csv_list, seed_list
from fer_audit.options import bounded
from fer_audit.workspace import Busy, Workspace

if TYPE_CHECKING:
    from fer_audit.demo import DemoSettings


def add_parser(commands: argparse._SubParsersAction) -> None:
    dem = commands.add_parser(
        "demo",
        help="build the demo workspace: sample clips, the FER2013 model, SYNTHETIC data "
        "with a planted bias, small trained models and their audit",
    )
    dem.add_argument("--if-missing", action="store_true", help="do nothing if it is built")
    dem.add_argument("--reset", action="store_true", help="remove the demo's files first")
    dem.add_argument(
        "--background",
        action="store_true",
        help="build it in a detached process and return at once (as `make run` does); "
        "the dashboard shows its progress",
    )
    dem.add_argument("--per-group", type=bounded(2, 1000), help="subjects per gender (default 16)")
    dem.add_argument(
        "--test-per-group", type=bounded(1, 1000), help="test subjects per gender (default 8)"
    )
    dem.add_argument("--seeds", type=seed_list, help="comma-separated (default 1,2)")
    dem.add_argument("--train-sets", help="comma-separated (default regular,female,male)")
    dem.add_argument(
        "--epochs", type=bounded(1, 10_000), help="per run, no early stopping (default 30)"
    )
    dem.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.demo import DemoFailed, build_demo, demo_record, start_demo_build

    settings = demo_settings(args)
    if args.background:
        if args.reset:
            raise ValueError("--reset cannot run in the background: run `make demo-reset`")
        print(start_demo_build(workspace, settings))
        return 0
    if args.if_missing and not args.reset and (demo_record(workspace) or {}).get("status"):
        print(f"the demo is built in {workspace.root} (make demo-reset rebuilds it)")
        return 0
    print(
        f"building the demo in {workspace.root}: real sample clips and the FER2013 model, "
        f"SYNTHETIC data ({settings.per_group} + {settings.per_group} drawn subjects), "
        f"{len(settings.seeds) * len(settings.train_sets)} small 3dcnn runs, their audit"
    )
    try:
        record = build_demo(workspace, settings, reset=args.reset)
    except DemoFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Busy:
        print(
            f"error: another demo build is running in {workspace.root}; its progress is on "
            "the dashboard's Home page",
            file=sys.stderr,
        )
        return 1
    for step, seconds in record["steps"].items():
        print(f"  {step:16s} {seconds:7.1f} s")
    print(f"audit of the demo: {record['audit']} (report: {record['report']})")
    return 0


def demo_settings(args: argparse.Namespace) -> DemoSettings:
    """DemoSettings with the options given on the command line, the rest its defaults."""
    from fer_audit.demo import DemoSettings

    given = {
        "per_group": args.per_group,
        "test_per_group": args.test_per_group,
        "seeds": tuple(args.seeds) if args.seeds else None,
        "train_sets": tuple(_csv_list(args.train_sets)) if args.train_sets else None,
        "epochs": args.epochs,
        "patience": args.epochs,
    }
    return DemoSettings(**{k: v for k, v in given.items() if v is not None})
