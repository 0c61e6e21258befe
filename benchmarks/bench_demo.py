"""The whole demo build (`fer-audit demo`, as `make run` does it the first time), timed.

Builds the default demo in a fresh temporary workspace (imported models in a fresh
checkpoints folder too; the sample-clip and wheel downloads are cached per machine,
so run it once before timing a machine that has never fetched them). Prints one JSON
object with `total_s` and `steps` (seconds per step); bar: total under 10 minutes on
a 2-core machine. The demo's planted-gap findings are printed with it.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

from fer_audit.demo import (
    DemoSettings,
    build_demo,
    includes_zero,
    planted_gap_table,
    unplanted_gaps,
)
from fer_audit.fairness import AuditResult
from fer_audit.workspace import ENV_CHECKPOINTS, Workspace

BAR_S = 600


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[ENV_CHECKPOINTS] = str(Path(tmp) / "checkpoints")
        started = time.perf_counter()
        record = build_demo(Workspace(Path(tmp) / "workspace"), DemoSettings(), log=lambda _: None)
        total = time.perf_counter() - started
        result = AuditResult.load(record["audit"])
        planted = planted_gap_table(result)
        others = unplanted_gaps(result)
    print(
        json.dumps(
            {
                "total_s": round(total, 1),
                "steps": record["steps"],
                "bar_s": BAR_S,
                "meets_bar": total < BAR_S,
                "runs": len(record["runs"]),
                "planted_gap": planted[["run_id", "value", "ci_low", "ci_high", "p_adjusted"]]
                .round(3)
                .to_dict(orient="records"),
                "planted_gap_interval_excludes_zero": int((planted["ci_high"] < 0).sum()),
                "other_gaps_including_zero": f"{int(includes_zero(others).sum())}/{len(others)}",
                "other_gaps_excluding_zero": others[~includes_zero(others)][
                    ["train_set", "seed", "class", "value", "ci_low", "ci_high", "p_adjusted"]
                ]
                .round(3)
                .to_dict(orient="records"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
