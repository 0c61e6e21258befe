"""Reading a predictions table (DESIGN.md section 6) for the audit, and checking it.

Parquet (the contract) or CSV. Columns: run_id, arch, train_set, seed, video_id,
subject, gender, authenticity, y_true, y_pred, p_<class>...; the audit needs only
run_id, subject, y_true, y_pred and the group column(s). An optional boolean column
`synthetic` marks predictions made on synthetic data; the audit carries it on.

The checks the audit runs first: the needed columns without empty cells, classes of
the scheme, gender labels normalised (one spelling per group, one gender per subject),
and at least two compared groups, each present in every run.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fer_audit.data.fixes import FIX_PREPROCESSING, FIX_SPLIT, WHERE_LISTED
from fer_audit.data.subjects import normalize_gender
from fer_audit.fairness.result import AuditError, GroupsMissing, UnreadableTable


def group_fix(present: list[str]) -> str:
    """What to change when groups to compare have no videos in the table."""
    held = ", ".join(present) or "no group"
    if len(present) >= 2:
        choose = f"choose among the groups the table holds ({held})"
    else:
        choose = f"the table holds {held} only"
    return (
        f"{choose}; when an evaluation wrote it, each group needs test videos with a "
        f"usable clip: {FIX_SPLIT} or {FIX_PREPROCESSING}; {WHERE_LISTED}"
    )


ID_COLUMNS = ("run_id", "video_id", "subject", "arch", "train_set")
GROUP_JOIN = " & "
REQUIRED_COLUMNS = ("run_id", "subject", "y_true", "y_pred")


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


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def synthetic_flags(column: pd.Series) -> pd.Series:
    """The `synthetic` column as booleans: true/false, 1/0 or yes/no (any case; real
    booleans and the numbers 0 and 1 too). Anything else, an empty cell included, is
    an AuditError naming the first such row: a wrong flag would mislabel the audit."""
    text = column.map(lambda v: str(v).strip().lower() if not pd.isna(v) else "")
    text = text.replace({"1.0": "1", "0.0": "0"})
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = bad.idxmax()
        raise AuditError(
            f"column synthetic holds {column[row]!r} (row {row}); use true/false, 1/0 or yes/no"
        )
    return text.isin(_TRUE)


def is_synthetic(frame: pd.DataFrame) -> bool:
    """Whether any row of the table is marked synthetic (strictly parsed)."""
    return "synthetic" in frame.columns and bool(synthetic_flags(frame["synthetic"]).any())


def _normalised_genders(
    predictions: pd.DataFrame, group: str | Sequence[str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The table with its `gender` column (when it is a group column) normalised as at
    registration (F, Woman -> female; M, Man -> male; other labels lower-cased), and
    the mapping {label as given: label used}. AuditError when one group is spelled two
    ways in the table: it would split a group silently."""
    columns = [group] if isinstance(group, str) else list(group)
    if "gender" not in columns or "gender" not in predictions.columns:
        return predictions, {}
    given = predictions["gender"].dropna().astype(str)
    mapping = {label: normalize_gender(label) or label for label in sorted(set(given))}
    spellings: dict[str, list[str]] = {}
    for label, used in mapping.items():
        spellings.setdefault(used, []).append(label)
    mixed = {used: labels for used, labels in spellings.items() if len(labels) > 1}
    if mixed:
        named = "; ".join(f"{' and '.join(map(repr, ls))} (both {u})" for u, ls in mixed.items())
        raise AuditError(
            f"the gender column spells one group two ways: {named}; use one spelling per "
            "group, so that no subject is counted in a group of its own"
        )
    frame = predictions.copy()
    frame["gender"] = predictions["gender"].map(lambda v: mapping.get(str(v), v))
    return frame, mapping


def _one_gender_per_subject(frame: pd.DataFrame) -> None:
    """AuditError naming the subjects labelled with two genders: each would be counted
    in both groups."""
    genders = frame.groupby(frame["subject"].astype(str))["gender"]
    counts = genders.nunique()
    doubled = sorted(counts[counts > 1].index)
    if doubled:
        shown = ", ".join(
            f"{s} ({' and '.join(sorted(genders.get_group(s).unique()))})" for s in doubled[:5]
        )
        more = f" and {len(doubled) - 5} more" if len(doubled) > 5 else ""
        raise AuditError(
            f"subject(s) labelled with two genders: {shown}{more}; a subject would be "
            "counted in both groups. Correct the gender column first"
        )


def checked_table(
    predictions: pd.DataFrame,
    *,
    group: str | Sequence[str],
    groups: Sequence[str] | None,
    classes: list[str],
) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """The table as the audit reads it: genders normalised (`_normalised_genders`;
    `groups` named as in the table are normalised too), checked (`_validated`), with a
    `_group` column; the groups compared in order; and the gender mapping."""
    predictions, gender_labels = _normalised_genders(predictions, group)
    if groups and gender_labels and isinstance(group, str):  # named as in the table
        groups = [gender_labels.get(g, normalize_gender(g) or g) for g in groups]
    frame, group_names = _validated(predictions, group, groups, classes)
    return frame, group_names, gender_labels


def _validated(
    predictions: pd.DataFrame,
    group: str | Sequence[str],
    groups: Sequence[str] | None,
    classes: list[str],
) -> tuple[pd.DataFrame, list[str]]:
    if predictions is None or len(predictions) == 0:
        raise AuditError("the predictions table is empty")
    group_columns = [group] if isinstance(group, str) else list(group)
    missing = [c for c in (*REQUIRED_COLUMNS, *group_columns) if c not in predictions.columns]
    if missing:
        raise AuditError(
            f"the predictions table lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(REQUIRED_COLUMNS)} and the group column(s) {', '.join(group_columns)}"
        )
    empty = {
        c: int(predictions[c].isna().sum())
        for c in ("run_id", "subject", "y_true", "y_pred", *group_columns)
    }
    empty = {c: n for c, n in empty.items() if n}
    if empty:
        raise AuditError(
            "missing values in "
            + ", ".join(f"{c} ({n} rows)" for c, n in empty.items())
            + "; fill or drop them"
        )
    if "gender" in group_columns:
        _one_gender_per_subject(predictions)
    frame = predictions.copy()
    for column in ("run_id", "subject", "y_true", "y_pred"):
        frame[column] = frame[column].astype(str)
    frame["_group"] = frame[group_columns].astype(str).agg(GROUP_JOIN.join, axis=1)
    for column in ("y_true", "y_pred"):
        unknown = sorted(set(frame[column].astype(str)) - set(classes))
        if unknown:
            raise AuditError(
                f"{column} holds classes outside the scheme ({', '.join(classes)}): "
                f"{', '.join(unknown)}; map them to the scheme or drop those rows first"
            )
    present = sorted(frame["_group"].unique())
    chosen = list(groups) if groups else present
    absent = [g for g in chosen if g not in present]
    if absent:
        raise GroupsMissing(
            f"no videos of group(s) {', '.join(absent)}; present: {', '.join(present)}",
            fix=group_fix(present),
        )
    if len(chosen) < 2:
        raise GroupsMissing(
            f"a fairness audit compares at least two groups; found only {', '.join(chosen)}",
            fix=group_fix(present),
        )
    frame = frame[frame["_group"].isin(chosen)]
    per_run = frame.groupby("run_id")["_group"].unique()
    lacking = {
        run: sorted(set(chosen) - set(g)) for run, g in per_run.items() if set(chosen) - set(g)
    }
    if lacking:
        raise AuditError(
            "run(s) without videos of every compared group: "
            + "; ".join(f"{run} lacks {', '.join(g)}" for run, g in list(lacking.items())[:5])
        )
    return frame, chosen
