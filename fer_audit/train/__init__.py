"""Training: cached clips, the training loop with resumable run folders."""

from fer_audit.train.loop import TrainConfig, run_folder, train

__all__ = ["TrainConfig", "run_folder", "train"]
