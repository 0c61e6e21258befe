"""`datasets add | upload | delete | list | show | split`: register, upload, delete and
inspect datasets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_audit.cli.common import _csv_list, describe_dataset
from fer_audit.data import registry, splits
from fer_audit.data.archive import LIMITS
from fer_audit.data.deletion import delete_dataset
from fer_audit.data.index import MAX_PROBLEMS_SHOWN
from fer_audit.data.uploads import is_uploaded, upload_dataset
from fer_audit.options import bounded
from fer_audit.seeding import MAX_SEED
from fer_audit.workspace import Workspace


def add_parser(commands: argparse._SubParsersAction) -> None:
    datasets = commands.add_parser("datasets", help="register and inspect datasets")
    ds = datasets.add_subparsers(title="datasets commands")
    datasets.set_defaults(handler=lambda args, workspace: datasets.print_help() or 2)
    add = ds.add_parser("add", help="register a dataset folder (or a manifest CSV)")
    add.add_argument("name")
    add.add_argument("path")
    add.add_argument("--kind", required=True, choices=registry.KINDS)
    add.add_argument(
        "--subjects",
        help="subject table CSV subject,gender (SASE-FE), or VideoDemographics.csv (CREMA-D)",
    )
    add.add_argument(
        "--genders",
        help="comma-separated gender labels the subject table may "
        "use; others are errors (default: any label)",
    )
    add.add_argument("--replace", action="store_true", help="replace a registration")
    add.set_defaults(handler=cmd_datasets_add)
    upload = ds.add_parser(
        "upload",
        help="store a zip of videos in the workspace and register it",
        description="Unpack ZIP into workspace/uploads/NAME and register it. The zip "
        "holds videos and, unless --manifest is given, a manifest.csv (path, subject, "
        f"gender, emotion[, authenticity]) at its root; {LIMITS.describe()}.",
    )
    upload.add_argument("zip", type=Path)
    upload.add_argument(
        "--manifest", type=Path, help="manifest CSV, its paths relative to the zip's root"
    )
    upload.add_argument("--name", required=True, help="the dataset's name in the workspace")
    upload.set_defaults(handler=cmd_datasets_upload)
    delete = ds.add_parser(
        "delete",
        help="remove a dataset's registration (and an upload's stored copy)",
        description="Remove the registration; for an uploaded dataset also its stored "
        "copy under workspace/uploads. A folder dataset's folder is left untouched; "
        "runs, predictions and audits made from it are kept (and listed). Asks nothing.",
    )
    delete.add_argument("name")
    delete.set_defaults(handler=cmd_datasets_delete)
    lst = ds.add_parser("list", help="list registered datasets")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_datasets_list)
    show = ds.add_parser("show", help="show one dataset's registration")
    show.add_argument("name")
    show.add_argument("--all", action="store_true", help="list every skipped file")
    show.set_defaults(handler=cmd_datasets_show)
    split = ds.add_parser("split", help="draw (or show) the held-out test subjects")
    split.add_argument("name")
    split.add_argument("--seed", type=bounded(0, MAX_SEED), default=0)
    split.add_argument("--per-group", type=bounded(1, 10_000), default=5)
    split.add_argument("--groups", help="comma-separated groups to balance (default: all)")
    split.add_argument("--redraw", action="store_true", help="replace an existing split")
    split.set_defaults(handler=cmd_datasets_split)


def cmd_datasets_add(args: argparse.Namespace, workspace: Workspace) -> int:
    dataset, result = registry.register_dataset(
        workspace,
        args.name,
        args.path,
        kind=args.kind,
        subjects=args.subjects,
        allowed_genders=_csv_list(args.genders),
        replace=args.replace,
    )
    print(describe_dataset(dataset.meta))
    skipped = [{"path": s.path, "reason": s.reason} for s in result.skipped]
    _print_skipped(skipped, args.name, MAX_PROBLEMS_SHOWN)
    for note in result.notes:
        print(f"note: {note}")
    return 0


def cmd_datasets_upload(args: argparse.Namespace, workspace: Workspace) -> int:
    upload = upload_dataset(workspace, args.zip, name=args.name, manifest=args.manifest)
    print(describe_dataset(upload.dataset.meta))
    print(
        f"stored in the workspace: {upload.stored_at} ({upload.files} files, "
        f"{upload.bytes:,} bytes); delete it with: fer-audit datasets delete {args.name}"
    )
    skipped = [{"path": s.path, "reason": s.reason} for s in upload.result.skipped]
    _print_skipped(skipped, args.name, MAX_PROBLEMS_SHOWN)
    for note in [*upload.result.notes, *upload.notes]:
        print(f"note: {note}")
    return 0


def cmd_datasets_delete(args: argparse.Namespace, workspace: Workspace) -> int:
    deletion = delete_dataset(workspace, args.name)
    print(f"deleted dataset {args.name}:")
    for line in deletion.removed:
        print(f"  removed {line}")
    for line in deletion.kept:
        print(f"  kept: {line}")
    return 0


def _print_skipped(skipped: list[dict], name: str, limit: int | None) -> None:
    if not skipped:
        return
    print(f"skipped {len(skipped)} file(s):")
    for item in skipped[:limit]:
        print(f"  {item['path']}: {item['reason']}")
    if limit is not None and len(skipped) > limit:
        print(f"  ... and {len(skipped) - limit} more (fer-audit datasets show {name} --all)")


def cmd_datasets_list(args: argparse.Namespace, workspace: Workspace) -> int:
    """Every registered dataset; a damaged registration is named on stderr (exit 1)
    and the others are still listed."""
    damaged: list = []
    metas = registry.list_datasets(workspace, damaged=damaged)
    if args.json:
        print(json.dumps(metas, indent=2))
    elif not metas and not damaged:
        print(f"no datasets in {workspace.root}; add one with `fer-audit datasets add`")
    else:
        for meta in metas:
            print(describe_dataset(meta))
    for exc in damaged:
        print(f"error: {exc}", file=sys.stderr)
    return 1 if damaged else 0


def cmd_datasets_show(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.overview import preprocessing_reports

    dataset = registry.load_dataset(workspace, args.name)
    print(describe_dataset(dataset.meta))
    print(f"root: {dataset.root}")
    if is_uploaded(workspace, dataset.meta):
        print(
            f"uploaded: stored in the workspace at {workspace.upload_dir(args.name)}; "
            f"delete it with: fer-audit datasets delete {args.name}"
        )
    print(
        "videos per emotion: "
        + ", ".join(f"{e} {n}" for e, n in dataset.meta["videos_per_emotion"].items())
    )
    _print_skipped(dataset.meta["skipped"], args.name, None if args.all else MAX_PROBLEMS_SHOWN)
    for note in dataset.meta["notes"]:
        print(f"note: {note}")
    split = splits.load_split(workspace.dataset_dir(args.name))
    if split:
        print(describe_split(split))
    damaged: list = []
    for report in preprocessing_reports(workspace, args.name, damaged=damaged):  # newest first
        print(f"preprocessing {report.key}: {report.describe()}")
    for exc in damaged:  # named; the registration above is shown all the same
        print(f"note: {exc}")
    return 0


def cmd_datasets_split(args: argparse.Namespace, workspace: Workspace) -> int:
    registry.load_dataset(workspace, args.name)  # a clear error for an unknown name
    existing = None if args.redraw else splits.load_split(workspace.dataset_dir(args.name))
    if existing:
        print(describe_split(existing))
        print("(existing split kept; --redraw replaces it)")
        return 0
    split = registry.draw_dataset_split(
        workspace,
        args.name,
        per_group=args.per_group,
        groups=_csv_list(args.groups),
        seed=args.seed,
    )
    print(describe_split(split))
    return 0


def describe_split(split: splits.HeldOutSplit) -> str:
    parts = "; ".join(f"{g}: {', '.join(split.test_subjects[g])}" for g in split.groups)
    return f"test subjects (seed {split.seed}, {split.per_group} per group) -- {parts}"
