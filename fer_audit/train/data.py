"""Training data: cached face-crop clips of the subjects of one split side, with labels.

Clips come from the clip cache (`fer-audit preprocess`), never decoded here. Videos
whose preprocessing did not give `ok` (no face, unreadable, too short) are left out
and counted; a dataset that was not preprocessed with these settings is an error
that says which command to run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from fer_audit.commands import preprocess_argv
from fer_audit.data.fixes import FIX_PREPROCESSING, FIX_SPLIT, WHERE_LISTED
from fer_audit.data.registry import Dataset
from fer_audit.errors import DataProblem
from fer_audit.labels import LabelScheme, apply_scheme
from fer_audit.video.augment import Augment
from fer_audit.video.batch import HashMemo
from fer_audit.video.cache import ClipCache
from fer_audit.video.settings import PreprocessSettings


class NotPreprocessed(DataProblem):
    """The clip cache lacks the videos a run needs."""


@dataclass
class ClipSet:
    """Clips (N, K, S, S, 3) uint8 with their labels and index rows."""

    clips: np.ndarray
    labels: np.ndarray
    rows: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)  # status -> count

    def __len__(self) -> int:
        return len(self.labels)

    def batch(
        self,
        indices: np.ndarray,
        *,
        augment: Augment | None = None,
        rngs: list[np.random.Generator] | None = None,
    ) -> torch.Tensor:
        """Float clips (B, K, 3, S, S) on 0-255, augmented per clip when asked."""
        clips = self.clips[indices]
        if augment is not None:
            clips = np.stack([augment(c, r) for c, r in zip(clips, rngs, strict=True)])
        return torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float()


def load_clips(
    workspace,
    dataset: Dataset,
    subjects: list[str],
    *,
    scheme: LabelScheme,
    settings: PreprocessSettings,
) -> ClipSet:
    """The cached clips of `subjects`' videos that the scheme covers."""
    rows = dataset.index[dataset.index["subject"].isin(subjects)]
    rows = apply_scheme(rows, scheme).index.sort_values("video_id").reset_index(drop=True)
    cache = ClipCache(workspace.cache_dir, settings)
    hashes = HashMemo(workspace, dataset.name)
    clips, labels, kept, excluded, pending = [], [], [], {}, 0
    for i, row in rows.iterrows():
        digest = hashes.get(dataset.video_path(row["path"]))
        status = cache.status(digest) if digest else None
        if status is None:
            pending += 1
            continue
        if status["status"] != "ok":
            excluded[status["status"]] = excluded.get(status["status"], 0) + 1
            continue
        clips.append(cache.load(digest)["crops"])
        labels.append(scheme.classes.index(row["label"]))
        kept.append(i)
    if pending:
        raise NotPreprocessed(
            f"{pending} video(s) of {dataset.name} are not preprocessed with these settings; "
            f"run: fer-audit {' '.join(preprocess_argv(dataset.name, settings))}",
            fix="preprocess the dataset with these settings (Data page, Preprocessing), "
            "then start this again",
        )
    if not clips:
        raise NotPreprocessed(
            f"no usable clip for subjects {', '.join(subjects[:5])}",
            fix=f"{FIX_PREPROCESSING}, or {FIX_SPLIT}; {WHERE_LISTED}",
        )
    hashes.save()
    return ClipSet(
        np.stack(clips), np.asarray(labels), rows.loc[kept].reset_index(drop=True), excluded
    )
