"""What a workspace holds, for the home page and `fer-audit` summaries."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fer_audit.data.registry import list_datasets
from fer_audit.data.samples import samples_folder
from fer_audit.data.splits import load_split
from fer_audit.workspace import Workspace


@dataclass(frozen=True)
class Overview:
    root: str
    datasets: pd.DataFrame  # one row per registered dataset
    runs: int
    predictions: int
    audits: int
    samples_fetched: bool

    @property
    def synthetic_datasets(self) -> list[str]:
        if self.datasets.empty:
            return []
        return self.datasets.loc[self.datasets["synthetic"], "name"].tolist()


def workspace_overview(workspace: Workspace) -> Overview:
    rows = [
        {
            "name": meta["name"],
            "kind": meta["kind"],
            "videos": meta["n_videos"],
            "subjects": meta["n_subjects"],
            "subjects per gender": ", ".join(
                f"{n} {g}" for g, n in meta["subjects_per_gender"].items()
            ),
            "synthetic": bool(meta.get("synthetic")),
            "test split": _split_summary(workspace, meta["name"]),
            "registered": meta["registered_at"],
        }
        for meta in list_datasets(workspace)
    ]
    columns = [
        "name",
        "kind",
        "videos",
        "subjects",
        "subjects per gender",
        "synthetic",
        "test split",
        "registered",
    ]
    return Overview(
        root=str(workspace.root),
        datasets=pd.DataFrame(rows, columns=columns),
        runs=_count(workspace.runs_dir, "*/run.json"),
        predictions=_count(workspace.predictions_dir, "*.parquet"),
        audits=_count(workspace.audits_dir, "*/audit.json"),
        samples_fetched=(samples_folder() / "provenance.json").exists(),
    )


def _split_summary(workspace: Workspace, name: str) -> str:
    split = load_split(workspace.dataset_dir(name))
    if split is None:
        return "not drawn"
    sizes = " + ".join(f"{len(split.test_subjects[g])} {g}" for g in split.groups)
    return f"{sizes} (seed {split.seed})"


def _count(folder, pattern: str) -> int:
    return sum(1 for _ in folder.glob(pattern)) if folder.is_dir() else 0
