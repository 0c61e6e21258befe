"""The result of an audit and its files: `AuditResult` (the tidy tables in TABLES and
the settings), saving it to a folder (a CSV per table, tables.json, audit.json) and
loading it back, and the audit's errors.

Both audits (`from_predictions.audit`, `from_counts.audit_counts`) return this one
shape, so the dashboard, the report and the command line read it whatever the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fer_audit import atomic
from fer_audit.errors import DamagedFile, DataProblem
from fer_audit.safe_csv import read_saved_csv, to_people_csv

POOLED = "all"
TABLES = ("confusion", "group_metrics", "gaps", "rankings", "summary", "variation")
#: tables older audits lack (read as empty)
_OPTIONAL_TABLES = frozenset({"variation"})


#: columns that hold labels, read back as text (run ids like "001" stay "001")
_TEXT_COLUMNS = {
    c: str
    for c in (
        "run_id",
        "arch",
        "train_set",
        "group",
        "class",
        "true",
        "pred",
        "definition",
        "comparison",
        "subjects",
        "metric",
        "no_positives",
        "degenerate",
    )
}


class AuditError(ValueError):
    """Input the audit cannot use; the message says what is wrong."""


class GroupsMissing(AuditError, DataProblem):
    """A table without videos of a group the audit compares: for a table an evaluation
    wrote, the test split or the preprocessing left the group no usable clip."""


class UnreadableTable(AuditError):
    """A predictions file that is not a readable Parquet or CSV table at all."""


@dataclass
class AuditResult:
    confusion: pd.DataFrame
    group_metrics: pd.DataFrame
    gaps: pd.DataFrame
    rankings: pd.DataFrame
    summary: pd.DataFrame
    variation: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings: dict = field(default_factory=dict)

    def save(self, folder: str | Path) -> Path:
        """Write each table as CSV and the settings as audit.json (atomically). The
        CSVs are for people too: text cells are neutralised for spreadsheets
        (`fer_audit.safe_csv`), and `load` takes that off again."""
        folder = Path(folder)
        for name in TABLES:
            atomic.write_text(folder / f"{name}.csv", self.table_csv(name))
        atomic.write_json(folder / "tables.json", self.to_json_tables())
        atomic.write_json(folder / "audit.json", self.settings)
        return folder

    def table_csv(self, name: str) -> str:
        """One table as CSV text, safe in a spreadsheet (`safe_csv.to_people_csv`); a
        synthetic audit's rows each say `synthetic=True`."""
        table = getattr(self, name)
        if self.synthetic:
            table = table.assign(synthetic=True)
        return to_people_csv(table, index=False)

    def to_json_tables(self) -> dict:
        """Every table as a list of records (the JSON export), with the settings."""
        tables = {
            name: json.loads(getattr(self, name).to_json(orient="records")) for name in TABLES
        }
        return {"settings": self.settings, **tables}

    @classmethod
    def load(cls, folder: str | Path) -> AuditResult:
        """The audit saved in `folder`; AuditError when there is none, DamagedFile naming
        the file (audit.json, tables.json or a table's CSV) that cannot be read, or a
        table whose rows do not match the count tables.json recorded (truncated)."""
        folder = Path(folder)
        if not (folder / "audit.json").exists():
            raise AuditError(f"{folder} holds no audit (audit.json missing)")
        hint = (
            f"run the audit again into this folder (fer-audit audit PREDICTIONS --out "
            f"{folder}), or delete the folder"
        )
        settings = atomic.read_json(folder / "audit.json", hint=hint)
        counts = _row_counts(folder / "tables.json", hint)
        tables = {}
        for name in TABLES:
            path = folder / f"{name}.csv"
            if path.exists():
                tables[name] = _read_table(path, hint)
            else:
                tables[name] = pd.DataFrame() if name in _OPTIONAL_TABLES else None
            table, expected = tables[name], (counts or {}).get(name)
            if table is not None and expected is not None and len(table) != expected:
                raise DamagedFile(path, hint, f"{len(table)} rows where tables.json has {expected}")
        return cls(**tables, settings=settings)

    @property
    def synthetic(self) -> bool:
        return bool(self.settings.get("synthetic"))


#: flag columns whose empty text means "not flagged"
_FLAG_COLUMNS = ("no_positives", "degenerate")


def _read_table(path: Path, hint: str) -> pd.DataFrame:
    """One saved table; DamagedFile when it is cut short or not CSV."""
    table = read_saved_csv(path, hint=hint, dtype=_TEXT_COLUMNS)
    for column in _FLAG_COLUMNS:
        if column in table.columns:
            table[column] = ["" if pd.isna(v) else v for v in table[column]]
    return table


def _row_counts(path: Path, hint: str) -> dict[str, int] | None:
    """Rows per table as tables.json recorded them (None for an audit without it)."""
    if not path.exists():
        return None
    tables = atomic.read_json(path, hint=hint)
    return {name: len(rows) for name, rows in tables.items() if isinstance(rows, list)}
