"""CREMA-D: file names `ActorID_Sentence_EMO_Level`, genders from VideoDemographics.csv.

EMO is one of ANG, DIS, FEA, HAP, NEU, SAD. `VideoDemographics.csv` (columns
`ActorID, Age, Sex, Race, Ethnicity`) is looked for under the dataset root unless
its path is given. Expressions are acted, so authenticity is `unknown`.
"""

from __future__ import annotations

import re
from pathlib import Path

from fer_audit.data.index import (
    AdapterResult,
    DatasetError,
    SkippedFile,
    is_video,
    make_index,
    read_csv_table,
    relative_posix,
    scan_folder,
)
from fer_audit.data.subjects import attach_genders, table_from_pairs

EMOTION_CODES = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
_NAME = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{2})$")
DEMOGRAPHICS = "VideoDemographics.csv"


def read_cremad(
    root: str | Path, *, demographics: str | Path | None = None, dataset: str = "cremad"
) -> AdapterResult:
    """Index a CREMA-D copy at `root`."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    demo_path = _find_demographics(root, demographics)
    rows, seen = [], {}
    files, skipped = scan_folder(root)
    for path in files:
        if path == demo_path:
            continue
        rel = relative_posix(path, root)
        match = _NAME.match(path.stem)
        if not match or not is_video(path):
            skipped.append(SkippedFile(rel, "name is not a CREMA-D video name 1001_DFA_ANG_XX"))
            continue
        actor, _, emo, _ = match.groups()
        if emo.upper() not in EMOTION_CODES:
            skipped.append(SkippedFile(rel, f"unknown emotion code {emo}"))
            continue
        if path.stem in seen:  # CREMA-D ships each clip as .flv and again as .mp4
            skipped.append(SkippedFile(rel, f"same recording as {seen[path.stem]}"))
            continue
        seen[path.stem] = rel
        rows.append(
            dict(
                video_id=rel,
                path=rel,
                subject=actor,
                emotion=EMOTION_CODES[emo.upper()],
                authenticity="unknown",
            )
        )
    if not rows:
        raise DatasetError(
            f"no CREMA-D video found under {root} (expected names like 1001_DFA_ANG_XX.flv)",
            [f"{s.path}: {s.reason}" for s in skipped[:20]],
        )
    table = _read_demographics(demo_path)
    genders = attach_genders((r["subject"] for r in rows), table, source=str(demo_path))
    for row in rows:
        row["gender"] = genders[row["subject"]]
    return AdapterResult(make_index(rows, dataset), skipped)


def _find_demographics(root: Path, given: str | Path | None) -> Path:
    if given is not None:
        path = Path(given).resolve()
        if not path.is_file():
            raise DatasetError(f"demographics file {path} does not exist")
        return path
    found = sorted(root.rglob(DEMOGRAPHICS))
    if not found:
        raise DatasetError(
            f"CREMA-D genders come from {DEMOGRAPHICS}, which is not under {root}; "
            f"give its path with --subjects"
        )
    return found[0]


def _read_demographics(path: Path) -> dict[str, str]:
    frame = read_csv_table(path, what="demographics file", required=("actorid", "sex"))
    return table_from_pairs(zip(frame["actorid"], frame["sex"], strict=True), source=str(path))
