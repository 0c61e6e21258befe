"""Frozen-backbone training: each frame's backbone features are computed once, cached
on disk, and only the temporal head (LSTM + classifier) trains on them.

Only the per-frame CNN + LSTM architectures split this way (`ModelSpec.temporal ==
"lstm"`). Augmentation would change the features every epoch, so frozen runs train
without it (recorded in run.json).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fer_audit import atomic
from fer_audit.train.data import ClipSet

logger = logging.getLogger(__name__)


@dataclass
class FeatureSet:
    """Cached per-frame features (N, K, F) with the labels of the clips they came from."""

    features: torch.Tensor
    labels: np.ndarray
    excluded: dict

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: np.ndarray, *, augment=None, rngs=None) -> torch.Tensor:
        return self.features[torch.as_tensor(indices)]


class HeadOnly(nn.Module):
    """Runs only the temporal head of a FrameLSTM on cached features."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.head(features)


def compute_features(
    model: nn.Module, clips: ClipSet, *, batch_size: int, device: str, cache_dir: Path, key: str
) -> FeatureSet:
    """The backbone features of every clip, read from `cache_dir` when computed before."""
    digest = hashlib.sha256((key + "|" + ",".join(clips.rows["video_id"])).encode())
    path = cache_dir / "features" / f"{digest.hexdigest()[:24]}.pt"
    cached = _cached_features(path, expected=len(clips))
    if cached is not None:
        return FeatureSet(cached, clips.labels, clips.excluded)
    model.eval()
    chunks = []
    with torch.no_grad(), torch.autocast(device_type="cuda", enabled=device == "cuda"):
        for start in range(0, len(clips), batch_size):
            indices = np.arange(start, min(start + batch_size, len(clips)))
            chunks.append(model.features(clips.batch(indices).to(device)).float().cpu())
    features = torch.cat(chunks)
    with atomic.atomic_path(path) as tmp:
        torch.save(features, tmp)
    return FeatureSet(features, clips.labels, clips.excluded)


def _cached_features(path: Path, *, expected: int) -> torch.Tensor | None:
    """The cached features, or None when there are none or the file is damaged (it is a
    cache: a damaged entry is removed, logged and computed again)."""
    if not path.exists():
        return None
    try:
        features = torch.load(path, weights_only=True)
        if isinstance(features, torch.Tensor) and len(features) == expected:
            return features
    except (RuntimeError, ValueError, EOFError, OSError, pickle.UnpicklingError) as exc:
        logger.warning("feature cache %s is damaged (%s); computing it again", path, exc)
    path.unlink(missing_ok=True)
    return None
