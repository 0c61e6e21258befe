"""Building blocks shared by the architectures: input normalisation inside the model,
the per-frame CNN + LSTM template, and the 3D-CNN wrapper.

Every model takes clips shaped (batch, K, 3, H, W) with pixel values in [0, 255]
(uint8 crops from the clip cache, as float) and returns class logits. Each model
resizes to its own input size and applies its own normalisation (its input module,
made by its weights entry: `fer_audit.models.weights.Weights`), so one cache of crops
serves every architecture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ClipInput(nn.Module):
    """Resize frames to `size` and normalise: (x - mean) / std on the 0-255 scale."""

    def __init__(self, size: int, stats: tuple[tuple[float, ...], tuple[float, ...]]):
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(stats[0]).view(1, 1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(stats[1]).view(1, 1, 3, 1, 1), persistent=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        clips = clips.float()
        batch, frames = clips.shape[:2]
        if clips.shape[-1] != self.size or clips.shape[-2] != self.size:
            flat = clips.flatten(0, 1)
            flat = F.interpolate(
                flat,
                size=(self.size, self.size),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
            clips = flat.view(batch, frames, 3, self.size, self.size)
        return (clips - self.mean) / self.std


class FrameLSTM(nn.Module):
    """Per-frame CNN backbone, one LSTM layer over the K frames, a linear classifier.

    `features()` gives the per-frame backbone features (cached in frozen-backbone
    training) and `head()` classifies them, so forward = head(features(x)).
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        input_module: nn.Module,
        hidden: int = 256,
    ):
        super().__init__()
        self.input = input_module
        self.backbone = backbone
        self.lstm = nn.LSTM(feature_dim, hidden, batch_first=True)
        self.classifier = nn.Linear(hidden, num_classes)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.input(clips)
        batch, frames = x.shape[:2]
        return self.backbone(x.flatten(0, 1)).view(batch, frames, -1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(features)
        return self.classifier(hidden[-1])

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(clips))


class Clip3D(nn.Module):
    """A 3D CNN over (batch, 3, K, H, W)."""

    def __init__(self, network: nn.Module, *, input_module: nn.Module):
        super().__init__()
        self.input = input_module
        self.network = network

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.network(self.input(clips).permute(0, 2, 1, 3, 4))
