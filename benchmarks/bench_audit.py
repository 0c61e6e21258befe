"""Audit bootstrap speed against Fairlearn's MetricFrame (DESIGN.md section 9).

Data: 18 runs (6 architectures x 3 training sets) x 80 videos (10 subjects, 5 per
gender, 2 videos per class per subject, 4 classes), random predictions, seeded.

Ours: `fer_audit.fairness.audit` with n_boot resamples of subjects (and as many
permutations for the p-values, which Fairlearn does not compute).
Fairlearn: per run and class (one-vs-rest binarisation), one MetricFrame with TPR,
FPR, selection rate and accuracy by gender and the same n_boot (its bootstrap
resamples videos). Fairlearn takes about half a minute per MetricFrame at 2000
resamples, so by default it is measured on `--fairlearn-runs` run(s) and its time for
all 18 scaled linearly (runs are independent MetricFrames); ours is measured on the
same subset too, for a like-for-like ratio. `--fairlearn-runs 18` measures all.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import pandas as pd

from fer_audit.fairness import audit
from fer_audit.labels import TRAIN_SETS

CLASSES = ["surprised", "upset", "sad", "happy"]
ARCHS = ["3dcnn", "resnet3d", "resnet50", "senetlstm", "vgg16", "vggface"]


def make_predictions(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for arch in ARCHS:
        for train_set in TRAIN_SETS:
            for subject in range(10):
                gender = "female" if subject < 5 else "male"
                for true in CLASSES:
                    for _ in range(2):
                        pred = true if rng.random() < 0.7 else rng.choice(CLASSES)
                        rows.append(
                            (
                                f"{train_set}/{arch}",
                                arch,
                                train_set,
                                1,
                                f"s{subject}",
                                gender,
                                true,
                                pred,
                            )
                        )
    columns = ["run_id", "arch", "train_set", "seed", "subject", "gender", "y_true", "y_pred"]
    return pd.DataFrame(rows, columns=columns)


def time_ours(frame: pd.DataFrame, n_boot: int) -> float:
    start = time.perf_counter()
    audit(frame, n_boot=n_boot, seed=0)
    return time.perf_counter() - start


def time_fairlearn(frame: pd.DataFrame, n_boot: int) -> float:
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    metrics = {
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
    }
    start = time.perf_counter()
    for _, run in frame.groupby("run_id"):
        for cls in CLASSES:
            MetricFrame(
                metrics=metrics,
                y_true=(run["y_true"] == cls).astype(int),
                y_pred=(run["y_pred"] == cls).astype(int),
                sensitive_features=run["gender"],
                n_boot=n_boot,
                ci_quantiles=[0.025, 0.975],
                random_state=0,
            )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--fairlearn-runs", type=int, default=1)
    args = parser.parse_args()
    frame = make_predictions()
    runs = sorted(frame["run_id"].unique())
    subset = frame[frame["run_id"].isin(runs[: args.fairlearn_runs])]

    ours_s = time_ours(frame, args.n_boot)
    ours_subset_s = time_ours(subset, args.n_boot)
    fairlearn_subset_s = time_fairlearn(subset, args.n_boot)
    scale = len(runs) / args.fairlearn_runs
    fairlearn_s = fairlearn_subset_s * scale
    print(
        json.dumps(
            {
                "runs": len(runs),
                "videos_per_run": int(len(frame) / len(runs)),
                "n_boot": args.n_boot,
                "ours_s": round(ours_s, 3),
                "fairlearn_s": round(fairlearn_s, 2),
                "fairlearn_extrapolated": args.fairlearn_runs < len(runs),
                "fairlearn_runs_measured": args.fairlearn_runs,
                "fairlearn_measured_s": round(fairlearn_subset_s, 2),
                "ours_same_runs_s": round(ours_subset_s, 3),
                "speedup": round(fairlearn_s / ours_s, 1),
                "speedup_same_runs": round(fairlearn_subset_s / ours_subset_s, 1),
                "ours_includes": "subject bootstrap, permutation test, Holm correction, "
                "all gaps, minimum detectable gaps",
                "fairlearn_includes": "video bootstrap of 4 metrics per class, no tests",
                "machine": f"{platform.machine()}, {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
