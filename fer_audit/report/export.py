"""Downloads of an audit: the HTML report, each table as CSV, and all of it as one zip.

A synthetic audit says so in every file: file names start `SYNTHETIC-`, each CSV row
carries `synthetic=True`, the report opens with the warning, and the zip holds a
README saying what the data is. The CSVs are `AuditResult.table_csv`'s, safe to open
in a spreadsheet (text cells neutralised by `fer_audit.safe_csv`).
"""

from __future__ import annotations

import io
import json
import zipfile

from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.fairness.result import TABLES, AuditResult
from fer_audit.report.html import render_report


def export_name(result: AuditResult, stem: str, suffix: str) -> str:
    """A download's file name, `SYNTHETIC-` first when the audit is synthetic."""
    return ("SYNTHETIC-" if result.synthetic else "") + f"{stem}.{suffix}"


def readme(result: AuditResult) -> str:
    runs = result.settings.get("runs", [])
    lines = [
        "fer-audit export",
        f"code version: {result.settings.get('code_version', 'unknown')}",
        f"runs: {len(runs)}; bootstrap resamples: {result.settings.get('n_boot')}",
        "tables: " + ", ".join(f"{name}.csv" for name in TABLES) + "; settings: audit.json",
    ]
    if result.synthetic:
        lines.insert(1, SYNTHETIC_NOTE + ".")
    return "\n".join(lines) + "\n"


def export_zip(result: AuditResult, *, report_html: str | None = None) -> bytes:
    """report.html, every table as CSV, audit.json and a README, zipped in memory.

    `report_html` is the report already rendered for this result (rendering takes
    seconds); without it the report is rendered here."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("README.txt", readme(result))
        bundle.writestr("report.html", report_html or render_report(result))
        for name in TABLES:
            bundle.writestr(f"{name}.csv", result.table_csv(name))
        bundle.writestr("audit.json", json.dumps(result.settings, indent=2, default=str))
    return buffer.getvalue()
