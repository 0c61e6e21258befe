"""Subject tables: which gender each subject of a dataset has.

Gender values are free labels. Common spellings of female and male are normalised
(`F`, `Woman` -> `female`; `M`, `Man` -> `male`); any other non-empty label is kept
as written (lower-cased), so a third group stays a group of its own. Missing
values are errors, and so are labels outside `allowed` when the caller gives it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd

from fer_audit.data.index import DatasetError, read_csv_table

_GENDER_ALIASES = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "w": "female",
    "m": "male",
    "male": "male",
    "man": "male",
}
_MISSING = {"", "?", "na", "n/a", "nan", "none", "null", "unknown", "-"}


def normalize_gender(value: object) -> str | None:
    """The normalised gender label, or None when the value says nothing."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip().lower()
    if text in _MISSING:
        return None
    return _GENDER_ALIASES.get(text, text)


def read_subject_table(
    path: str | Path,
    *,
    subject_column: str = "subject",
    gender_column: str = "gender",
    allowed: Collection[str] | None = None,
) -> dict[str, str]:
    """Read a CSV with (at least) `subject` and `gender` columns into {subject: gender}.

    Raises DatasetError listing every problem at once: a missing file or column,
    duplicate subjects, missing gender values, labels outside `allowed`.
    """
    subject_column, gender_column = subject_column.lower(), gender_column.lower()
    frame = read_csv_table(
        Path(path), what="subject table", required=(subject_column, gender_column)
    )
    pairs = zip(frame[subject_column], frame[gender_column], strict=True)
    return table_from_pairs(pairs, source=str(path), allowed=allowed)


def table_from_pairs(
    pairs: Iterable[tuple[object, object]],
    *,
    source: str,
    allowed: Collection[str] | None = None,
) -> dict[str, str]:
    """Validate (subject, gender) pairs into {subject: normalised gender}."""
    allowed_norm = {normalize_gender(a) for a in allowed} if allowed else None
    table: dict[str, str] = {}
    problems: list[str] = []
    for row_number, (raw_subject, raw_gender) in enumerate(pairs, start=2):
        subject = str(raw_subject).strip()
        gender = normalize_gender(raw_gender)
        if not subject:
            problems.append(f"row {row_number}: empty subject")
            continue
        if subject in table:
            problems.append(f"row {row_number}: duplicate row for subject {subject!r}")
            continue
        if gender is None:
            problems.append(f"row {row_number}: subject {subject!r} has no gender ({raw_gender!r})")
            continue
        if allowed_norm is not None and gender not in allowed_norm:
            problems.append(
                f"row {row_number}: subject {subject!r} has gender {raw_gender!r}, "
                f"not one of {', '.join(sorted(allowed_norm))}"
            )
            continue
        table[subject] = gender
    if problems:
        raise DatasetError(f"subject table {source} has {len(problems)} problem(s)", problems)
    if not table:
        raise DatasetError(f"subject table {source} has no rows")
    return table


def attach_genders(
    subjects: Iterable[str], table: dict[str, str], *, source: str
) -> dict[str, str]:
    """Genders of `subjects` from `table`; DatasetError names every subject not in it."""
    subjects = sorted(set(subjects))
    missing = [s for s in subjects if s not in table]
    if missing:
        raise DatasetError(
            f"{len(missing)} subject(s) of the dataset are missing from the subject table "
            f"{source}; add a row `subject,gender` for each",
            missing,
        )
    return {s: table[s] for s in subjects}


def check_allowed_genders(index: pd.DataFrame, allowed: Collection[str]) -> None:
    """DatasetError naming each subject whose gender label is not in `allowed`."""
    allowed_norm = {normalize_gender(a) for a in allowed}
    table = index[["subject", "gender"]].drop_duplicates()
    bad = table[~table["gender"].isin(allowed_norm)]
    if len(bad):
        raise DatasetError(
            f"{len(bad)} subject(s) have a gender outside {', '.join(sorted(allowed_norm))}",
            [f"{s}: {g}" for s, g in bad.itertuples(index=False)],
        )
