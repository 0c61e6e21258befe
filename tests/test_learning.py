"""Slow (make test-slow): a small 3D CNN trained on the SYNTHETIC planted-bias dataset
reads held-out subjects far above the majority class, and its predictions audit.

Not asserted yet: that the audit finds the planted gap (female sadness at 40%
intensity) with an interval excluding zero. With this model the sadness TPR gap came
out -0.30 on one draw and -0.06 on another: the planted bias is too weak for a
model this small to show it reliably; the demo issue tunes the generator for it."""

import pytest

from conftest import synthetic_workspace
from fer_audit.evaluate import evaluate_runs
from fer_audit.fairness import audit
from fer_audit.train import TrainConfig, train
from fer_audit.video.clip import PreprocessSettings


@pytest.mark.slow
def test_a_small_model_learns_the_synthetic_data_and_shows_the_planted_gap(workspace, tmp_path):
    settings = PreprocessSettings(k=10, margin=0, size=48, detector="none")
    synthetic_workspace(
        workspace,
        tmp_path / "syn",
        per_group=12,
        test_per_group=5,
        preprocess=settings,
        size=64,
        fps=12,
        duration_s=2.5,
        workers=2,
    )
    folder = train(
        workspace,
        TrainConfig(
            dataset="syn",
            arch="3dcnn",
            train_set="regular",
            seed=1,
            epochs=30,
            patience=30,
            input_size=48,
            preprocess=settings,
        ),
    )
    table, _ = evaluate_runs(workspace, [folder.name])
    accuracy = (table["y_true"] == table["y_pred"]).mean()
    majority = table["y_true"].value_counts(normalize=True).max()  # upset: 0.5
    assert accuracy > majority + 0.2, accuracy
    result = audit(table, n_boot=1000)
    assert result.synthetic
    assert set(result.settings["groups"]) == {"female", "male"}
