"""Shared test helpers: dataset folders built on disk, in the layouts the adapters read."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_audit.data.sasefe import CODES
from fer_audit.workspace import Workspace


def touch(path: Path, data: bytes = b"\x00video") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def make_sasefe(root: Path, genders: dict[str, str], *, table: bool = True) -> Path:
    """A SASE-FE layout: one folder per subject with all twelve codes."""
    for subject in genders:
        for code in CODES:
            touch(root / subject / f"{code}.mp4")
    if table:
        write_csv(root / "subjects.csv", "subject,gender", [f"{s},{g}" for s, g in genders.items()])
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "workspace")


@pytest.fixture
def sasefe_genders() -> dict[str, str]:
    females = {f"S{i:02d}": "female" for i in range(1, 9)}
    males = {f"S{i:02d}": "male" for i in range(9, 21)}
    return females | males
