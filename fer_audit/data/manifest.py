"""A manifest CSV describes any dataset: `path,subject,gender,emotion[,authenticity]`.

`path` is relative to the manifest's folder (or absolute). Emotions accept common
spellings (happy, angry, surprised, ...). Rows whose file does not exist are listed
as skipped; rows with unreadable labels are errors, all reported at once.
"""

from __future__ import annotations

from pathlib import Path

from fer_audit.data.index import (
    AUTHENTICITY_VALUES,
    AdapterResult,
    DatasetError,
    SkippedFile,
    is_video,
    make_index,
    read_csv_table,
)
from fer_audit.data.subjects import normalize_gender
from fer_audit.labels import UnknownEmotionError, normalize_emotion

REQUIRED = ("path", "subject", "gender", "emotion")


def read_manifest(manifest: str | Path, *, dataset: str = "manifest") -> AdapterResult:
    """Index the videos a manifest lists. The dataset root is the manifest's folder."""
    manifest = Path(manifest).resolve()
    frame = read_csv_table(manifest, what="manifest", required=REQUIRED)
    root = manifest.parent
    rows, skipped, problems = [], [], []
    for number, record in enumerate(frame.to_dict("records"), start=2):
        row, problem = _row(record, number, root)
        if problem:
            problems.append(problem)
        elif not (root / row["path"]).is_file():
            skipped.append(SkippedFile(row["path"], f"row {number}: file not found"))
        elif not is_video(root / row["path"]):
            skipped.append(SkippedFile(row["path"], f"row {number}: not a video file"))
        else:
            rows.append(row)
    if problems:
        raise DatasetError(f"manifest {manifest} has {len(problems)} bad row(s)", problems)
    if not rows:
        raise DatasetError(
            f"manifest {manifest} lists no existing video",
            [f"{s.path}: {s.reason}" for s in skipped[:20]],
        )
    return AdapterResult(make_index(rows, dataset), skipped)


def _row(record: dict, number: int, root: Path) -> tuple[dict, str | None]:
    raw_path = record["path"].strip()
    subject = record["subject"].strip()
    gender = normalize_gender(record["gender"])
    authenticity = (record.get("authenticity") or "unknown").strip().lower() or "unknown"
    if not raw_path or not subject:
        return {}, f"row {number}: empty path or subject"
    if gender is None:
        return {}, f"row {number}: no gender for subject {subject!r} ({record['gender']!r})"
    if authenticity not in AUTHENTICITY_VALUES:
        return (
            {},
            f"row {number}: authenticity {authenticity!r} is not one of {AUTHENTICITY_VALUES}",
        )
    try:
        emotion = normalize_emotion(record["emotion"])
    except UnknownEmotionError as exc:
        return {}, f"row {number}: {exc}"
    path = Path(raw_path)
    if path.is_absolute() and path.resolve().is_relative_to(root):
        path = path.resolve().relative_to(root)
    rel = path.as_posix()
    return dict(
        video_id=rel,
        path=rel,
        subject=subject,
        gender=gender,
        emotion=emotion,
        authenticity=authenticity,
    ), None
