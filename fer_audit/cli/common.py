"""Helpers several command groups use: option types, --force, comma lists, a dataset
described in one line."""

from __future__ import annotations

import argparse

from fer_audit.options import csv_list
from fer_audit.seeding import parse_seeds


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


def _csv_list(text: str | None) -> list[str] | None:
    return csv_list(text) or None


def describe_dataset(meta: dict) -> str:
    genders = ", ".join(f"{n} {g}" for g, n in meta["subjects_per_gender"].items())
    flag = "  [SYNTHETIC]" if meta.get("synthetic") else ""
    flag += "  [uploaded: stored in the workspace]" if "upload" in meta else ""
    return (
        f"{meta['name']} ({meta['kind']}): {meta['n_videos']} videos, "
        f"{meta['n_subjects']} subjects ({genders}){flag}"
    )
