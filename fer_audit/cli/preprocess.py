"""`preprocess`: face crops and keyframes of a dataset, cached."""

from __future__ import annotations

import argparse
import sys

from fer_audit.options import add_options, bounded, option_values
from fer_audit.video.outcome import shortfall, too_short_hint
from fer_audit.video.settings import PreprocessSettings
from fer_audit.worker import report_progress
from fer_audit.workspace import Workspace

#: upper bound of a resource option: beyond it a run would only exhaust the machine
MAX_WORKERS = 64


def add_parser(commands: argparse._SubParsersAction) -> None:
    pre = commands.add_parser("preprocess", help="face crops and keyframes of a dataset, cached")
    pre.add_argument("dataset")
    add_options(pre, PreprocessSettings)
    pre.add_argument(
        "--workers",
        type=bounded(1, MAX_WORKERS),
        default=1,
        help=f"processes on this machine (1-{MAX_WORKERS}; each holds a face detector)",
    )
    pre.add_argument(
        "--shard",
        help="I/N: this process takes every N-th video from the I-th "
        "(default: SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, else all)",
    )
    pre.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pre.add_argument(
        "--report-only",
        action="store_true",
        help="only rebuild the report (e.g. after every shard has finished)",
    )
    pre.set_defaults(handler=cmd_preprocess)


def cmd_preprocess(args: argparse.Namespace, workspace: Workspace) -> int:
    from tqdm import tqdm

    from fer_audit.video.batch import Shard, preprocess_dataset, write_report

    settings = PreprocessSettings(**option_values(PreprocessSettings, args))
    shard = Shard.parse(args.shard)
    if args.report_only:
        print(f"report: {write_report(workspace, args.dataset, settings)}")
        return 0
    if args.detector == "none":
        print("detector none: the whole frame is taken as the face (for synthetic data)")
    with tqdm(unit="video", desc=f"preprocess {args.dataset}") as bar:

        def progress(done, total, video_id, status):
            bar.total = total
            bar.update(done - bar.n)
            report_progress(done / max(total, 1), f"{done}/{total} videos")
            if status != "ok":
                bar.write(f"{video_id}: {status}")

        summary = preprocess_dataset(
            workspace,
            args.dataset,
            settings,
            workers=args.workers,
            shard=shard,
            device=args.device,
            progress=progress,
        )
    print(f"settings {settings.key()}, shard {shard.index}/{shard.count}")
    print("\n".join(summary.lines()))
    short = shortfall(summary.statuses)
    if short is None:
        return 0
    hint = f"; {too_short_hint(settings.k)}" if summary.statuses.get("too_short") else ""
    if summary.statuses.get("ok", 0) == 0:
        print(f"error: no video is usable: {short}{hint}", file=sys.stderr)
        return 1
    print(f"warning: only {short}{hint}")
    return 0
