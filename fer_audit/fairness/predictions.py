"""Reading a predictions table (DESIGN.md section 6) for the audit.

Parquet (the contract) or CSV. Columns: run_id, arch, train_set, seed, video_id,
subject, gender, authenticity, y_true, y_pred, p_<class>...; the audit needs only
run_id, subject, y_true, y_pred and the group column(s). An optional boolean column
`synthetic` marks predictions made on synthetic data; the audit carries it on.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pandas as pd

from fer_audit.fairness.audit import AuditError, UnreadableTable, is_synthetic

ID_COLUMNS = ("run_id", "video_id", "subject", "arch", "train_set")


def read_predictions(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """The table and a description of its source (path, SHA-256, synthetic flag)."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"predictions table {path} does not exist")
    raw = path.read_bytes()  # read once: parsed and hashed
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(io.BytesIO(raw), dtype={c: str for c in ID_COLUMNS})
        else:
            frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow and pandas raise many kinds for a bad file
        raise UnreadableTable(f"{path} is not a readable Parquet or CSV table: {exc}") from None
    synthetic = is_synthetic(frame)
    source = {
        "kind": "predictions",
        "path": str(path.resolve()),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "rows": int(len(frame)),
        "synthetic": synthetic,
    }
    for column in ("dataset", "arch", "train_set", "seed"):
        if column in frame.columns:
            source[f"{column}s"] = sorted(map(str, frame[column].dropna().unique()))
    return frame, source
