"""The models the live demo and `fer-audit predict` offer: imported models and the
workspace's training runs, each with a label no other model shares, whether it
finished (a run whose job was cancelled never reads "running"), and the ones shown
first.

A run's label: architecture · training set · dataset · seed · run date (UTC, to the
minute) · best validation accuracy with its n · SYNTHETIC-trained when it learned
from synthetic data; an unfinished run's ends "(not finished: why)". Runs that
still share a label are told apart by the settings that differ (learning rate,
epochs, keyframes...), then by run id. An imported model's label: its name, format
and what it was trained on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from fer_audit.errors import DamagedFile, read_all
from fer_audit.labels import TRAIN_SETS, train_set_order
from fer_audit.models import REGISTRY
from fer_audit.models.importer import imported_folders
from fer_audit.train.runs import (
    FINISHED_STATUSES,
    read_run_json,
    run_jobs,
    run_status,
    unfinished_words,
)
from fer_audit.workspace import checkpoints_dir

#: the architecture of the FER2013 model, first among the models shown by default
FER2013_ARCH = "fermini"
#: settings already in every run's label, left out when runs are told apart
_IN_LABEL = {"dataset", "arch", "train_set", "seed"}


@dataclass(frozen=True)
class ModelChoice:
    """A model the live demo and `predict` can run: a training run or an imported one."""

    ref: str  # run id, or run folder for imported models
    label: str
    arch: str
    train_set: str
    seed: int | None
    synthetic: bool
    imported: bool
    dataset: str = ""
    #: done or imported when finished; else why not (running, cancelled, failed...)
    status: str = "done"
    val_accuracy: float | None = None
    #: (setting, value) of the run's hyperparameters and preprocessing, to tell apart
    #: runs whose labels are otherwise the same
    settings: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def available_models(
    workspace, *, imported: Path | None = None, damaged: list[DamagedFile] | None = None
) -> list[ModelChoice]:
    """Imported models (run folders under `imported`, default `checkpoints_dir()`: the
    FER2013 model checkpoints/fermini, models imported as ONNX or TorchScript), then
    the workspace's runs that have a model (finished or not: see `finished`), by
    architecture, training set, dataset and seed; each label unique. A run.json that
    cannot be read is added to `damaged` when a list is given (the other models are
    listed), else raised (DamagedFile)."""
    folders = imported_folders(imported or checkpoints_dir())
    choices = read_all(folders, _imported_choice, damaged)
    jobs = run_jobs(workspace)
    folders = sorted(p.parent for p in workspace.runs_dir.glob("*/model.pt"))
    runs = read_all(folders, lambda folder: _run_choice(folder, jobs), damaged)
    order = {t: i for i, t in enumerate(train_set_order(c.train_set for c in runs))}
    runs.sort(key=lambda c: (c.arch, order[c.train_set], c.dataset, c.seed or 0, c.ref))
    return [_with_status(c) for c in unique_labels(choices + runs)]


def _with_status(choice: ModelChoice) -> ModelChoice:
    """The choice, its label ending "(not finished: why)" unless it finished."""
    if choice.finished:
        return choice
    return replace(choice, label=f"{choice.label} {unfinished_words(choice.status)}")


def _imported_choice(folder: Path) -> ModelChoice | None:
    """An imported model's choice (None without a run.json or a model file): named by
    its folder (unique there) unless that is its architecture, then its format."""
    meta = read_run_json(folder, required=("arch",))
    if meta is None or not model_path(folder, meta).exists():
        return None
    arch, train_set, name = meta["arch"], str(meta.get("train_set", "")), meta.get("run_id", "")
    label = f"{name} · " if name and name != arch else ""
    label += f"{arch} · {train_set}"
    return ModelChoice(
        ref=str(folder.resolve()),
        label=label + _synthetic_words(meta),
        arch=arch,
        train_set=train_set,
        seed=meta.get("seed"),
        synthetic=bool(meta.get("synthetic")),
        imported=True,
        status="imported",
    )


def _run_choice(folder: Path, jobs) -> ModelChoice | None:
    """A training run's choice (None without a run.json); its status as it stands."""
    meta = read_run_json(folder, required=("arch",))
    if meta is None:
        return None
    return ModelChoice(
        ref=folder.name,
        label=run_label(meta),
        arch=meta["arch"],
        train_set=str(meta.get("train_set", "")),
        seed=meta.get("seed"),
        synthetic=bool(meta.get("synthetic")),
        imported=False,
        dataset=str(meta.get("dataset", "")),
        status=run_status({"run_id": folder.name, **meta}, jobs),
        val_accuracy=meta.get("best_val_accuracy"),
        settings=_settings(meta),
    )


def run_label(meta: dict) -> str:
    """A training run's label from its run.json (see the module's docstring), before
    runs that share it are told apart and an unfinished one says so."""
    parts = [meta.get("arch", "?"), meta.get("train_set", "?"), meta.get("dataset", "?")]
    if meta.get("seed") is not None:
        parts.append(f"seed {meta['seed']}")
    parts += [_run_date(meta), _validation(meta)]
    return " · ".join(str(p) for p in parts if p) + _synthetic_words(meta)


def _synthetic_words(meta: dict) -> str:
    return " · SYNTHETIC-trained" if meta.get("synthetic") else ""


def _run_date(meta: dict) -> str:
    """When run.json was last written (a finished run: when it finished), in UTC to the
    minute; '' when it does not say."""
    try:
        when = datetime.fromisoformat(str(meta["updated_at"]))
    except (KeyError, ValueError):
        return ""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _validation(meta: dict) -> str:
    """ "val 0.62 (n=12)": the best validation accuracy and its number of videos."""
    best = meta.get("best_val_accuracy")
    videos = meta.get("videos")
    n = videos.get("validation") if isinstance(videos, dict) else None
    if not isinstance(best, int | float):
        return "no validation yet"
    return f"val {best:.2f}" + (f" (n={n})" if n is not None else "")


def _settings(meta: dict) -> tuple[tuple[str, str], ...]:
    """The run's hyperparameters and preprocessing as (name, value) pairs, those its
    label shows already left out."""
    pairs = []
    for section in ("hyperparameters", "preprocessing"):
        values = meta.get(section)
        if isinstance(values, dict):
            pairs += [(k, str(v)) for k, v in values.items() if k not in _IN_LABEL]
    return tuple(sorted(pairs))


def unique_labels(choices: list[ModelChoice]) -> list[ModelChoice]:
    """`choices` in the same order, labels that several share told apart: by the
    settings that differ among them ("lr 0.01"), then, if still shared, by reference."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, choice in enumerate(choices):
        groups[choice.label].append(i)
    out = list(choices)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        differing = _differing_settings([dict(choices[i].settings) for i in indices])
        for i in indices:
            values = dict(choices[i].settings)
            extra = [f"{k.replace('_', ' ')} {values.get(k, '-')}" for k in differing]
            out[i] = replace(choices[i], label=" · ".join([choices[i].label, *extra]))
    counts = Counter(c.label for c in out)
    return [replace(c, label=f"{c.label} · {c.ref}") if counts[c.label] > 1 else c for c in out]


def _differing_settings(settings: list[dict[str, str]]) -> list[str]:
    names = sorted({name for values in settings for name in values})
    return [n for n in names if len({values.get(n) for values in settings}) > 1]


def default_models(choices: list[ModelChoice]) -> list[str]:
    """The models shown first, in order: the FER2013 model when imported (else the
    first imported model, by name), then, for the dataset with the most finished runs
    (ties: by name), the finished run with the best validation accuracy on each
    training set (regular, female, male; ties: the lowest seed). Never decided by
    which run is newest."""
    imported = [c for c in choices if c.imported]
    fer2013 = [c for c in imported if c.arch == FER2013_ARCH]
    chosen = [c.ref for c in (fer2013 or imported)[:1]]
    runs = [c for c in choices if c.finished and not c.imported]
    if not runs:
        return chosen
    counts = Counter(c.dataset for c in runs)
    dataset = min(counts, key=lambda name: (-counts[name], name))
    for train_set in TRAIN_SETS:
        kin = [c for c in runs if c.dataset == dataset and c.train_set == train_set]
        if kin:
            chosen.append(min(kin, key=_best_first).ref)
    return chosen


def _best_first(choice: ModelChoice) -> tuple:
    accuracy = choice.val_accuracy if isinstance(choice.val_accuracy, int | float) else -1.0
    return (-accuracy, choice.seed if isinstance(choice.seed, int) else 0, choice.ref)


def hidden_words(hidden: list[ModelChoice]) -> str:
    """What the page says of the unfinished runs it does not offer: how many, of each
    status ("2 unfinished runs are hidden (1 cancelled, 1 running)")."""
    counts = Counter(c.status for c in hidden)
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    runs, model = (
        ("run is", "its model is") if len(hidden) == 1 else ("runs are", "their models are")
    )
    return (
        f"{len(hidden)} unfinished {runs} hidden ({statuses}): {model} the best so far, "
        "not final. Tick 'Show unfinished runs' to offer them."
    )


def model_path(folder: Path, meta: dict) -> Path:
    """The model file of a run folder whose run.json is `meta`."""
    spec = REGISTRY.get(meta.get("arch")) if isinstance(meta.get("arch"), str) else None
    return folder / (spec.model_file if spec else "model.pt")
