"""The published reference: Domnich & Anbarjafari (2021), appendix tables 2-28.

The paper prints, per training set (regular, female, male), model, test set (test,
female, male) and emotion, the one-vs-rest accuracy, TPR and FPR. With 10 positives
and 30 negatives per emotion on each gender set (20 and 60 on the test set), the
exact counts follow: TP = TPR * P, and FP = TP + N - ACC * (P + N) from the accuracy,
printed exactly, checked against the printed FPR (truncated or rounded to 2-3
decimals). The one cell where accuracy and FPR disagree keeps FP = FPR * N and is
flagged, not silently fixed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from fer_audit.fairness.from_counts import audit_counts
from fer_audit.fairness.result import POOLED, AuditResult

NAME = "domnich2021"
CLASSES = ("surprised", "upset", "sad", "happy")
ARCHITECTURES = ("3dcnn", "resnet3d", "resnet50", "senetlstm", "vgg16", "vggface")
SHA256 = "3a7e488a3add41f8a9ca1a3e3d2306113f5bf0bb40acfb3ea2507ce6976f1d76"
POSITIVES = {"test": 20, "female": 10, "male": 10}
#: a printed FPR agrees with a count k/N when it is k/N truncated or rounded to 2 decimals
FPR_TOLERANCE = 0.0101
CITATION = (
    "Domnich A., Anbarjafari G. (2021). Responsible AI: Gender bias assessment in emotion "
    "recognition. arXiv:2103.11436. Appendix tables 2-28."
)


@dataclass(frozen=True)
class Reference:
    table: pd.DataFrame  # the printed values, one per row
    counts: pd.DataFrame  # run_id, arch, train_set, seed, group, class, tp, fp, fn, tn
    inconsistent: pd.DataFrame  # cells whose printed accuracy disagrees with TPR and FPR


def load_table() -> pd.DataFrame:
    """The appendix as printed, checked against its recorded SHA-256."""
    data = resources.files("fer_audit.fairness").joinpath("data/domnich2021_appendix.csv")
    raw = data.read_bytes()
    if hashlib.sha256(raw).hexdigest() != SHA256:
        raise RuntimeError(f"{data} differs from the recorded reference (SHA-256 mismatch)")
    with data.open("rb") as fh:
        return pd.read_csv(fh)


def load_reference() -> Reference:
    """The printed table, the recovered one-vs-rest counts and the inconsistent cells."""
    table = load_table()
    wide = table.pivot_table(
        index=["train_set", "test_set", "model", "emotion"], columns="metric", values="value"
    ).reset_index()
    positives = wide["test_set"].map(POSITIVES).to_numpy()
    negatives = 3 * positives
    tp = np.rint(wide["tpr"].to_numpy() * positives)
    if np.abs(wide["tpr"].to_numpy() * positives - tp).max() > 0.05:
        raise RuntimeError("the reference TPR values do not map to whole counts")
    # FPR is printed to 2-3 decimals, truncated or rounded; accuracy is exact (k/40,
    # k/80), so FP comes from accuracy wherever the printed FPR agrees with it.
    fp_from_accuracy = np.rint(
        tp + negatives - wide["accuracy"].to_numpy() * (positives + negatives)
    )
    agrees = np.abs(fp_from_accuracy / negatives - wide["fpr"].to_numpy()) < FPR_TOLERANCE
    fp = np.where(agrees, fp_from_accuracy, np.rint(wide["fpr"].to_numpy() * negatives))
    inconsistent = wide.loc[~agrees, ["train_set", "test_set", "model", "emotion"]].copy()
    inconsistent["printed_accuracy"] = wide.loc[~agrees, "accuracy"]
    inconsistent["printed_tpr"] = wide.loc[~agrees, "tpr"]
    inconsistent["printed_fpr"] = wide.loc[~agrees, "fpr"]
    inconsistent["implied_accuracy"] = ((tp + negatives - fp) / (positives + negatives))[~agrees]
    counts = pd.DataFrame(
        {
            "run_id": wide["train_set"] + "/" + wide["model"],
            "arch": wide["model"],
            "train_set": wide["train_set"],
            "seed": None,
            "group": wide["test_set"].replace({"test": POOLED}),
            "class": wide["emotion"],
            "tp": tp.astype(int),
            "fp": fp.astype(int),
            "fn": (positives - tp).astype(int),
            "tn": (negatives - fp).astype(int),
        }
    )
    return Reference(table, counts, inconsistent.reset_index(drop=True))


def reference_audit(
    *, n_boot: int = 2000, seed: int = 0, correction: str = "holm", family: str = "run"
) -> AuditResult:
    """The audit of the published results (count-based intervals), female - male."""
    reference = load_reference()
    source = {
        "kind": "published reference",
        "name": NAME,
        "citation": CITATION,
        "synthetic": False,
        "inconsistent_cells": reference.inconsistent.to_dict("records"),
        "note": "Counts recovered from printed TPR/FPR with 10 positives and 30 negatives "
        "per emotion on each gender set; the test-set rows are reported as group 'all'.",
    }
    return audit_counts(
        reference.counts,
        groups=["female", "male"],
        classes=CLASSES,
        n_boot=n_boot,
        seed=seed,
        correction=correction,
        family=family,
        source=source,
    )
