"""Waiting for a dashboard server started as a subprocess (the first-screen benchmark
and the tests' session server both start one)."""

from __future__ import annotations

import subprocess
import time
import urllib.request


def wait_until_serving(url: str, process: subprocess.Popen, *, timeout: float) -> None:
    """Return once Streamlit at `url` answers its health check; RuntimeError with the
    end of the process's output (stdout piped) when it ends first or `timeout` seconds
    pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            ended = process.poll() is not None
            if ended or time.monotonic() > deadline:
                output = process.stdout.read().decode() if ended and process.stdout else ""
                raise RuntimeError(f"{url} is not serving: {output[-2000:]}") from None
            time.sleep(0.1)
