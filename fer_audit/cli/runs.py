"""`runs list | delete` and `jobs list | delete`: the workspace's training runs and
background jobs, and deleting them after saying what depends on them."""

from __future__ import annotations

import argparse
import sys
import time

from fer_audit.workspace import Workspace

_YES = "delete without asking (without it: what would go and what depends on it, then a question)"


def add_parser(commands: argparse._SubParsersAction) -> None:
    runs = commands.add_parser("runs", help="list and delete training runs")
    runs.set_defaults(handler=lambda args, workspace: runs.print_help() or 2)
    rs = runs.add_subparsers(title="runs commands")
    rs.add_parser("list", help="list the run folders").set_defaults(handler=cmd_runs_list)
    delete = rs.add_parser(
        "delete",
        help="delete a run's folder",
        description="Remove workspace/runs/RUN_ID. Predictions tables with its rows, their "
        "audits and studies that name it are kept (and listed). Refused while a queued "
        "or running job trains or reads it.",
    )
    delete.add_argument("run_id")
    delete.add_argument("--yes", action="store_true", help=_YES)
    delete.set_defaults(handler=cmd_runs_delete)

    jobs = commands.add_parser("jobs", help="list and delete background jobs")
    jobs.set_defaults(handler=lambda args, workspace: jobs.print_help() or 2)
    js = jobs.add_subparsers(title="jobs commands")
    js.add_parser("list", help="list the jobs, newest first").set_defaults(handler=cmd_jobs_list)
    remove = js.add_parser(
        "delete",
        help="delete finished jobs and their logs",
        description="Remove finished (done, failed or cancelled) jobs from the job list, "
        "with their logs under workspace/jobs. The runs they trained are kept; queued or "
        "running jobs, and jobs a queued job waits for, are kept.",
    )
    remove.add_argument("ids", nargs="*", type=int, metavar="ID", help="job numbers")
    remove.add_argument("--finished", action="store_true", help="every finished job")
    remove.add_argument("--yes", action="store_true", help=_YES)
    remove.set_defaults(handler=cmd_jobs_delete)


def cmd_runs_list(args: argparse.Namespace, workspace: Workspace) -> int:
    """Each run folder in one line; a damaged run.json is named on stderr (exit 1)."""
    from fer_audit.train.runs import list_runs

    damaged: list = []
    metas = list_runs(workspace, damaged=damaged)
    for meta in metas:
        flag = "  [SYNTHETIC]" if meta.get("synthetic") else ""
        print(f"{meta['run_id']}: {meta.get('status', 'unknown')}, {meta.get('epochs_done', 0)} "
              f"epoch(s), dataset {meta.get('dataset')}{flag}")  # fmt: skip
    if not metas and not damaged:
        print(f"no runs in {workspace.runs_dir}")
    for exc in damaged:
        print(f"error: {exc}", file=sys.stderr)
    return 1 if damaged else 0


def cmd_runs_delete(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.train.run_deletion import delete_run, run_dependents

    folder = workspace.run_dir(args.run_id)  # a clear error for ../x and the like
    if not args.yes:
        lines = run_dependents(workspace, args.run_id).lines()
        if not _confirmed(f"delete run {args.run_id}: removes {folder}", lines):
            return 1
    deletion = delete_run(workspace, args.run_id)
    print(f"deleted run {args.run_id}:\n  removed {deletion.removed}")
    for line in deletion.kept:
        print(f"  kept: {line}")
    return 0


def cmd_jobs_list(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.jobs import JobRegistry
    from fer_audit.progress import duration

    jobs = JobRegistry(workspace).refresh()
    for job in jobs:
        took = job.seconds(time.time())
        ran = f", ran {duration(took)}" if took is not None else ""
        print(f"#{job.id} {job.status}{ran}: {job.title}")
    if not jobs:
        print(f"no jobs in {workspace.jobs_db}")
    return 0


def cmd_jobs_delete(args: argparse.Namespace, workspace: Workspace) -> int:
    from fer_audit.job_deletion import delete_jobs, finished_job_ids, job_dependents, refusals
    from fer_audit.jobs import JobRegistry

    registry = JobRegistry(workspace)
    ids = sorted(set(args.ids) | set(finished_job_ids(registry) if args.finished else []))
    if not ids:
        print("name the jobs to delete (fer-audit jobs list), or --finished", file=sys.stderr)
        return 2
    if not args.yes:
        refused = refusals(registry, ids)
        going = [job_id for job_id in ids if job_id not in refused]
        lines = [f"not deleted: {why}" for why in refused.values()]
        lines += job_dependents(registry, going)
        shown = ", ".join(f"#{job_id}" for job_id in going) or "none"
        if not _confirmed(f"delete {len(going)} job(s) and their logs: {shown}", lines):
            return 1
    deletion = delete_jobs(registry, ids)
    for line in deletion.lines():
        print(line)
    return 0 if deletion.removed else 1


def _confirmed(what: str, lines: list[str]) -> bool:
    """Print what a deletion would do and what depends on it; True when the user answers
    yes (never without a terminal: then --yes is needed)."""
    print(what)
    for line in lines or ["nothing depends on it"]:
        print(f"  {line}")
    if not sys.stdin.isatty():
        print("nothing deleted: add --yes to delete", file=sys.stderr)
        return False
    if input("delete? [y/N] ").strip().lower() in ("y", "yes"):
        return True
    print("nothing deleted")
    return False
