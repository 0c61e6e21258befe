"""RAVDESS: file names `MM-VV-EE-II-SS-RR-AA.mp4` carry every label.

MM modality (01 audio-video, 02 video-only, 03 audio-only), VV vocal channel,
EE emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
08 surprised), II intensity, SS statement, RR repetition, AA actor: odd actors are
male, even actors female. Every RAVDESS expression is acted, so authenticity is
`unknown` (the dataset does not separate genuine from posed).
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
    relative_posix,
    scan_folder,
)

EMOTION_CODES = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
VIDEO_ONLY, AUDIO_VIDEO, AUDIO_ONLY = "02", "01", "03"


def read_ravdess(root: str | Path, *, dataset: str = "ravdess") -> AdapterResult:
    """Index a RAVDESS copy. When a recording exists both as video-only (02) and as
    audio-video (01), the video-only file is kept and the other listed as skipped."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    chosen: dict[tuple[str, ...], tuple[str, Path]] = {}
    files, skipped = scan_folder(root)
    for path in files:
        rel = relative_posix(path, root)
        match = _NAME.match(path.stem)
        if match and match.group(1) == AUDIO_ONLY:
            skipped.append(SkippedFile(rel, "audio-only recording"))
            continue
        if not match or not is_video(path):
            skipped.append(
                SkippedFile(rel, "name is not a RAVDESS video name MM-VV-EE-II-SS-RR-AA")
            )
            continue
        modality, *rest = match.groups()
        if rest[1] not in EMOTION_CODES or int(rest[5]) == 0:
            skipped.append(SkippedFile(rel, "unknown emotion or actor code"))
            continue
        key = tuple(rest)
        if key in chosen:
            kept_modality, kept = chosen[key]
            if modality == VIDEO_ONLY and kept_modality != VIDEO_ONLY:
                skipped.append(
                    SkippedFile(relative_posix(kept, root), "same recording as a video-only file")
                )
                chosen[key] = (modality, path)
            else:
                skipped.append(SkippedFile(rel, "same recording as another file"))
            continue
        chosen[key] = (modality, path)
    if not chosen:
        raise DatasetError(
            f"no RAVDESS video found under {root} (expected names like 02-01-03-01-01-01-12.mp4)",
            [f"{s.path}: {s.reason}" for s in skipped[:20]],
        )
    rows = []
    for _, path in chosen.values():
        rel = relative_posix(path, root)
        fields = _NAME.match(path.stem).groups()
        actor = int(fields[6])
        rows.append(
            dict(
                video_id=rel,
                path=rel,
                subject=f"Actor_{actor:02d}",
                gender="male" if actor % 2 else "female",
                emotion=EMOTION_CODES[fields[2]],
                authenticity="unknown",
            )
        )
    return AdapterResult(make_index(rows, dataset), skipped)
