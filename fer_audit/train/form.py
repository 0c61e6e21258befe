"""The Train form's values, remembered in the workspace (`forms/train.json`) so a new
browser session opens the form as it was last submitted.

The file is written atomically under the workspace lock `forms`, and checked value by
value when read: a value of the wrong type or out of range is replaced by its default
and named in a note; a file that cannot be read at all is ignored with a note. Neither
ever stops the page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from fer_audit import atomic
from fer_audit.errors import DamagedFile
from fer_audit.labels import TRAIN_SETS
from fer_audit.train.config import LR_SCHEDULES
from fer_audit.workspace import Workspace

FORMS = "forms"
DEVICES = ("auto", "cpu", "cuda")
#: the form's bounds (the page's inputs use them too)
EPOCHS = (1, 500)
INPUT_SIZE = (0, 448)
MAX_TEXT = 1000


@dataclass(frozen=True)
class TrainFormValues:
    """What the Train form holds (its defaults: a fresh form)."""

    dataset: str | None = None
    preprocessing: str | None = None  # a preprocessing report's key
    archs: list[str] = field(default_factory=lambda: ["3dcnn"])
    train_sets: list[str] = field(default_factory=lambda: ["regular"])
    seeds: str = "1"
    epochs: int = 30
    input_size: int = 0  # 0: the architecture's own
    device: str = "auto"
    lr_schedule: str = "constant"
    frozen: bool = False
    pretrained: bool = False
    weights: str = ""


def _text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _whole(bounds: tuple[int, int]) -> Callable[[object], bool]:
    low, high = bounds
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _names(allowed: Collection[str] | None) -> Callable[[object], bool]:
    return lambda v: (
        isinstance(v, list)
        and all(isinstance(x, str) for x in v)
        and (allowed is None or set(v) <= set(allowed))
    )


def _checks(archs: Collection[str] | None) -> dict[str, tuple[Callable[[object], bool], str]]:
    """Per field: whether a value is allowed, and what is allowed in words."""
    return {
        "dataset": (lambda v: v is None or _text(v), "a dataset name"),
        "preprocessing": (lambda v: v is None or _text(v), "a preprocessing key"),
        "archs": (_names(archs), "a list of known architectures"),
        "train_sets": (_names(TRAIN_SETS), f"a list of {', '.join(TRAIN_SETS)}"),
        "seeds": (_text, "text"),
        "epochs": (_whole(EPOCHS), f"a whole number from {EPOCHS[0]} to {EPOCHS[1]}"),
        "input_size": (
            _whole(INPUT_SIZE),
            f"a whole number from {INPUT_SIZE[0]} to {INPUT_SIZE[1]}",
        ),
        "device": (lambda v: v in DEVICES, f"one of {', '.join(DEVICES)}"),
        "lr_schedule": (lambda v: v in LR_SCHEDULES, f"one of {', '.join(LR_SCHEDULES)}"),
        "frozen": (lambda v: isinstance(v, bool), "true or false"),
        "pretrained": (lambda v: isinstance(v, bool), "true or false"),
        "weights": (_text, "text"),
    }


def form_path(workspace: Workspace) -> Path:
    return workspace.root / FORMS / "train.json"


def save_train_form(workspace: Workspace, values: TrainFormValues) -> None:
    """Remember `values` for the next session (atomically, under the lock `forms`)."""
    with workspace.lock(FORMS):
        atomic.write_json(form_path(workspace), asdict(values))


def read_train_form(
    workspace: Workspace, *, archs: Collection[str] | None = None
) -> tuple[TrainFormValues, str | None]:
    """The remembered values (the defaults without a file) and a note naming what was
    left out: the whole file when it cannot be read, else each value not allowed
    (architectures checked against `archs` when given); None when all was used."""
    path = form_path(workspace)
    hint = "it is ignored (the form starts from its defaults) and replaced at the next submit"
    try:
        stored = atomic.read_json(path, hint=hint)
    except FileNotFoundError:
        return TrainFormValues(), None
    except (DamagedFile, OSError) as exc:
        return TrainFormValues(), f"The remembered Train form was not used: {exc}"
    checks, values, wrong = _checks(archs), {}, []
    for item in fields(TrainFormValues):
        if item.name not in stored:
            continue
        allowed, words = checks[item.name]
        if allowed(stored[item.name]):
            values[item.name] = stored[item.name]
        else:
            wrong.append(f"{item.name} (not {words})")
    note = None
    if wrong:
        note = f"{path}: the defaults are used for {'; '.join(wrong)}."
    return replace(TrainFormValues(), **values), note
