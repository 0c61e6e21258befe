"""The one error for a damaged file of the workspace (DESIGN.md section 10: "a damaged
file is named in a clear message with what to do; users never see a traceback").

`DamagedFile` is a ValueError, so the command line's handler prints `error: <message>`
and exits 2, and the dashboard shows the message as it is.
"""

from __future__ import annotations

import os
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
