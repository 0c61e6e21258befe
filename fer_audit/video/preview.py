"""A preview of what preprocessing made: the cached face crops of a few videos per
subject, each video's K crops side by side, for the Data page to show before anyone
trains on them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from fer_audit.data.registry import Dataset
from fer_audit.video.batch import load_clip
from fer_audit.video.settings import PreprocessSettings


@dataclass(frozen=True)
class CropStrip:
    subject: str
    gender: str
    video_id: str
    strip: np.ndarray  # (size, K * size, 3) uint8 RGB: the K crops left to right
    faces_found: int  # keyframes where a face was found (detector none: all)
    keyframes: int


def crop_strips(
    workspace,
    dataset: Dataset,
    settings: PreprocessSettings,
    usable: Collection[str],
    *,
    per_subject: int = 2,
    max_subjects: int = 6,
) -> list[CropStrip]:
    """The first `per_subject` usable videos (ids in `usable`) of the first
    `max_subjects` subjects that have any, read from the cache."""
    index = dataset.index[dataset.index["video_id"].isin(usable)].sort_values("video_id")
    strips = []
    for _, videos in list(index.groupby("subject", sort=True))[:max_subjects]:
        for row in videos.head(per_subject).itertuples():
            result = load_clip(workspace, dataset.video_path(row.path), settings)
            if result is None or result.crops is None or not len(result.crops):
                continue
            strips.append(
                CropStrip(
                    subject=row.subject,
                    gender=row.gender,
                    video_id=row.video_id,
                    strip=np.concatenate(list(result.crops), axis=1),
                    faces_found=int(np.sum(result.face_found)),
                    keyframes=len(result.crops),
                )
            )
    return strips
