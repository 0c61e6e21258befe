"""The one error for a damaged file of the workspace (DESIGN.md section 10: "a damaged
file is named in a clear message with what to do; users never see a traceback").

`DamagedFile` is a ValueError, so the command line's handler prints `error: <message>`
and exits 2, and the dashboard shows the message as it is. `without_tracebacks` cuts
a job's log down to what a user is shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

Item = TypeVar("Item")
Read = TypeVar("Read")


class DamagedFile(ValueError):
    """`path` cannot be read (truncated, overwritten, not the format expected).

    `what_to_do` says how to get going again (repair, re-register, rerun, delete);
    `detail` is what the reader found wrong (one line).
    """

    def __init__(self, path: str | os.PathLike, what_to_do: str, detail: str | None = None):
        self.path = Path(path)
        self.what_to_do = what_to_do
        self.detail = detail
        found = f" ({detail})" if detail else ""
        super().__init__(f"{self.path} is damaged{found}: {what_to_do}")


#: how the line that gives a DataProblem's fix begins, in a command's output and a job's
#: message
FIX_LINE = "fix: "


class DataProblem(ValueError):
    """What the data cannot give a job (no usable clip, too few subjects, one group
    only): running the job again repeats it. `fix` says what to change; the command
    line prints it as `fix: ...` under its error, and a failed job shows it instead
    of offering to resume."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(message)
        self.fix = fix

    def __reduce__(self):  # its fix is keyword-only: pickle (a process pool) keeps it
        return _data_problem, (type(self), str(self), self.fix)


def _data_problem(kind: type[DataProblem], message: str, fix: str) -> DataProblem:
    return kind(message, fix=fix)


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, shortened to `limit` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_all(
    items: Iterable[Item],
    read: Callable[[Item], Read | None],
    damaged: list[DamagedFile] | None,
) -> list[Read]:
    """`read(item)` of every item, leaving out those read as None. A DamagedFile is
    added to `damaged` when a list is given (so a listing shows it as an error for that
    item and goes on), else raised."""
    found = []
    for item in items:
        try:
            value = read(item)
        except DamagedFile as exc:
            if damaged is None:
                raise
            damaged.append(exc)
            continue
        if value is not None:
            found.append(value)
    return found


#: how the lines of a traceback after its first begin (frames, code, chained causes)
_TRACEBACK_BODY = (" ", "\t", "During handling", "The above exception")
_FRAME = re.compile(r'\s+File ".*", line \d+')


def without_tracebacks(text: str) -> str:
    """`text` (a job's log) with each Python traceback cut down to its last line, the
    error itself: what a dashboard user is shown (the log file keeps everything)."""
    kept, inside = [], False
    for line in text.splitlines():
        starts = line.startswith("Traceback (most recent call last):")
        if starts or _FRAME.match(line):  # a frame: its "Traceback" line may be cut off
            if not inside:
                kept.append("(traceback left out here; it is in the job's log file)")
            inside = True
            continue
        if inside and (not line.strip() or line.startswith(_TRACEBACK_BODY)):
            continue
        inside = False
        kept.append(line)
    return "\n".join(kept)
