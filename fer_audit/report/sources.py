"""What the dashboard can show: the published results, the audits saved under
`audits/` (by `fer-audit audit`, the Audit page's jobs, the demo or a cluster), and the
predictions tables no saved audit was made from yet (the page offers to audit them); and
the subset of an audit a user filters to, ranked again.

Pages compute no audit of a predictions table: they open saved ones. The published
results are the one audit a page computes itself (from the paper's counts, at the
default settings), so the first screen needs no job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fer_audit import atomic
from fer_audit.errors import DamagedFile, one_line, read_all
from fer_audit.fairness.paired import PairedDifference, PairingError, compare_runs
from fer_audit.fairness.predictions import read_predictions
from fer_audit.fairness.rankings import restrict
from fer_audit.fairness.reference import CITATION
from fer_audit.fairness.result import AuditResult
from fer_audit.fairness.run import run_audit
from fer_audit.fairness.settings import REFERENCES, AuditSettings

REFERENCE, SAVED, PREDICTIONS = "reference", "saved", "predictions"
CORRECTION_WORDS = {
    "holm": "Holm (family-wise error)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
    "none": "no correction",
}
FAMILY_WORDS = {"run": "each model's gaps", "audit": "every gap of the audit"}


@dataclass(frozen=True)
class AuditSource:
    label: str
    kind: str  # REFERENCE, SAVED (`path` an audit folder) or PREDICTIONS (`path` a table)
    path: str | None = None


@dataclass(frozen=True)
class SavedAudit:
    """An audit folder of the workspace and its audit.json (`settings`)."""

    folder: Path
    settings: dict

    @property
    def source(self) -> dict:
        return self.settings.get("source") or {}

    @property
    def table(self) -> Path | None:
        """The predictions table it was made from (None: the published results)."""
        path = self.source.get("path") if self.source.get("kind") == PREDICTIONS else None
        return Path(path) if path else None

    @property
    def label(self) -> str:
        made_from = self.table.name if self.table else "published results"
        flag = " · SYNTHETIC" if self.settings.get("synthetic") else ""
        return f"Saved audit: {self.folder.name} (of {made_from}, {_date(self.settings)}){flag}"

    def describe(self) -> str:
        """Its source, settings, date and code version, in one sentence."""
        s = self.settings
        made_from = (
            f"the predictions table {self.table.name} ({self.source.get('rows', '?')} rows)"
            if self.table
            else "the published results"
        )
        permutations = s.get("n_perm") or s.get("n_boot")
        correction = CORRECTION_WORDS.get(s.get("correction"), s.get("correction"))
        return (
            f"Audit of {made_from}, comparing {s.get('comparison', '?')}: "
            f"{s.get('n_boot', '?')} bootstrap resamples, {permutations} permutations, "
            f"{correction} over {FAMILY_WORDS.get(s.get('family'), s.get('family'))}; "
            f"made {_date(s)} with fer-audit {s.get('code_version', '?')}; "
            f"saved in {self.folder}."
        )

    def stale(self) -> str | None:
        """Why its table no longer matches it (changed or gone), or None."""
        return table_change(self.source)


def table_change(source: dict) -> str | None:
    """Why the predictions table an audit's `source` names no longer matches it (gone,
    or changed after the audit), or None (also for the published results)."""
    path = source.get("path") if source.get("kind") == PREDICTIONS else None
    if not path:
        return None
    table = Path(path)
    if not table.is_file():
        return f"its predictions table {table} is gone"
    if file_sha256(table) != source.get("sha256"):
        return f"its predictions table {table.name} changed after this audit was made"
    return None


def _date(settings: dict) -> str:
    try:
        return datetime.fromisoformat(settings["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
    except (KeyError, TypeError, ValueError):
        return "date unknown"


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _sha256(path: str, mtime_ns: int, size: int) -> str:  # the stat keys the cache
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def saved_audits(workspace, *, damaged: list | None = None) -> list[SavedAudit]:
    """The workspace's saved audits, newest first; a damaged audit.json goes to
    `damaged` when a list is given (the others are listed), else raises DamagedFile."""
    folder = workspace.audits_dir
    found = sorted(folder.glob("*/audit.json")) if folder.is_dir() else []
    hint = "run the audit again into this folder, or delete the folder"
    audits = read_all(
        found, lambda path: SavedAudit(path.parent, atomic.read_json(path, hint=hint)), damaged
    )
    return sorted(audits, key=lambda a: str(a.settings.get("created_at", "")), reverse=True)


def list_sources(workspace, *, damaged: list | None = None) -> list[AuditSource]:
    """The published results first, then the saved audits (newest first), then each
    predictions table no saved audit was made from as it is now (newest first)."""
    sources = [AuditSource(f"Published results: {CITATION.split('. ')[0]} 2021", REFERENCE)]
    audits = saved_audits(workspace, damaged=damaged)
    sources += [AuditSource(a.label, SAVED, str(a.folder)) for a in audits]
    audited = {a.source.get("sha256") for a in audits if a.table}
    for table in predictions_tables(workspace):
        if file_sha256(table) not in audited:
            sources.append(
                AuditSource(f"Predictions not audited yet: {table.name}", PREDICTIONS, str(table))
            )
    return sources


def predictions_tables(workspace) -> list[Path]:
    """The workspace's predictions tables, newest first."""
    folder = workspace.predictions_dir
    tables = [*folder.glob("*.parquet"), *folder.glob("*.csv")] if folder.is_dir() else []
    return sorted((t for t in tables if t.is_file()), key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed while listing
        return 0.0


def table_problem(path: str | Path) -> DamagedFile | None:
    """Why a predictions table cannot be audited at all (not a readable Parquet or CSV
    table), read from its footer or first line only; None when it looks readable."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            pq.read_metadata(path)
        else:
            with open(path, encoding="utf-8") as handle:
                handle.readline()
    except (OSError, ValueError, pa.ArrowException) as exc:
        return DamagedFile(
            path,
            "write it again (Train page: 'Evaluate finished runs', or fer-audit evaluate "
            f"RUN... --out {path}), or delete it",
            f"not a readable table: {one_line(str(exc))}",
        )
    return None


def open_source(source: AuditSource) -> AuditResult:
    """The audit a source shows: the published results at the default settings, or a
    saved audit as it was saved (DamagedFile naming a file that cannot be read). A
    predictions table is not audited here: queue `fer-audit audit` for it."""
    if source.kind == REFERENCE:
        return run_audit(AuditSettings(), reference=REFERENCES[0])
    if source.kind == SAVED:
        return AuditResult.load(source.path)
    raise ValueError(f"{source.label}: not audited yet (queue `fer-audit audit` for it)")


def default_audit_name(table: Path | None, settings: AuditSettings) -> str:
    """A folder name for a new audit: the table's name (or `published`) and what sets
    this audit apart from the default one."""
    name = table.stem if table else "published"
    defaults = AuditSettings()
    if settings.correction != defaults.correction or settings.family != defaults.family:
        name += f"-{settings.correction}-{settings.family}"
    if settings.bootstrap != defaults.bootstrap:
        name += f"-{settings.bootstrap}"
    if settings.group != defaults.group:
        name += "-" + "-".join(settings.group_columns())
    return name


def filter_result(
    result: AuditResult,
    *,
    archs: list[str],
    train_sets: list[str],
    seeds: list[str] | None = None,
) -> AuditResult:
    """The audit restricted to runs of the chosen architectures, training sets and seeds
    (None: every seed), ranked again among them (ranks start at 1)."""
    runs = [
        r
        for r in result.settings.get("runs", [])
        if r["arch"] in archs
        and r["train_set"] in train_sets
        and (seeds is None or seed_label(r.get("seed")) in seeds)
    ]
    return restrict(result, [r["run_id"] for r in runs])


def seed_label(seed: object) -> str:
    """A run's seed as the filters show it ("none" for runs without one)."""
    if seed is None or (isinstance(seed, float) and seed != seed):
        return "none"
    return str(int(seed)) if isinstance(seed, float) and seed.is_integer() else str(seed)


def source_of_table(workspace, table: Path) -> AuditSource | None:
    """What the Audit page shows for predictions table `table`: its entry when no saved
    audit was made from it as it is, else the newest saved audit of it."""
    table = Path(table).resolve()
    for source in list_sources(workspace, damaged=[]):
        if source.kind == PREDICTIONS and Path(source.path).resolve() == table:
            return source
    for saved in saved_audits(workspace, damaged=[]):
        if saved.table is not None and saved.table.resolve() == table:
            return AuditSource(saved.label, SAVED, str(saved.folder))
    return None


#: why the published results have no paired difference
COUNTS_ONLY = (
    "The published results hold counts per model only, not each subject's predictions, "
    "so the difference between two models' gaps cannot be resampled over the same "
    "subjects: it needs an audit of a predictions table."
)


def pairing_problem(settings: dict) -> str | None:
    """Why the paired difference of two runs' gaps (`fairness.paired`) cannot be computed
    for the audit with `settings`: the published results (counts only), or its
    predictions table gone or changed since; None when it can."""
    source = settings.get("source") or {}
    if source.get("kind") != PREDICTIONS or not source.get("path"):
        return COUNTS_ONLY
    why = table_change(source)
    return _needs_the_table(why) if why else None


def _needs_the_table(why: str) -> str:
    return (
        f"{why[0].upper()}{why[1:]}, and the difference between two models' gaps needs "
        "the table the audit was made from: audit the table again."
    )


def comparison_settings(saved: dict) -> AuditSettings:
    """The settings of a saved audit (its audit.json) that a paired comparison of two of
    its runs repeats: groups, label scheme, resamples and seed (the rest default)."""
    group, groups = saved.get("group", "gender"), saved.get("groups")
    return AuditSettings(
        bootstrap=int(saved["n_boot"]),
        seed=int(saved["seed"]),
        group=group if isinstance(group, str) else ",".join(group),
        groups=",".join(groups) if groups else None,
        scheme=saved.get("scheme", AuditSettings().scheme),
    )


def paired_difference(
    settings: dict, *, first: str, second: str, definition: str, cls: str
) -> PairedDifference:
    """gap(first) - gap(second) with its paired-bootstrap interval, from the predictions
    table of the audit with `settings` (its audit.json), with its groups, label scheme,
    resamples and seed (so each run's own interval is the audit's). PairingError saying
    why not (`pairing_problem`, or the table changed while it was read)."""
    problem = pairing_problem(settings)
    if problem:
        raise PairingError(problem)
    recorded = settings["source"]
    frame, source = read_predictions(recorded["path"])
    if source["sha256"] != recorded.get("sha256"):
        name = Path(recorded["path"]).name
        raise PairingError(
            _needs_the_table(f"its predictions table {name} changed after this audit was made")
        )
    found = compare_runs(
        comparison_settings(settings),
        predictions=frame,
        first=first,
        second=second,
        definition=definition,
        cls=cls,
    )
    return replace(found, synthetic=found.synthetic or bool(settings.get("synthetic")))
