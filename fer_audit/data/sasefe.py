"""SASE-FE: one folder per subject, twelve videos named by code, genders from a table.

Codes (any letter case, any video extension): genuine `N2A` anger, `N2C` contempt,
`N2D` disgust, `N2H` happiness, `N2S` sadness, `N2Sur` surprise; faked `H2N2A`,
`H2N2C`, `H2N2D`, `S2N2H`, `H2N2S`, `D2N2Sur` (the first letter is the emotion
shown before the neutral face). The subject is the name of the folder holding the
video. Gender is not in the data: it comes from a subject table (`subject,gender`).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from fer_audit.data.index import (
    SYNTHETIC_MARKER,
    AdapterResult,
    DatasetError,
    SkippedFile,
    is_video,
    make_index,
    relative_posix,
    scan_folder,
)
from fer_audit.data.subjects import attach_genders, read_subject_table

#: code -> (emotion, authenticity)
CODES: dict[str, tuple[str, str]] = {
    "N2A": ("anger", "genuine"),
    "N2C": ("contempt", "genuine"),
    "N2D": ("disgust", "genuine"),
    "N2H": ("happiness", "genuine"),
    "N2S": ("sadness", "genuine"),
    "N2Sur": ("surprise", "genuine"),
    "H2N2A": ("anger", "fake"),
    "H2N2C": ("contempt", "fake"),
    "H2N2D": ("disgust", "fake"),
    "S2N2H": ("happiness", "fake"),
    "H2N2S": ("sadness", "fake"),
    "D2N2Sur": ("surprise", "fake"),
}
_CODE_BY_UPPER = {code.upper(): code for code in CODES}
SUBJECT_TABLE_NAMES = ("subjects.csv",)


def code_of(path: Path) -> str | None:
    """The canonical SASE-FE code of a file name, or None."""
    return _CODE_BY_UPPER.get(path.stem.strip().upper())


def read_sasefe(
    root: str | Path,
    *,
    subjects: str | Path | None = None,
    dataset: str = "sasefe",
    allowed_genders: Collection[str] | None = None,
) -> AdapterResult:
    """Index a SASE-FE copy at `root`.

    `subjects` is the subject table; without it, `root/subjects.csv` is used if present.
    Files that match no code are listed in `skipped`, not fatal. Errors (DatasetError):
    no matching video at all, two files with the same subject and code, subjects
    missing from the table, and any problem of the table itself.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    table_path = _find_subject_table(root, subjects)

    rows, seen = [], {}
    files, skipped = scan_folder(root)
    for path in files:
        rel = relative_posix(path, root)
        if path == table_path or path.name == SYNTHETIC_MARKER:
            continue
        code = code_of(path) if is_video(path) else None
        if code is None:
            reason = "video name matches no SASE-FE code" if is_video(path) else "not a video file"
            skipped.append(SkippedFile(rel, reason))
            continue
        if path.parent == root:
            skipped.append(SkippedFile(rel, "not inside a subject folder"))
            continue
        subject = path.parent.name
        key = (subject, code)
        if key in seen:
            raise DatasetError(
                f"subject {subject!r} has two videos for code {code}", [seen[key], rel]
            )
        seen[key] = rel
        emotion, authenticity = CODES[code]
        rows.append(
            dict(
                video_id=rel, path=rel, subject=subject, emotion=emotion, authenticity=authenticity
            )
        )
    if not rows:
        listed = [f"{s.path}: {s.reason}" for s in skipped[:20]]
        raise DatasetError(
            f"no SASE-FE video found under {root} (expected subject folders holding files "
            f"named {', '.join(CODES)})",
            listed,
        )
    if table_path is None:
        raise DatasetError(
            f"SASE-FE has no gender in its files: give a subject table (CSV `subject,gender`) "
            f"with --subjects, or put it at {root / SUBJECT_TABLE_NAMES[0]}"
        )
    table = read_subject_table(table_path, allowed=allowed_genders)
    genders = attach_genders((r["subject"] for r in rows), table, source=str(table_path))
    for row in rows:
        row["gender"] = genders[row["subject"]]

    notes = _completeness_notes(seen)
    unused = sorted(set(table) - set(genders))
    if unused:
        notes.append(f"subject table rows with no videos: {', '.join(unused)}")
    return AdapterResult(make_index(rows, dataset), skipped, notes)


def subject_folders(root: str | Path) -> list[str]:
    """The subfolders of `root` that hold at least one SASE-FE-coded video: the subjects
    a subject table must name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(
        folder.name
        for folder in root.iterdir()
        if folder.is_dir()
        and any(is_video(f) and code_of(f) for f in folder.iterdir() if f.is_file())
    )


def _find_subject_table(root: Path, subjects: str | Path | None) -> Path | None:
    if subjects is not None:
        path = Path(subjects).resolve()
        if not path.is_file():
            raise DatasetError(f"subject table {path} does not exist")
        return path
    for name in SUBJECT_TABLE_NAMES:
        if (root / name).is_file():
            return root / name
    return None


def _completeness_notes(seen: dict[tuple[str, str], str]) -> list[str]:
    codes_by_subject: dict[str, set[str]] = {}
    for subject, code in seen:
        codes_by_subject.setdefault(subject, set()).add(code)
    notes = []
    for subject, codes in sorted(codes_by_subject.items()):
        missing = [c for c in CODES if c not in codes]
        if missing:
            notes.append(
                f"subject {subject} lacks {len(missing)} of 12 videos: {', '.join(missing)}"
            )
    return notes
