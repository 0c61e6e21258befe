"""Checkpoints -> the predictions table the audit reads (DESIGN.md section 6).

Each run is evaluated on the test subjects of its dataset's split (the Test set;
the Female and Male sets are its gender subsets, which the audit separates). Columns:
run_id, arch, train_set, seed, dataset, synthetic, video_id, subject, gender,
authenticity, y_true, y_pred, p_<class>...
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fer_audit import atomic
from fer_audit.data.registry import load_dataset
from fer_audit.data.splits import balanced_subset
from fer_audit.labels import get_scheme
from fer_audit.outputs import PARQUET_KEY, check_output
from fer_audit.train.data import load_clips
from fer_audit.train.inference import load_run, predict_probabilities
from fer_audit.version import code_version
from fer_audit.video.faces import resolve_device
from fer_audit.video.settings import PreprocessSettings


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
    rows = test.rows.assign(
        run_id=run_id,
        arch=meta["arch"],
        train_set=meta["train_set"],
        seed=meta["seed"],
        synthetic=bool(meta["synthetic"]),
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
) -> tuple[pd.DataFrame, Path]:
    """Predictions of every run, concatenated and written as Parquet (atomically) to
    `out`, which must not hold anything but fer-audit's own unless `force`."""
    path = Path(out) if out else workspace.predictions_path(f"{run_ids[0]}+{len(run_ids)}")
    check_output(path, kind="predictions", force=force, workspace=workspace)
    table = pd.concat(
        [predict_run(workspace, r, balanced=balanced, device=device) for r in run_ids],
        ignore_index=True,
    )
    write_predictions(table, path)
    return table, path


def write_predictions(table: pd.DataFrame, path: str | Path) -> None:
    """The table as Parquet (atomically), marked as fer-audit's in its metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), PARQUET_KEY: code_version().encode()}
    with atomic.atomic_path(path) as tmp:
        pq.write_table(arrow.replace_schema_metadata(metadata), tmp)
