"""What a workspace holds, for the home page and `fer-audit` summaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from fer_audit.atomic import read_json
from fer_audit.data.readiness import Readiness, readiness
from fer_audit.data.registry import Dataset, list_datasets, load_dataset
from fer_audit.data.samples import samples_folder
from fer_audit.data.splits import load_split
from fer_audit.errors import DamagedFile, one_line, read_all
from fer_audit.jobs import JobRegistry
from fer_audit.safe_csv import read_saved_csv
from fer_audit.video.lengths import ClipLengths, frames_needed, suggested_k
from fer_audit.video.settings import KS, PreprocessSettings
from fer_audit.workspace import Workspace, check_name


@dataclass(frozen=True)
class Overview:
    root: str
    datasets: pd.DataFrame  # one row per registered dataset
    runs: int
    predictions: int
    audits: int
    samples_fetched: bool
    jobs: dict[str, int]  # status -> jobs
    #: files that cannot be read (each named, with what to do); the rest is listed
    problems: list[DamagedFile] = field(default_factory=list)

    @property
    def synthetic_datasets(self) -> list[str]:
        if self.datasets.empty:
            return []
        return self.datasets.loc[self.datasets["synthetic"], "name"].tolist()


def workspace_overview(workspace: Workspace) -> Overview:
    """Counts and datasets of the workspace. A damaged file (a dataset's registration or
    split, a run's run.json, an audit's audit.json, the job registry) is left out of
    the counts and listed in `problems`; it never stops the overview."""
    problems: list[DamagedFile] = []
    metas = list_datasets(workspace, damaged=problems)
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
            "test split": _split_summary(workspace, meta["name"], problems),
            "registered": meta.get("registered_at", ""),
        }
        for meta in metas
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
        runs=_readable(workspace.runs_dir, "*/run.json", problems),
        predictions=_count(workspace.predictions_dir, "*.parquet"),
        audits=_readable(workspace.audits_dir, "*/audit.json", problems),
        samples_fetched=(samples_folder() / "provenance.json").exists(),
        jobs=_job_counts(workspace, problems),
        problems=problems,
    )


def _job_counts(workspace: Workspace, problems: list[DamagedFile]) -> dict[str, int]:
    if not workspace.jobs_db.exists():
        return {}
    try:
        registry = JobRegistry(workspace)
        registry.mark_vanished()  # a killed job counts as failed; nothing is started here
        jobs = registry.list()
    except DamagedFile as exc:
        problems.append(exc)
        return {}
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    return counts


@dataclass(frozen=True)
class Preprocessed:
    key: str  # PreprocessSettings.key(): what a training run names it by
    settings: dict  # the PreprocessSettings fields
    counts: dict[str, int]  # status -> videos
    problems: pd.DataFrame  # the videos that are not ok, with their reason
    usable: frozenset[str] = frozenset()  # the ids of the videos that are ok

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
    #: the dataset's files that cannot be read (its split, preprocessing reports)
    problems: list[DamagedFile] = field(default_factory=list)


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
    problems: list[DamagedFile] = []
    return DatasetSummary(
        dataset=dataset,
        subjects_per_gender=per_gender,
        videos=videos.reset_index(),
        preprocessing=preprocessing_reports(workspace, name, damaged=problems),
        split=_split_summary(workspace, name, problems),
        problems=problems,
    )


def suggested_preprocessing(
    dataset: Dataset, lengths: ClipLengths | None = None
) -> PreprocessSettings:
    """Preprocessing defaults for the Data page's form: the paper's (PreprocessSettings'
    own) for recordings; for synthetic drawn faces no detector (MTCNN rarely finds
    cartoons), no margin, and crops no larger than the generated frames. K is the
    paper's 20 when the clips' `lengths` allow it, else the largest K they allow."""
    paper = PreprocessSettings()
    k = suggested_k(lengths) or min(KS)
    if not dataset.synthetic:
        return replace(paper, k=k)
    frame = dataset.meta.get("synthetic_info", {}).get("settings", {}).get("size", paper.size)
    size = max(32, min(paper.size, int(frame)))
    return replace(paper, k=k, margin=0, size=size, detector="none")


def length_note(lengths: ClipLengths | None) -> str:
    """What the clips' lengths allow, in words, for the Data page."""
    if lengths is None:
        return "The clips' lengths could not be read from their headers."
    k = suggested_k(lengths)
    allowed = f"K={k} suggested" if k else "too short for any K"
    needs = ", ".join(f"K={k} {frames_needed(k, lengths.fps)}" for k in KS)
    return f"Clips: {lengths.describe()}: {allowed} (frames needed: {needs})."


def preprocessing_reports(
    workspace: Workspace, name: str, *, damaged: list[DamagedFile] | None = None
) -> list[Preprocessed]:
    """The preprocessing reports of dataset `name`, newest first. A report that cannot be
    read is added to `damaged` when a list is given (the others are still listed), else
    raised (DamagedFile)."""
    folder = _reports_folder(workspace, name)
    reports = sorted(folder.glob("*.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    return read_all(reports, lambda path: _read_report(path, name), damaged)


def preprocessing_settings(workspace: Workspace, name: str, key: str | None) -> PreprocessSettings:
    """The settings of dataset `name`'s preprocessing `key` (None: its only one), read
    from the settings file beside its report (the report itself is not needed);
    ValueError naming the keys there are when there is no such one, or several and
    `key` is None; DamagedFile for a settings file that is not fer-audit's."""
    folder = _reports_folder(workspace, name)
    keys = sorted(path.stem for path in folder.glob("*.csv"))
    if key is None and len(keys) == 1:
        key = keys[0]
    if key not in keys:
        if key:
            what = f"no preprocessing {key}"
        else:
            what = "more than one preprocessing" if keys else "no preprocessing"
        known = ", ".join(keys) or "none yet: run fer-audit preprocess first"
        raise ValueError(f"dataset {name} has {what}: name one with --preprocess KEY ({known})")
    found = _read_settings(folder / f"{key}.json", name)
    if not found:
        raise ValueError(
            f"preprocessing {key} of {name} has lost its settings file: "
            f"write it again with fer-audit preprocess {name} ... --report-only"
        )
    settings = PreprocessSettings(**found)
    if settings.key() != key:  # written by another version of fer-audit
        raise ValueError(
            f"preprocessing {key} of {name} was made by another version of "
            f"fer-audit (its settings now give {settings.key()}): preprocess {name} again"
        )
    return settings


def _reports_folder(workspace: Workspace, name: str) -> Path:
    return workspace.cache_dir / "reports" / check_name(name, what="dataset")


def _report_hint(name: str) -> str:
    return (
        f"write it again: preprocess {name} again with the same settings (cached clips "
        "are skipped, so it is quick; or fer-audit preprocess ... --report-only), or "
        "delete it and its .json"
    )


def _read_settings(path: Path, name: str) -> dict:
    """A report's settings file as PreprocessSettings fields ({} when there is none);
    DamagedFile when it holds settings fer-audit does not write."""
    if not path.exists():
        return {}
    settings = read_json(path, hint=_report_hint(name))
    try:
        return asdict(PreprocessSettings(**settings))
    except (TypeError, ValueError) as exc:  # edited by hand, or another tool's
        detail = f"settings that are not fer-audit's: {one_line(exc)}"
        raise DamagedFile(path, _report_hint(name), detail) from None


#: the columns of a preprocessing report the pages read
_REPORT_COLUMNS = ("video_id", "status", "reason")


def _read_report(path: Path, name: str) -> Preprocessed:
    hint = _report_hint(name)
    table = read_saved_csv(path, hint=hint, dtype=str, keep_default_na=False)
    missing = [c for c in _REPORT_COLUMNS if c not in table.columns]
    if missing:
        raise DamagedFile(path, hint, f"no {', '.join(missing)} column")
    return Preprocessed(
        key=path.stem,
        settings=_read_settings(path.with_suffix(".json"), name),
        counts=table["status"].value_counts().to_dict(),
        problems=table.loc[table["status"] != "ok", list(_REPORT_COLUMNS)],
        usable=frozenset(table.loc[table["status"] == "ok", "video_id"]),
    )


def dataset_readiness(dataset: Dataset, split, report: Preprocessed) -> Readiness:
    """What preprocessing `report` leaves `dataset` (with its `split`) for training and
    the audit (fer_audit.data.readiness)."""
    index = dataset.index
    return readiness(dataset.subjects(), index[index["video_id"].isin(report.usable)], split)


def usable_subjects(
    workspace: Workspace, dataset: Dataset, settings: PreprocessSettings
) -> set[str] | None:
    """The subjects of `dataset` that preprocessing `settings` left at least one usable
    video (its report's `ok` rows); None when there is no report of these settings."""
    path = _reports_folder(workspace, dataset.name) / f"{settings.key()}.csv"
    if not path.exists():
        return None
    usable = _read_report(path, dataset.name).usable
    index = dataset.index
    return set(index.loc[index["video_id"].isin(usable), "subject"])


def readiness_of(workspace: Workspace, name: str, reports: list[Preprocessed]) -> dict:
    """{preprocessing key: its Readiness} for the registered dataset `name` with its
    current test split (DamagedFile when its index or split cannot be read)."""
    dataset = load_dataset(workspace, name)
    split = load_split(workspace.dataset_dir(name))
    return {report.key: dataset_readiness(dataset, split, report) for report in reports}


def _split_summary(workspace: Workspace, name: str, problems: list[DamagedFile]) -> str:
    try:
        split = load_split(workspace.dataset_dir(name))
    except DamagedFile as exc:
        problems.append(exc)
        return "DAMAGED: draw it again"
    if split is None:
        return "not drawn"
    sizes = " + ".join(
        f"{len(split.test_subjects[g])} {g} ({', '.join(split.test_subjects[g])})"
        for g in split.groups
    )
    return f"{sizes}, seed {split.seed}"


def _readable(folder, pattern: str, problems: list[DamagedFile]) -> int:
    """How many files match `pattern` and read as JSON; the others go to `problems`."""
    count = 0
    for path in sorted(folder.glob(pattern)) if folder.is_dir() else []:
        try:
            read_json(path)
        except DamagedFile as exc:
            problems.append(exc)
        except OSError:
            continue  # removed while counting
        else:
            count += 1
    return count


def _count(folder, pattern: str) -> int:
    return sum(1 for _ in folder.glob(pattern)) if folder.is_dir() else 0
