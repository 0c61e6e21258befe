"""What a workspace holds, for the home page and `fer-audit` summaries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pandas as pd

from fer_audit.atomic import read_json
from fer_audit.data.registry import Dataset, list_datasets, load_dataset
from fer_audit.data.samples import samples_folder
from fer_audit.data.splits import load_split
from fer_audit.jobs import JobRegistry
from fer_audit.workspace import Workspace

if TYPE_CHECKING:
    from fer_audit.video.clip import PreprocessSettings


@dataclass(frozen=True)
class Overview:
    root: str
    datasets: pd.DataFrame  # one row per registered dataset
    runs: int
    predictions: int
    audits: int
    samples_fetched: bool
    jobs: dict[str, int]  # status -> jobs

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
        jobs=_job_counts(workspace),
    )


def _job_counts(workspace: Workspace) -> dict[str, int]:
    if not workspace.jobs_db.exists():
        return {}
    registry = JobRegistry(workspace)
    registry.mark_vanished()  # a killed job counts as failed; nothing is started from here
    counts: dict[str, int] = {}
    for job in registry.list():
        counts[job.status] = counts.get(job.status, 0) + 1
    return counts


@dataclass(frozen=True)
class Preprocessed:
    settings: dict  # the PreprocessSettings fields
    counts: dict[str, int]  # status -> videos
    problems: pd.DataFrame  # the videos that are not ok, with their reason

    def describe(self) -> str:
        s = self.settings
        if not s:
            what = "unknown settings"
        else:
            what = f"K={s['k']}, margin {s['margin']}, {s['size']} px, detector {s['detector']}"
            what += f", {s['mode']} mode" if s.get("mode", "fast") != "fast" else ""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        return f"{what}: {counts}"


@dataclass(frozen=True)
class DatasetSummary:
    dataset: Dataset
    subjects_per_gender: pd.DataFrame  # gender, subjects, videos
    videos: pd.DataFrame  # emotion x authenticity counts, with totals
    preprocessing: list[Preprocessed]  # one per preprocessing settings run, newest first
    split: str


def dataset_summary(workspace: Workspace, name: str) -> DatasetSummary:
    """Subjects per gender, videos per emotion and authenticity, preprocessing status."""
    dataset = load_dataset(workspace, name)
    index = dataset.index
    per_gender = (
        index.groupby("gender")
        .agg(subjects=("subject", "nunique"), videos=("video_id", "size"))
        .reset_index()
    )
    videos = pd.crosstab(index["emotion"], index["authenticity"], margins=True, margins_name="all")
    return DatasetSummary(
        dataset=dataset,
        subjects_per_gender=per_gender,
        videos=videos.reset_index(),
        preprocessing=preprocessing_reports(workspace, name),
        split=_split_summary(workspace, name),
    )


def suggested_preprocessing(dataset: Dataset) -> PreprocessSettings:
    """Preprocessing defaults for the Data page's form: the paper's (PreprocessSettings'
    own) for recordings; for synthetic drawn faces no detector (MTCNN rarely finds
    cartoons), no margin, and crops no larger than the generated frames."""
    from fer_audit.video.clip import PreprocessSettings  # keeps video imports off Home

    paper = PreprocessSettings()
    if not dataset.synthetic:
        return paper
    frame = dataset.meta.get("synthetic_info", {}).get("settings", {}).get("size", paper.size)
    size = max(32, min(paper.size, int(frame)))
    return replace(paper, margin=0, size=size, detector="none")


def preprocessing_reports(workspace: Workspace, name: str) -> list[Preprocessed]:
    """The preprocessing reports of dataset `name`, newest first."""
    folder = workspace.cache_dir / "reports" / name
    reports = sorted(folder.glob("*.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    found = []
    for path in reports:
        settings_file = path.with_suffix(".json")
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        found.append(
            Preprocessed(
                settings=read_json(settings_file) if settings_file.exists() else {},
                counts=table["status"].value_counts().to_dict(),
                problems=table.loc[table["status"] != "ok", ["video_id", "status", "reason"]],
            )
        )
    return found


def _split_summary(workspace: Workspace, name: str) -> str:
    split = load_split(workspace.dataset_dir(name))
    if split is None:
        return "not drawn"
    sizes = " + ".join(f"{len(split.test_subjects[g])} {g}" for g in split.groups)
    return f"{sizes} (seed {split.seed})"


def _count(folder, pattern: str) -> int:
    return sum(1 for _ in folder.glob(pattern)) if folder.is_dir() else 0
