"""Seconds from `make run` to a first screen a newcomer can use, in Chromium.

Twice, each in a fresh temporary workspace, with the venv installed:
- `no_demo`: no demo yet, as on a fresh machine: `make run` starts the demo build in
  the background and serves at once. Timed to Home rendered (its title, the demo
  build's progress and "Where to start"), then to the Audit page's published results
  drawn (their Plotly figures): the published audit needs no build.
- `demo_present`: a workspace whose demo is built (by default a small one built here
  first, 4 + 4 subjects and one run, about 30 s; `--demo-workspace PATH` times an
  existing one instead). Timed the same way.
Chromium is started before the clock (it is the user's browser, already open). The
demo build a `no_demo` run started is cancelled before the next measurement, so it does
not slow it down. Bars (this machine, 2 cores): Home within 20 s without the demo,
10 s with it. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from serving import wait_until_serving

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("FER_AUDIT_CHROMIUM", "/usr/bin/chromium")
BARS_S = {"no_demo": 20.0, "demo_present": 10.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_first_screen(browser, workspace: Path, checkpoints: Path) -> dict:
    """`make run` over `workspace`; seconds to Home, and to the published audit."""
    port = free_port()
    env = os.environ | {
        "FER_AUDIT_WORKSPACE": str(workspace),
        "FER_AUDIT_CHECKPOINTS": str(checkpoints),
    }
    started = time.perf_counter()
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://localhost:{port}"
        wait_until_serving(url, make, timeout=120)
        serving = time.perf_counter() - started
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("heading", name="fer-audit").wait_for(timeout=120_000)
        page.get_by_role("heading", name="Where to start").wait_for(timeout=120_000)
        home = time.perf_counter() - started
        building = page.get_by_text("The demo workspace is being built").count() > 0
        page.get_by_role("link", name="Audit", exact=True).click()
        page.get_by_text("Published results").first.wait_for(timeout=120_000)
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        audit = time.perf_counter() - started
        page.close()
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.wait(timeout=30)
        stop_demo_build(workspace)
    return {
        "serving_s": round(serving, 2),
        "home_s": round(home, 2),
        "published_audit_s": round(audit, 2),
        "demo_building_shown": building,
    }


def stop_demo_build(workspace: Path) -> None:
    """Cancel a demo build `make run` started in `workspace` (its builder and jobs)."""
    from fer_audit.demo import read_demo_build
    from fer_audit.jobs import JobRegistry
    from fer_audit.workspace import Workspace

    space = Workspace(workspace)
    if not space.jobs_db.exists():
        return
    progress = read_demo_build(space)
    if progress is not None and progress.status == "building":
        plan = json.loads((workspace / "demo-progress.json").read_text())
        os.killpg(plan["pid"], signal.SIGTERM)
    registry = JobRegistry(space)
    for job in registry.list():
        if job.active:
            registry.cancel(job.id)


def small_demo(root: Path) -> Path:
    from fer_audit.demo import QUICK_DEMO, build_demo
    from fer_audit.workspace import ENV_CHECKPOINTS, Workspace

    os.environ[ENV_CHECKPOINTS] = str(root / "checkpoints")
    build_demo(Workspace(root / "workspace"), QUICK_DEMO, log=lambda _: None)
    return root / "workspace"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-workspace", type=Path, help="a workspace with a built demo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        tmp = Path(tmp)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
        )
        try:
            results = {"no_demo": time_first_screen(browser, tmp / "fresh", tmp / "ck-fresh")}
            if args.demo_workspace:
                demo, which = args.demo_workspace.resolve(), f"given: {args.demo_workspace}"
                checkpoints = Path(os.environ.get("FER_AUDIT_CHECKPOINTS", "checkpoints"))
            else:
                demo, which = small_demo(tmp / "demo"), "small (4 + 4 subjects, 1 run)"
                checkpoints = tmp / "demo" / "checkpoints"
            results["demo_present"] = time_first_screen(browser, demo, checkpoints)
            results["demo_present"]["demo"] = which
        finally:
            browser.close()
    for name, bar in BARS_S.items():
        results[name]["bar_s"] = bar
        results[name]["meets_bar"] = results[name]["home_s"] <= bar
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
