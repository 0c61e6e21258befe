"""`audit`, `compare`, `plan` and `report`: the audit of a predictions table (or the
published results), the difference between two runs' gaps (paired over the same
subjects), the sample-size planner, and an audit's HTML report."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from fer_audit.cli.common import _force
from fer_audit.fairness.settings import NOT_FOR_COMPARISON, REFERENCES, AuditSettings
from fer_audit.options import add_options, bounded, option_values
from fer_audit.outputs import check_output
from fer_audit.seeding import MAX_SEED
from fer_audit.workspace import Workspace


def add_parser(commands: argparse._SubParsersAction) -> None:
    aud = commands.add_parser("audit", help="audit a predictions table or the published results")
    aud.add_argument("predictions", nargs="?", type=Path, help="predictions table (.parquet/.csv)")
    aud.add_argument("--reference", choices=REFERENCES, help="audit the paper's tables")
    aud.add_argument("--out", type=Path, required=True, help="folder for the audit tables")
    add_options(aud, AuditSettings)
    _force(aud)
    aud.set_defaults(handler=cmd_audit)

    cmp = commands.add_parser(
        "compare",
        help="the difference between two runs' gap, with an interval from a paired "
        "bootstrap over the same test subjects",
    )
    cmp.add_argument("predictions", type=Path, help="predictions table (.parquet/.csv)")
    cmp.add_argument("--first", required=True, help="run id of the first model")
    cmp.add_argument("--second", required=True, help="run id of the second model")
    cmp.add_argument(
        "--definition", required=True, help="gap definition, e.g. equal_opportunity or eqop_paper"
    )
    cmp.add_argument(
        "--class", dest="cls", required=True, help="class of the gap: e.g. sad, or all, worst..."
    )
    add_options(cmp, AuditSettings, skip=NOT_FOR_COMPARISON)
    cmp.add_argument("--json", action="store_true", help="print the result as JSON")
    cmp.set_defaults(handler=cmd_compare)

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


def cmd_audit(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.fairness.run import run_audit

    settings = AuditSettings(**option_values(AuditSettings, args))
    check_output(args.out, kind="audit", force=args.force, workspace=workspace)
    result = run_audit(settings, predictions=args.predictions, reference=args.reference)
    result.save(args.out)
    print(f"audit written to {args.out}" + ("  [SYNTHETIC]" if result.synthetic else ""))
    print(describe_audit(result))
    return 0


def cmd_compare(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.fairness.paired import compare_runs
    from fer_audit.fairness.predictions import read_predictions
    from fer_audit.report.side_by_side import UNADJUSTED, p_words, paired_sentence

    settings = AuditSettings(**option_values(AuditSettings, args, skip=NOT_FOR_COMPARISON))
    frame, _ = read_predictions(args.predictions)
    found = compare_runs(
        settings,
        predictions=frame,
        first=args.first,
        second=args.second,
        definition=args.definition,
        cls=args.cls,
    )
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
        return 0
    flag = "  [SYNTHETIC]" if found.synthetic else ""
    print(
        f"{found.definition} · {found.cls} ({found.comparison}): {found.first} - "
        f"{found.second}{flag}"
    )
    print(
        f"difference {found.difference:+.3f}, {found.confidence:.0%} interval "
        f"[{found.ci_low:+.3f}, {found.ci_high:+.3f}], {p_words(found)} {UNADJUSTED}"
    )
    print(
        f"  ({found.n_boot} resamples, seed {found.seed}, {found.boot_dropped:.0%} left out; "
        f"interval: {found.interval_method}; p: {found.p_method})"
    )
    for run, gap, (low, high) in (
        (found.first, found.first_gap, found.first_interval),
        (found.second, found.second_gap, found.second_interval),
    ):
        videos = " | ".join(f"{g} {n}" for g, n in found.videos[run].items())
        rate_n = " | ".join(f"{g} {n}" for g, n in found.rate_n[run].items())
        print(
            f"  {run}: gap {gap:+.3f} [{low:+.3f}, {high:+.3f}]; videos {videos}; "
            f"{found.rate_n_name} {rate_n}"
        )
    per_group = ", ".join(f"{g} {n}" for g, n in found.subjects.items())
    if found.subject_groups:  # a subject in several groups: cells resampled, not subjects
        per_group = f"{found.n_subjects} (resampled as subject-groups: {per_group})"
    print(f"subjects: {per_group}")
    print(paired_sentence(found, labels={found.first: found.first, found.second: found.second}))
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
    from fer_audit.report.summary import synthetic_summary

    return "\n".join(synthetic_summary(result, limit=5))
