"""`study start | list | status | cancel | resume`: the whole study as one chain of
background jobs (preprocess -> trainings -> evaluate -> audit -> report)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from fer_audit.fairness.settings import AuditSettings
from fer_audit.options import add_options, option_values
from fer_audit.study.settings import AUDIT_FROM_STUDY, PER_RUN, StudySettings
from fer_audit.train.config import TrainConfig
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import Workspace

if TYPE_CHECKING:
    from fer_audit.study.progress import StudyProgress
    from fer_audit.study.settings import Study

#: the preprocessing K-means seed keeps its default here: `--seed` would read as a
#: training seed (those are `--seeds`)
_PREPROCESS_SKIP = ("seed",)
POLL_S = 2.0


def add_parser(commands: argparse._SubParsersAction) -> None:
    std = commands.add_parser(
        "study",
        help="the whole study as one chain of background jobs: preprocess, train each "
        "architecture x training set x seed, evaluate, audit, report",
    )
    sub = std.add_subparsers(title="study commands", required=True)
    start = sub.add_parser("start", help="queue a study's chain of jobs")
    add_options(start, StudySettings)
    add_options(start, TrainConfig, skip=PER_RUN)
    add_options(start, PreprocessSettings, skip=_PREPROCESS_SKIP)
    add_options(start, AuditSettings, skip=AUDIT_FROM_STUDY)
    start.add_argument("--wait", action="store_true", help="follow it here until it ends")
    start.set_defaults(handler=cmd_start)
    sub.add_parser("list", help="the workspace's studies").set_defaults(handler=cmd_list)
    for name, handler, text in (
        ("status", cmd_status, "each step of a study, and its ETA"),
        ("cancel", cmd_cancel, "cancel a study's queued and running steps"),
        ("resume", cmd_resume, "queue a study's failed or cancelled steps again"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("name")
        if name != "cancel":
            command.add_argument("--wait", action="store_true", help="follow it until it ends")
        command.set_defaults(handler=handler)


def study_from_args(args: argparse.Namespace) -> Study:
    """The study the options of `study start` describe."""
    from fer_audit.study.settings import Study, default_study_name

    settings = StudySettings(**option_values(StudySettings, args))
    train = option_values(TrainConfig, args, skip=PER_RUN)
    return Study.of(
        settings.name or default_study_name(train["dataset"]),
        settings,
        train=train,
        preprocess=PreprocessSettings(
            **option_values(PreprocessSettings, args, skip=_PREPROCESS_SKIP)
        ),
        audit=option_values(AuditSettings, args, skip=AUDIT_FROM_STUDY),
    )


def cmd_start(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.jobs import JobRegistry
    from fer_audit.study.chain import start_study

    study = study_from_args(args)
    record = start_study(workspace, JobRegistry(workspace), study)
    print(f"study {study.name}: {len(record['steps'])} steps queued (fer-audit study status "
          f"{study.name})")  # fmt: skip
    return _follow(workspace, study.name) if args.wait else 0


def cmd_list(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.jobs import JobRegistry
    from fer_audit.study.chain import list_studies
    from fer_audit.study.progress import study_progress

    damaged: list = []
    registry = JobRegistry(workspace)
    for record in list_studies(workspace, damaged=damaged):
        progress = study_progress(registry, record)
        print(f"{record['name']}: {progress.status}, {progress.done}/{len(progress.steps)} "
              f"steps ({record['dataset']}, {record['created_at']})")  # fmt: skip
    for problem in damaged:
        print(f"error: {problem}")
    return 1 if damaged else 0


def cmd_status(args: argparse.Namespace, workspace: Workspace) -> int:
    if args.wait:
        return _follow(workspace, args.name)
    progress = _progress(workspace, args.name)
    for line in status_lines(progress):
        print(line)
    return 0 if progress.status != "failed" else 1


def cmd_cancel(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.jobs import JobRegistry
    from fer_audit.study.chain import cancel_study

    count = cancel_study(workspace, JobRegistry(workspace), args.name)
    print(f"study {args.name}: {count} step(s) cancelled (fer-audit study resume {args.name})")
    return 0


def cmd_resume(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.jobs import JobRegistry
    from fer_audit.study.chain import resume_study

    queued = resume_study(workspace, JobRegistry(workspace), args.name)
    print(
        f"study {args.name}: {queued} step(s) queued again"
        if queued
        else f"study {args.name}: nothing to resume (no step failed, was cancelled or is missing)"
    )
    return _follow(workspace, args.name) if args.wait else 0


def _progress(workspace: Workspace, name: str) -> StudyProgress:
    from fer_audit.jobs import JobRegistry
    from fer_audit.study.chain import read_study
    from fer_audit.study.progress import study_progress

    registry = JobRegistry(workspace)
    registry.refresh()
    return study_progress(registry, read_study(workspace, name))


def status_lines(progress: StudyProgress) -> list[str]:
    """The study's state, then one line per step."""
    from fer_audit.progress import step_text
    from fer_audit.study.progress import eta_words

    synthetic = " [SYNTHETIC]" if progress.synthetic else ""
    head = (
        f"study {progress.name}{synthetic}: {progress.status}, {progress.done} of "
        f"{len(progress.steps)} steps done{eta_words(progress)}"
    )
    steps = [f"  [{i}] {step_text(step)}" for i, step in enumerate(progress.steps, start=1)]
    return [head, *steps]


def _follow(workspace: Workspace, name: str) -> int:
    """Print the study's state whenever it changes, until it ends; 0 when done."""
    last = None
    while True:
        progress = _progress(workspace, name)
        state = (progress.status, progress.done, progress.current)
        if state != last:
            print(status_lines(progress)[0], flush=True)
            last = state
        if progress.status not in ("running", "queued"):
            break
        time.sleep(POLL_S)
    if progress.status != "done":
        print("\n".join(status_lines(progress)[1:]))
    return 0 if progress.status == "done" else 1
