"""The demo workspace: settings (what it builds), build (its steps as background jobs, the
plan pages follow, demo.json), findings (the planted gap the audit must show)."""

from fer_audit.demo.build import (
    BUILD_LOG,
    MARKER,
    PROGRESS,
    DemoFailed,
    build_demo,
    complete_demo,
    demo_paths,
    demo_record,
    demo_steps,
    read_demo_build,
    reset_demo,
    start_demo_build,
)
from fer_audit.demo.findings import (
    PLANTED_CLASS,
    includes_zero,
    planted_gap_table,
    unplanted_gaps,
)
from fer_audit.demo.settings import QUICK_DEMO, DemoSettings, demo_argv, step_estimates

__all__ = [
    "BUILD_LOG",
    "MARKER",
    "PLANTED_CLASS",
    "PROGRESS",
    "QUICK_DEMO",
    "DemoFailed",
    "DemoSettings",
    "build_demo",
    "complete_demo",
    "demo_argv",
    "demo_paths",
    "demo_record",
    "demo_steps",
    "includes_zero",
    "planted_gap_table",
    "read_demo_build",
    "reset_demo",
    "start_demo_build",
    "step_estimates",
    "unplanted_gaps",
]
