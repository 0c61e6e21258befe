"""CSV files written for people: safe to open in a spreadsheet ("CSV injection").

The rule (OWASP's): a text cell whose first character is `=`, `+`, `-`, `@`, a tab or
a carriage return is written with a single quote `'` in front, so a spreadsheet shows
it as text instead of running it as a formula (`=HYPERLINK(...)` stays text). It holds
for every text cell, also one that reads like a number: the text "-0.3" is written
"'-0.3". Numbers stay numbers: -0.3 in a numeric column (or a number in a mixed one)
is written -0.3. Only `str` values are touched, in the cells, the column names and
the index labels.

The rule can be undone exactly (`restore`, `read_people_csv`), so files fer-audit
reads back give the values it wrote: a text cell that is a run of quotes followed by
one of those characters (`'=x`, `''-1`) gets one more quote too, and `restore` takes
one quote off exactly the cells that start with quotes followed by one of them.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from fer_audit.errors import DamagedFile, one_line

#: the first characters that make a spreadsheet read a cell as a formula
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _quoted_trigger(text: str) -> bool:
    return text.lstrip(QUOTE)[:1] in TRIGGERS


def neutralise(value: Any) -> Any:
    """`value` as it goes into a CSV for people: a `'` in front of text that starts
    (after any quotes) with = + - @ tab or carriage return; anything else unchanged."""
    if isinstance(value, str) and _quoted_trigger(value):
        return QUOTE + value
    return value


def restore(value: Any) -> Any:
    """The inverse of `neutralise`: `restore(neutralise(v)) == v` for every value."""
    if isinstance(value, str) and value.startswith(QUOTE) and _quoted_trigger(value):
        return value[1:]
    return value


def _map_text(frame: pd.DataFrame, function) -> pd.DataFrame:
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            out.isetitem(position, column.map(function, na_action="ignore"))
    out.columns = out.columns.map(function)
    if not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(function)
    return out


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell, column name and index label
    `neutralise`d; numbers, booleans and missing values untouched."""
    return _map_text(frame, neutralise)


def restored(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` (read from a CSV written by `to_people_csv`) with the quotes
    `neutralise` added taken off again."""
    return _map_text(frame, restore)


def to_people_csv(frame: pd.DataFrame, path_or_buffer=None, **kwargs):
    """`frame.to_csv(path_or_buffer, **kwargs)` with every text cell neutralised (see
    the module docstring); returns the CSV text when no path or buffer is given."""
    return neutralised(frame).to_csv(path_or_buffer, **kwargs)


def read_people_csv(path_or_buffer, **kwargs) -> pd.DataFrame:
    """`pd.read_csv(path_or_buffer, **kwargs)` of a file written by `to_people_csv`,
    with the values as they were before neutralising."""
    return restored(pd.read_csv(path_or_buffer, **kwargs))


def read_saved_csv(path: Path, *, hint: str, **kwargs) -> pd.DataFrame:
    """`read_people_csv` of a file fer-audit wrote; DamagedFile (naming the file and
    `hint`, what to do) when it is cut short or not CSV."""
    raw = Path(path).read_bytes()
    if raw and not raw.endswith(b"\n"):
        raise DamagedFile(path, hint, "truncated: its last line is incomplete")
    try:
        return read_people_csv(io.BytesIO(raw), **kwargs)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise DamagedFile(path, hint, f"not a readable CSV table: {one_line(exc)}") from None
