"""Writing files so that a reader never sees half of one: temp file, fsync, rename."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fer_audit.errors import DamagedFile, one_line


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` atomically.

    If the block raises (or the process is killed) `target` keeps its old content and
    the temporary file is removed (or left with a `.tmp-` prefix that readers ignore).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{target.name}.", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


#: what to do about a damaged file, by its name, when the reader gives no hint
_HINTS = {
    "run.json": "rerun the training with the same options: it resumes from its checkpoint "
    "and rewrites the file (Train page: Resume on its job), or delete the run's folder",
    "dataset.json": "register the dataset again under the same name with --replace "
    "(Data page: 'Replace a dataset of the same name'), or delete its folder",
    "split.json": "delete it, then draw the test split again (fer-audit datasets split, "
    "or the Data page)",
    "settings.json": "repair the JSON by hand (it holds data_roots), or delete it to go "
    "back to the defaults",
    "audit.json": "run the audit again (fer-audit audit ... --out FOLDER), or delete the "
    "audit's folder",
    "demo.json": "rebuild the demo (make demo-reset)",
    "demo-progress.json": "delete it, then start the demo build again (make run, or the "
    "Home page's button): finished steps are skipped",
}
DEFAULT_HINT = "repair it, or delete it and redo the step that wrote it"


def read_json_hint(path: str | os.PathLike) -> str:
    """What to do about damaged `path`, by its name (run.json, dataset.json, ...)."""
    return _HINTS.get(Path(path).name, DEFAULT_HINT)


def read_json(
    path: str | os.PathLike,
    *,
    hint: str | None = None,
    expect: type | None = dict,
    error: type[DamagedFile] = DamagedFile,
) -> Any:
    """The JSON in `path`; DamagedFile (naming the file and `hint`, what to do) when it
    is not UTF-8 JSON, or its top level is not an `expect` (dict unless told; None
    takes any; `error`, a DamagedFile class, is the one raised). A missing file stays
    FileNotFoundError."""
    path = Path(path)
    what_to_do = hint or read_json_hint(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise error(path, what_to_do, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        found = "empty" if not exc.doc.strip() else f"not valid JSON: {one_line(exc)}"
        raise error(path, what_to_do, found) from None
    if expect is not None and not isinstance(value, expect):
        names = {dict: "object", list: "array", str: "string", bool: "boolean"}
        got = names.get(type(value), "null" if value is None else "number")
        wanted = names.get(expect, expect.__name__)
        raise error(path, what_to_do, f"a JSON {got} where an {wanted} belongs")
    return value
