"""A training run's folder as the loop writes it: its log, run.json (status, epochs,
best epoch), metrics.jsonl and checkpoint, each file replaced atomically; only rank 0
writes (`enabled`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import torch

from fer_audit import atomic
from fer_audit.procs import Terminated


class RunWriter:
    """Writes the run folder; every file is replaced atomically."""

    def __init__(
        self, folder: Path, meta: dict, log: Callable[[str], None] | None, *, enabled: bool = True
    ):
        self.folder, self.meta, self.echo, self.enabled = folder, meta, log, enabled
        folder.mkdir(parents=True, exist_ok=True)

    def log(self, line: str) -> None:
        if not self.enabled:  # only rank 0 writes the run folder
            return
        stamped = f"{datetime.now(UTC).isoformat(timespec='seconds')} {line}"
        path = self.folder / "train.log"
        previous = path.read_text() if path.exists() else ""
        atomic.write_text(path, previous + stamped + "\n")
        if self.echo:
            self.echo(line)

    def _json(self, state: dict, status: str) -> None:
        if not self.enabled:
            return
        best = state["best"]
        atomic.write_json(
            self.folder / "run.json",
            {
                **self.meta,
                "status": status,
                "epochs_done": state["epoch"],
                "best_epoch": best["epoch"] if best else None,
                "best_val_accuracy": best["val_accuracy"] if best else None,
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )

    def start(self, state: dict) -> None:
        verb = "resuming after epoch" if state["epoch"] else "starting"
        self.log(
            f"{verb} {state['epoch'] or ''} {self.meta['run_id']} on {self.meta['device']}"
            + (" [SYNTHETIC data]" if self.meta["synthetic"] else "")
        )
        self._json(state, "running")

    def epoch(self, model, optimiser, state: dict, record: dict, improved: bool) -> None:
        if not self.enabled:
            return
        with atomic.atomic_path(self.folder / "checkpoint.pt") as tmp:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "state": json.dumps(state),
                },
                tmp,
            )
        lines = "".join(json.dumps(r) + "\n" for r in state["history"])
        atomic.write_text(self.folder / "metrics.jsonl", lines)
        self._json(state, "running")
        self.log(
            f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} acc "
            f"{record['train_accuracy']:.3f}, val loss {record['val_loss']:.4f} acc "
            f"{record['val_accuracy']:.3f}" + (" (best)" if improved else "")
        )

    def repair(self, state: dict) -> None:
        """Rewrite metrics.jsonl and run.json of a finished run from its checkpoint."""
        if not self.enabled:
            return
        lines = "".join(json.dumps(r) + "\n" for r in state["history"])
        atomic.write_text(self.folder / "metrics.jsonl", lines)
        self._json(state, "done")
        self.log(
            f"repaired: done after {state['epoch']} epochs; best epoch {state['best']['epoch']}"
        )

    @contextlib.contextmanager
    def stops_recorded(self, state: dict) -> Iterator[None]:
        """Around the epochs: a run stopped by SIGTERM (a cancelled job) or Ctrl-C says
        cancelled in run.json, one stopped by an error says failed, each as of its last
        epoch."""
        try:
            yield
        except (Terminated, KeyboardInterrupt):
            self._json(state, "cancelled")
            raise
        except Exception:
            self._json(state, "failed")
            raise

    def finish(self, state: dict) -> None:
        self._json(state, "done")
        self.log(f"done after {state['epoch']} epochs; best epoch {state['best']['epoch']}")
