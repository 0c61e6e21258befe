"""The generator: `generate` writes the dataset (subjects from `make_subjects`, their
videos, the subject table and the SYNTHETIC.json marker that names it synthetic).

The output folder holds subject folders `S01`, `S02`, ... with the twelve codes as
H.264 `.mp4` files, `subjects.csv` (`subject,gender`), and `SYNTHETIC.json`, which
names the data synthetic and records every parameter; registering the folder marks
the dataset, and everything made from it, synthetic.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from fer_audit import atomic
from fer_audit.data.index import SYNTHETIC_MARKER, SYNTHETIC_NOTE
from fer_audit.data.sasefe import CODES
from fer_audit.data.synthetic.bias import (
    Subject,
    SyntheticSettings,
    displayed_emotion,
    displays_other,
)
from fer_audit.data.synthetic.render import SKIN_TONES, render_video, write_video
from fer_audit.seeding import seeded_rng
from fer_audit.version import code_version


def generate(
    out_dir: str | Path,
    settings: SyntheticSettings = SyntheticSettings(),
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write the dataset to `out_dir` (built in a temp folder, then renamed into place).

    Returns the content of its SYNTHETIC.json. `overwrite` replaces only a folder that
    this generator made (one holding SYNTHETIC.json), never another folder.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{out_dir} exists; choose another folder or overwrite it")
        if not (out_dir / SYNTHETIC_MARKER).is_file():
            raise FileExistsError(
                f"{out_dir} exists and is not a synthetic dataset (no {SYNTHETIC_MARKER}); "
                f"refusing to overwrite it"
            )
    subjects = make_subjects(settings)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{out_dir.name}.", dir=out_dir.parent))
    try:
        total, done = len(subjects) * len(CODES), 0
        for subject in subjects:
            (staging / subject.name).mkdir()
            for code in CODES:
                frames = render_video(subject, code, settings)
                write_video(staging / subject.name / f"{code}.mp4", frames, settings.fps)
                done += 1
                if progress:
                    progress(done, total)
        _write_subject_table(staging / "subjects.csv", subjects)
        info = _marker(settings, subjects)
        atomic.write_json(staging / SYNTHETIC_MARKER, info)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info


def make_subjects(settings: SyntheticSettings) -> list[Subject]:
    subjects = []
    groups = sorted(settings.subjects_per_group)
    # interleave groups so subject numbers reveal nothing about gender
    order = [
        g
        for i in range(max(settings.subjects_per_group.values()))
        for g in groups
        if i < settings.subjects_per_group[g]
    ]
    order = list(seeded_rng(settings.seed, "order").permutation(order))
    for number, gender in enumerate(order, start=1):
        name = f"S{number:02d}"
        rng = seeded_rng(settings.seed, name)
        subjects.append(
            Subject(
                name=name,
                gender=str(gender),
                intensity=float(rng.uniform(0.65, 1.0)),
                onset=float(rng.uniform(0.12, 0.3)),
                ramp=float(rng.uniform(0.15, 0.3)),
                skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
                face_w=float(rng.uniform(0.30, 0.36)),
                face_h=float(rng.uniform(0.40, 0.46)),
                eye_gap=float(rng.uniform(0.13, 0.17)),
                resting={
                    a: float(rng.normal(0, 0.12))
                    for a in ("brow_raise", "brow_tilt", "mouth_curve", "eye_open")
                },
            )
        )
    return subjects


def _write_subject_table(path: Path, subjects: Sequence[Subject]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["subject", "gender"])
        for subject in subjects:
            writer.writerow([subject.name, subject.gender])


def _marker(settings: SyntheticSettings, subjects: Sequence[Subject]) -> dict:
    return {
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "generator": "fer_audit.data.synthetic",
        "code_version": code_version(),
        "planted_biases": [asdict(b) | {"description": b.describe()} for b in settings.biases],
        "settings": {
            "subjects_per_group": settings.subjects_per_group,
            "seed": settings.seed,
            "size": settings.size,
            "fps": settings.fps,
            "duration_s": settings.duration_s,
        },
        "subjects": {
            s.name: {
                "gender": s.gender,
                "intensity": round(s.intensity, 4),
                "onset": round(s.onset, 4),
            }
            for s in subjects
        },
        "displayed_as_other": {
            f"{s.name}/{code}": displayed_emotion(s, code, bias, settings.seed)
            for s in subjects
            for code in CODES
            for bias in settings.biases
            if displays_other(s, code, bias, settings.seed)
        },
    }
