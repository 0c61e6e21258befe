"""`train`, `evaluate` and `predict`: train runs, and their predictions on test
subjects or on one clip."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_audit.cli.common import _force, seed_list
from fer_audit.data import registry
from fer_audit.errors import FIX_LINE, DataProblem
from fer_audit.labels import SCHEMES, TRAIN_SETS
from fer_audit.options import add_options, option_values
from fer_audit.train.config import TrainConfig
from fer_audit.video.decode import MAX_CLIP_SECONDS, clock
from fer_audit.worker import report_progress
from fer_audit.workspace import Workspace

#: the preprocessing options `train` took before it named a preprocessing by its key
GONE_PREPROCESS_OPTIONS = ("--k", "--margin", "--size", "--detector")


class _Gone(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            f"{option_string} is no longer a train option: name the preprocessing to "
            "train on with --preprocess KEY (fer-audit datasets show DATASET lists them)"
        )


def add_parser(commands: argparse._SubParsersAction) -> None:
    trn = commands.add_parser("train", help="train one architecture on one training set")
    add_options(trn, TrainConfig, skip=("seed",))
    trn.add_argument(
        "--seed",
        "--seeds",
        dest="seeds",
        type=seed_list,
        default="0",
        help="seed, or comma-separated seeds (e.g. 1,2,3)",
    )
    trn.add_argument(
        "--preprocess",
        metavar="KEY",
        help="the preprocessing to train on, by its key (`fer-audit preprocess` prints it; "
        "`fer-audit datasets show` lists them); default: the dataset's only one",
    )
    trn.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    for flag in GONE_PREPROCESS_OPTIONS:  # jobs and scripts of older versions say why
        trn.add_argument(flag, action=_Gone, help=argparse.SUPPRESS)
    trn.set_defaults(handler=cmd_train)

    evl = commands.add_parser(
        "evaluate",
        help="predictions of runs on their test subjects, or of imported models on a dataset's",
    )
    evl.add_argument(
        "runs",
        nargs="+",
        help="run ids (folders under workspace/runs), or imported models: imported:NAME "
        "(fer-audit models list) or a folder such as checkpoints/fermini",
    )
    evl.add_argument(
        "--dataset",
        help="the registered dataset whose test split imported models are evaluated on "
        "(with their own preprocessing; a trained run is always evaluated on its own "
        "dataset's test subjects)",
    )
    evl.add_argument(
        "--scheme",
        default="paper4",
        choices=list(SCHEMES),
        help="label scheme imported models' classes are mapped onto (default paper4)",
    )
    evl.add_argument("--out", type=Path, help="Parquet file (default under workspace/predictions)")
    evl.add_argument(
        "--balanced",
        action="store_true",
        help="the paper's balanced test subset: as many videos per class per subject",
    )
    evl.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _force(evl)
    evl.set_defaults(handler=cmd_evaluate)

    prd = commands.add_parser(
        "predict",
        help=f"one clip (at most {clock(MAX_CLIP_SECONDS)} long) through one or more runs "
        "(JSON out)",
    )
    prd.add_argument("video", type=Path)
    prd.add_argument(
        "--run",
        action="append",
        required=True,
        dest="runs",
        help="run id in the workspace, or a run folder (e.g. checkpoints/fermini)",
    )
    prd.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    prd.set_defaults(handler=cmd_predict)


def cmd_train(args: argparse.Namespace, workspace: Workspace) -> int:
    """One run, or the study: `--arch all --train-set all --seeds 1,2,3` queues every
    combination and runs them one after another; a run that fails is reported and the
    queue goes on (finished runs are skipped when the queue is run again)."""
    from fer_audit.data.splits import load_split
    from fer_audit.models import MODELS
    from fer_audit.overview import preprocessing_settings
    from fer_audit.train.loop import train

    registry.load_dataset(workspace, args.dataset)  # a clear error for an unknown name
    preprocess = preprocessing_settings(workspace, args.dataset, args.preprocess)
    archs = list(MODELS) if args.arch == "all" else [args.arch]
    train_sets = [args.train_set]
    if args.train_set == "all":
        split = load_split(workspace.dataset_dir(args.dataset))
        train_sets = ["regular", *(split.groups if split else TRAIN_SETS[1:])]
    queue = [(a, t, s) for a in archs for t in train_sets for s in args.seeds]
    failed = []
    for number, (arch, train_set, seed) in enumerate(queue, start=1):
        if len(queue) > 1:
            print(f"[{number}/{len(queue)}] {arch} {train_set} seed {seed}")
        config = TrainConfig(
            **option_values(TrainConfig, args, skip=("seed", "arch", "train_set")),
            arch=arch,
            train_set=train_set,
            seed=seed,
            preprocess=preprocess,
        )

        def on_epoch(record, number=number, config=config):
            report_progress(
                (number - 1 + record["epoch"] / config.epochs) / len(queue),
                f"[{number}/{len(queue)}] {config.arch} {config.train_set} seed {config.seed}: "
                f"epoch {record['epoch']}/{config.epochs}, val accuracy "
                f"{record['val_accuracy']:.3f} (n={record['n_val']})",
            )

        try:
            report_progress(run_id=config.resolved().run_id())
            folder = train(workspace, config, device=args.device, on_epoch=on_epoch, log=print)
            print(f"run folder: {folder}")
        except (ValueError, OSError) as exc:
            if len(queue) == 1:
                raise
            fix = f"{FIX_LINE}{exc.fix}" if isinstance(exc, DataProblem) else None
            failed.append((f"failed: {arch} {train_set} seed {seed}: {exc}", fix))
            print(f"failed: {exc}", file=sys.stderr)
    for line, fix in failed:  # each with its fix: the job shows the last one's
        print(line, file=sys.stderr)
        if fix:
            print(fix, file=sys.stderr)
    return 1 if failed else 0


def cmd_evaluate(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.evaluate import evaluate_runs

    table, path = evaluate_runs(
        workspace,
        args.runs,
        out=args.out,
        balanced=args.balanced,
        device=args.device,
        force=args.force,
        dataset=args.dataset,
        scheme=args.scheme,
    )
    accuracy = (table["y_true"] == table["y_pred"]).groupby(table["run_id"], sort=False).mean()
    for run_id, value in accuracy.items():
        n = int((table["run_id"] == run_id).sum())
        print(f"{run_id}: accuracy {value:.3f} on {n} test videos")
    for mapping in table.attrs.get("class_mapping", []):
        print(describe_mapping(mapping))
    synthetic = "  [SYNTHETIC]" if table["synthetic"].any() else ""
    print(f"predictions: {path}{synthetic}  (next: fer-audit audit {path} --out DIR)")
    return 0


def describe_mapping(mapping: dict) -> str:
    """One line: what an imported model's mapping onto the scheme left out, and how."""
    run, scheme = mapping["run_id"], mapping["scheme"]
    if not mapping["unmapped"]:
        text = f"{run}: every class maps onto {scheme}"
    else:
        text = (
            f"{run}: classes not mapped under {scheme}: {', '.join(mapping['unmapped'])}; "
            f"left out, each video's other probabilities renormalised (on average "
            f"{mapping['mean_unmapped_share']:.1%} of the probability over "
            f"{mapping['videos']} test videos lay on them"
        )
        if mapping["videos_all_unmapped"]:
            text += f", all of it for {mapping['videos_all_unmapped']} of them: equal shares"
        text += ")"
    if mapping["never_predicted"]:
        text += f"; it can never predict {', '.join(mapping['never_predicted'])}"
    return text


def cmd_predict(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.predict import predict_clip

    result = predict_clip(args.video, args.runs, workspace=workspace, device=args.device)
    print(json.dumps({"video": str(args.video), **result}))
    return 0 if all(r["status"] == "ok" for r in result["runs"].values()) else 1
