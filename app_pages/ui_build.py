"""The demo build's progress on the dashboard (Streamlit; imported by app.py and the
pages only): a bar per step with its ETA on Home, one line in every other page's
sidebar. Both update themselves every few seconds while the build runs, and rerun the
whole page when a step finishes, so each page picks up what the step made.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.ui import page_guard, show_damaged
from fer_audit.demo import (
    DemoSettings,
    demo_record,
    read_demo_build,
    start_demo_build,
    step_estimates,
)
from fer_audit.errors import DamagedFile
from fer_audit.progress import BuildProgress, duration, percent, step_text
from fer_audit.workspace import Workspace

#: how often a page asks how the build is doing, in seconds
POLL_S = 2.0
_SEEN = "_demo_build_seen"


def demo_build_view(workspace: Workspace, *, detailed: bool) -> None:
    """The demo build as it stands: live while it runs, with what to do when it stopped;
    on Home (`detailed`) also the offer to build it when there is none. Nothing once
    it is done."""
    try:
        progress = read_demo_build(workspace)
    except DamagedFile as exc:
        if detailed:
            show_damaged(exc, key="demo-build-damaged")
        return
    if progress is not None and progress.status == "building":
        _live(str(workspace.root), detailed)
    elif detailed:
        _offer_build(workspace, progress)


@st.fragment(run_every=POLL_S)
@page_guard()
def _live(root: str, detailed: bool) -> None:
    progress = read_demo_build(Workspace(Path(root)))
    if progress is None:
        return
    seen = (progress.finished_steps, progress.status)
    if st.session_state.setdefault(_SEEN, seen) != seen:  # a step ended, or the build
        st.session_state[_SEEN] = seen
        st.rerun()  # the whole page: it reads what the step made
    if detailed:
        _steps(progress)
    else:
        _one_line(progress)


def _steps(progress: BuildProgress) -> None:
    total = len(progress.steps)
    st.subheader("The demo workspace is being built")
    st.caption(
        "In the background, one job per step (the Train page lists them); this page "
        "follows it and shows each step's results as it finishes. The paper's published "
        "results need no build: open Audit now. Estimates come from a build on a "
        "2-core machine."
    )
    st.progress(
        progress.finished_steps / total,
        text=f"{progress.finished_steps} of {total} steps done · about "
        f"{duration(progress.eta_s)} left",
    )
    _step_bars(progress)


def _step_bars(progress: BuildProgress) -> None:
    for step in progress.steps:  # fractions are the jobs' reports, kept within [0, 1]
        st.progress(step.fraction, text=step_text(step))


def _one_line(progress: BuildProgress) -> None:
    current = progress.current
    doing = f" ({current.name}, {percent(current.fraction)})" if current else ""
    st.caption(
        f"Demo build: {progress.finished_steps} of {len(progress.steps)} steps done{doing}"
        f" · about {duration(progress.eta_s)} left"
    )
    st.progress(progress.finished_steps / len(progress.steps))
    st.page_link("app_pages/home.py", label="Its progress on Home", icon=":material/home:")


def _offer_build(workspace: Workspace, progress: BuildProgress | None) -> None:
    """A stopped build (what stopped it, and Resume), or none yet (Build)."""
    try:
        if (demo_record(workspace) or {}).get("status") == "done":
            return
    except DamagedFile:  # Home names it, with what to do, further down
        return
    settings = DemoSettings.from_record(progress.settings) if progress else DemoSettings()
    if progress is None:
        st.info(
            "No demo workspace here yet. The demo trains small models on SYNTHETIC drawn "
            "faces with a planted bias and audits them, so every page has results to show; "
            f"about {duration(sum(step_estimates(settings).values()))} on 2 cores, in the "
            "background.",
            icon=":material/science:",
        )
        label = "Build the demo workspace"
    else:
        why = progress.error or "its process ended (stopped, or the machine restarted)"
        log = f" Its log: `{progress.log_path}`." if progress.log_path else ""
        st.warning(
            f"The demo build {progress.status}: {why}. The steps it finished are kept; "
            f"resuming skips them.{log}",
            icon=":material/warning:",
        )
        _step_bars(progress)
        label = "Resume the demo build"
    if st.button(label, key="demo-build-start"):
        st.toast(start_demo_build(workspace, settings))
        st.session_state.pop(_SEEN, None)
        st.rerun()
