"""Checkpoints -> the predictions table the audit reads (DESIGN.md section 6).

A training run is evaluated on the test subjects of its dataset's split (the Test
set; the Female and Male sets are its gender subsets, which the audit separates). An
imported model (checkpoints/fermini, or one imported as ONNX or TorchScript), named
`imported:NAME` or by its folder, is evaluated on the test split of a registered
dataset the caller names, under a label scheme (default `paper4`), with its own
preprocessing (the dataset must be preprocessed so; the error says how). Its rows'
run_id is `imported:NAME`.

An imported model's classes map onto the scheme through their emotions
(`fer_audit.labels.ModelClasses.onto`): a scheme class's probability is the sum over
the model classes mapped onto it; the probability of classes the scheme does not map
(fear and neutral under paper4, a class with no emotion) is left out and each row
renormalised over the mapped classes, and y_pred is the mapped class with the highest
probability. What was left out, for which run, and the mean share of probability it
held are written in the table's Parquet metadata (`MAPPING_KEY`) and returned in
`table.attrs["class_mapping"]` for the command line to say; never silently.

Columns (the same for both): run_id, arch, train_set, seed, dataset, synthetic,
video_id, subject, gender, authenticity, y_true, y_pred, p_<class>...
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from fer_audit import atomic
from fer_audit.data.registry import load_dataset
from fer_audit.data.splits import balanced_subset, load_split
from fer_audit.errors import DamagedFile
from fer_audit.labels import LabelScheme, ModelClasses, get_scheme
from fer_audit.outputs import PARQUET_KEY, check_output
from fer_audit.train.data import ClipSet, load_clips
from fer_audit.train.inference import (
    IMPORTED,
    load_folder,
    load_run,
    named_import,
    predict_probabilities,
)
from fer_audit.train.runs import RERUN
from fer_audit.version import code_version
from fer_audit.video.faces import resolve_device
from fer_audit.video.settings import PreprocessSettings

#: the Parquet metadata key of what an imported model's mapping left out
MAPPING_KEY = b"fer_audit_class_mapping"
HANDLING = (
    "probabilities of the model's classes not mapped under the scheme are left out and "
    "each video's remaining probabilities renormalised to sum to 1; y_pred is the mapped "
    "class with the highest probability"
)


def predict_run(
    workspace, run_id: str, *, balanced: bool = False, device: str = "auto", seed: int = 0
) -> pd.DataFrame:
    """The predictions of one run on its test subjects."""
    device = resolve_device(device)
    meta, model = load_run(workspace, run_id)
    model.to(device)
    dataset = load_dataset(workspace, meta["dataset"])
    scheme = get_scheme(meta["label_scheme"])
    settings = PreprocessSettings(**meta["preprocessing"])
    test = load_clips(
        workspace, dataset, meta["split"]["run"]["test"], scheme=scheme, settings=settings
    )
    probabilities = predict_probabilities(model, test, 8, device)
    identity = {
        "run_id": run_id,
        "arch": meta["arch"],
        "train_set": meta["train_set"],
        "seed": meta["seed"],
        "synthetic": bool(meta["synthetic"]),
    }
    return _table(test, probabilities, scheme, identity, balanced=balanced, seed=seed)


def imported_folder(ref: str, checkpoints: Path | None = None) -> Path | None:
    """The folder of the imported model `ref` names: `imported:NAME` (a plain name,
    inside the checkpoints folder) or a folder whose run.json says `imported`; None
    when `ref` names neither (then it is a run id)."""
    named = named_import(ref, checkpoints)
    if named is not None:
        return named
    folder = Path(ref)
    if not (folder / "run.json").is_file():
        return None
    meta = atomic.read_json(folder / "run.json", hint=RERUN)
    return folder if meta.get("status") == "imported" else None


def imported_run_id(folder: Path) -> str:
    """The run_id of an imported model's rows: `imported:` and its folder's name
    (unique in the checkpoints folder, and never a run id, which has no colon)."""
    return f"{IMPORTED}{Path(folder).resolve().name}"


def predict_imported(
    workspace,
    folder: Path,
    *,
    dataset: str,
    scheme: LabelScheme,
    balanced: bool = False,
    device: str = "auto",
    seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """The predictions of the imported model in `folder` on the test subjects of
    registered `dataset`, its classes mapped onto `scheme`; and what the mapping left
    out (see the module's docstring)."""
    device = resolve_device(device)
    meta, model, settings = load_folder(folder, str(folder))
    emotions = meta.get("emotions")
    if not isinstance(emotions, list) or len(emotions) != len(meta["classes"]):
        raise DamagedFile(folder / "run.json", RERUN, "no emotion for each of its classes")
    classes = ModelClasses(tuple(meta["classes"]), tuple(emotions))
    registered = load_dataset(workspace, dataset)
    split = load_split(workspace.dataset_dir(dataset))
    if split is None:
        raise ValueError(
            f"dataset {dataset} has no test split yet: draw one first (fer-audit datasets "
            f"split {dataset}, or the Data page)"
        )
    test = load_clips(
        workspace, registered, split.all_test_subjects(), scheme=scheme, settings=settings
    )
    raw = predict_probabilities(model.to(device), test, 8, device)
    probabilities, unmapped_share = classes.onto(raw, scheme)
    run_id = imported_run_id(folder)
    identity = {
        "run_id": run_id,
        "arch": meta["arch"],
        "train_set": meta.get("train_set") or "external",
        "seed": None,
        "synthetic": registered.synthetic,
    }
    table = _table(test, probabilities, scheme, identity, balanced=balanced, seed=seed)
    mapping = {
        "run_id": run_id,
        "model": str(Path(folder).resolve()),
        "dataset": dataset,
        "scheme": scheme.name,
        "unmapped": classes.unmapped(scheme),
        "never_predicted": classes.never_predicted(scheme),
        "handling": HANDLING,
        "videos": int(len(test)),
        "mean_unmapped_share": round(float(np.mean(unmapped_share)), 6),
        "videos_all_unmapped": int(np.sum(unmapped_share >= 1 - 1e-9)),
    }
    return table, mapping


def _table(
    test: ClipSet,
    probabilities: np.ndarray,
    scheme: LabelScheme,
    identity: dict,
    *,
    balanced: bool,
    seed: int,
) -> pd.DataFrame:
    rows = test.rows.assign(
        **identity,
        y_true=test.rows["label"],
        y_pred=[scheme.classes[i] for i in probabilities.argmax(1)],
    )
    for j, cls in enumerate(scheme.classes):
        rows[f"p_{cls}"] = probabilities[:, j]
    if balanced:
        rows = balanced_subset(rows, seed=seed)
    columns = [
        "run_id",
        "arch",
        "train_set",
        "seed",
        "dataset",
        "synthetic",
        "video_id",
        "subject",
        "gender",
        "authenticity",
        "y_true",
        "y_pred",
        *[f"p_{c}" for c in scheme.classes],
    ]
    return rows[columns].reset_index(drop=True)


def evaluate_runs(
    workspace,
    run_ids: list[str],
    *,
    out: str | Path | None = None,
    balanced: bool = False,
    device: str = "auto",
    force: bool = False,
    dataset: str | None = None,
    scheme: str = "paper4",
    checkpoints: Path | None = None,
) -> tuple[pd.DataFrame, Path]:
    """Predictions of every run (a run id, or an imported model: `imported:NAME` or its
    folder, evaluated on `dataset` under `scheme`), concatenated and written as
    Parquet (atomically) to `out`, which must not hold anything but fer-audit's own
    unless `force`. The imported models' mappings are in `table.attrs["class_mapping"]`
    and the file's metadata."""
    folders = {r: imported_folder(r, checkpoints) for r in run_ids}
    for ref in (r for r, f in folders.items() if f is None):
        workspace.run_dir(ref)  # UnsafeName for a run id that is not a plain name
    ids = [r if f is None else imported_run_id(f) for r, f in folders.items()]
    if len(set(ids)) < len(run_ids):
        twice = sorted(
            {i for i in ids if ids.count(i) > 1} | {r for r in run_ids if run_ids.count(r) > 1}
        )
        raise ValueError(f"a model is named twice: {', '.join(twice)}")
    if dataset is None and any(folders.values()):
        first = next(r for r, f in folders.items() if f is not None)
        raise ValueError(
            f"{first} is an imported model: name the registered dataset whose test split "
            "it is evaluated on (--dataset NAME)"
        )
    default_name = re.sub(r"[^A-Za-z0-9_.+-]", "-", Path(run_ids[0]).name).lstrip("-._+")
    path = Path(out) if out else workspace.predictions_path(f"{default_name}+{len(run_ids)}")
    check_output(path, kind="predictions", force=force, workspace=workspace)
    tables, mappings = [], []
    for ref, folder in folders.items():
        if folder is None:
            tables.append(predict_run(workspace, ref, balanced=balanced, device=device))
            continue
        table, mapping = predict_imported(
            workspace,
            folder,
            dataset=dataset,
            scheme=get_scheme(scheme),
            balanced=balanced,
            device=device,
        )
        tables.append(table)
        mappings.append(mapping)
    table = pd.concat(tables, ignore_index=True)
    extra = {MAPPING_KEY: json.dumps(mappings).encode()} if mappings else {}
    write_predictions(table, path, extra)
    table.attrs["class_mapping"] = mappings
    return table, path


def write_predictions(table: pd.DataFrame, path: str | Path, extra: dict | None = None) -> None:
    """The table as Parquet (atomically), marked as fer-audit's in its metadata (and
    `extra` metadata, bytes to bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), PARQUET_KEY: code_version().encode()}
    with atomic.atomic_path(path) as tmp:
        pq.write_table(arrow.replace_schema_metadata(metadata | (extra or {})), tmp)


def read_class_mapping(path: str | Path) -> list[dict]:
    """What the mapping of imported models' classes left out, as written in a
    predictions table's metadata ([] for a table of trained runs only)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[MAPPING_KEY]) if MAPPING_KEY in metadata else []
