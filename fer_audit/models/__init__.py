"""The models fer-audit builds and loads (the paper's six video FER architectures and
the imported `fermini`), their weights entries, and the registry."""

from fer_audit.models.registry import (
    MODELS,
    REGISTRY,
    ModelSpec,
    create_model,
    get_spec,
)
from fer_audit.models.weights import Weights, WeightsMissing

__all__ = [
    "MODELS",
    "REGISTRY",
    "ModelSpec",
    "Weights",
    "WeightsMissing",
    "create_model",
    "get_spec",
]
