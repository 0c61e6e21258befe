"""`audits delete` and `predictions delete`: remove a saved audit or a predictions table
of the workspace, after saying what is removed and what depended on it (kept)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from fer_audit.report.housekeeping import (
    Removal,
    audit_removal,
    delete_audit,
    delete_table,
    table_removal,
)
from fer_audit.workspace import Workspace

#: each command group: (its name, its help, what NAME is, plan, delete)
_GROUPS = (
    (
        "audits",
        "saved audits (workspace/audits)",
        "the saved audit's folder name (or its path in workspace/audits)",
        audit_removal,
        delete_audit,
    ),
    (
        "predictions",
        "predictions tables (workspace/predictions)",
        "the table's name, .parquet optional (or its path in workspace/predictions)",
        table_removal,
        delete_table,
    ),
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    for group, help_text, name_help, plan, delete in _GROUPS:
        parser = commands.add_parser(group, help=f"delete {help_text}")
        parser.set_defaults(handler=lambda args, workspace, p=parser: p.print_help() or 2)
        sub = parser.add_subparsers(title=f"{group} commands")
        remove = sub.add_parser(
            "delete",
            help=f"delete one of the {help_text}",
            description="Remove it from the workspace after listing what is removed and "
            "what depends on it (kept: saved audits made from a table say it is gone). "
            "Asks first on a terminal; --yes deletes without asking. Only the workspace's "
            "own files are deleted; a job writing or reading it refuses the deletion.",
        )
        remove.add_argument("name", help=name_help)
        remove.add_argument("--yes", action="store_true", help="delete without asking")
        remove.set_defaults(handler=_deleter(plan, delete))


def _deleter(
    plan: Callable[[Workspace, str], Removal], delete: Callable[[Workspace, str], Removal]
) -> Callable[[argparse.Namespace, Workspace], int]:
    def handler(args: argparse.Namespace, workspace: Workspace) -> int:
        if not args.yes:
            planned = plan(workspace, args.name)
            print(f"deleting {planned.what} {planned.name} would:")
            print_removal(planned, done=False)
            if not _confirmed():
                print("nothing was deleted (add --yes to delete without asking)")
                return 1
        removal = delete(workspace, args.name)
        print(f"deleted {removal.what} {removal.name}:")
        print_removal(removal, done=True)
        return 0

    return handler


def print_removal(removal: Removal, *, done: bool) -> None:
    """What is (or would be) removed, then what depends on it (kept), then the jobs
    that stop it and the files not checked, one line each."""
    removed, kept = ("removed", "kept") if done else ("remove", "keep")
    for line in removal.removes:
        print(f"  {removed} {line}")
    for line in removal.kept:
        print(f"  {kept}: {line}")
    for line in removal.notes():
        print(f"  note: {line}")


def _confirmed() -> bool:
    """A yes typed on a terminal; False when stdin is not one."""
    if not sys.stdin.isatty():
        return False
    return input("delete it? [y/N] ").strip().lower() in ("y", "yes")
