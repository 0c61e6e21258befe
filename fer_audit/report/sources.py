"""What the dashboard can audit: the published reference, or the predictions tables of
the workspace; and the subset of an audit a user filters to."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from fer_audit.errors import DamagedFile, one_line
from fer_audit.fairness.from_predictions import audit
from fer_audit.fairness.predictions import read_predictions
from fer_audit.fairness.reference import CITATION, reference_audit
from fer_audit.fairness.result import AuditResult, UnreadableTable

REFERENCE = "reference"


@dataclass(frozen=True)
class AuditSource:
    label: str
    kind: str  # "reference" or "predictions"
    path: str | None = None


def list_sources(workspace) -> list[AuditSource]:
    """The published reference first, then every predictions table, newest first."""
    sources = [AuditSource(f"Published results: {CITATION.split('. ')[0]} 2021", REFERENCE)]
    folder = workspace.predictions_dir
    if folder.is_dir():
        tables = sorted(folder.glob("*.parquet"), key=_mtime, reverse=True)
        sources += [AuditSource(f"Predictions: {p.name}", "predictions", str(p)) for p in tables]
    return sources


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed while listing
        return 0.0


def audit_source(
    source: AuditSource,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    correction: str = "holm",
    family: str = "run",
) -> AuditResult:
    if source.kind == REFERENCE:
        return reference_audit(n_boot=n_boot, seed=seed, correction=correction, family=family)
    path = Path(source.path)
    try:
        frame, meta = read_predictions(path)
    except UnreadableTable as exc:  # there, but no table: damaged (or not fer-audit's)
        raise DamagedFile(
            path,
            "write it again (Train page: 'Evaluate finished runs', or fer-audit evaluate "
            f"RUN... --out {path}), or delete it",
            f"not a readable table: {one_line(str(exc).split(': ', 1)[-1])}",
        ) from None
    return audit(frame, n_boot=n_boot, seed=seed, correction=correction, family=family, source=meta)


def filter_result(result: AuditResult, *, archs: list[str], train_sets: list[str]) -> AuditResult:
    """The audit restricted to runs of the chosen architectures and training sets."""
    runs = [
        r
        for r in result.settings.get("runs", [])
        if r["arch"] in archs and r["train_set"] in train_sets
    ]
    ids = {r["run_id"] for r in runs}

    def keep(frame):
        return frame[frame["run_id"].isin(ids)]

    return replace(
        result,
        confusion=keep(result.confusion) if len(result.confusion) else result.confusion,
        group_metrics=keep(result.group_metrics),
        gaps=keep(result.gaps),
        variation=keep(result.variation) if len(result.variation) else result.variation,
        rankings=result.rankings[
            result.rankings["arch"].isin(archs) & result.rankings["train_set"].isin(train_sets)
        ],
        summary=result.summary[
            result.summary["arch"].isin(archs) & result.summary["train_set"].isin(train_sets)
        ],
        settings={**result.settings, "runs": runs},
    )
