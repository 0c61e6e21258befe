"""The paper's six video FER architectures, their weights, and the registry."""

from fer_audit.models.registry import MODELS, ModelSpec, create_model, get_spec
from fer_audit.models.weights import WeightsMissing

__all__ = ["MODELS", "ModelSpec", "WeightsMissing", "create_model", "get_spec"]
