"""The `fer-audit` command lines that pages, the demo and the tests queue as jobs, built
from the settings themselves (`fer_audit.options` makes the same fields the commands'
options), so no caller spells a setting's flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fer_audit.fairness.settings import NOT_FOR_COMPARISON, AuditSettings
from fer_audit.options import option_argv
from fer_audit.train.config import TrainConfig
from fer_audit.video.settings import PreprocessSettings


def preprocess_argv(
    dataset: str, settings: PreprocessSettings, *, workers: int = 1, device: str = "auto"
) -> list[str]:
    """`fer-audit preprocess` of `dataset` with `settings`."""
    return [
        "preprocess", dataset, *option_argv(settings),
        "--workers", str(workers), "--device", device,
    ]  # fmt: skip


def train_argv(
    config: TrainConfig, *, seeds: Sequence[int] | None = None, device: str = "auto"
) -> list[str]:
    """`fer-audit train` of `config`, once per seed of `seeds` (default: the config's
    own), on the preprocessing `config.preprocess` names by its key."""
    chosen = seeds if seeds is not None else [config.seed]
    return [
        "train",
        *option_argv(config, skip=("seed",)),
        "--seeds", ",".join(str(seed) for seed in chosen),
        "--preprocess", config.preprocess.key(),
        "--device", device,
    ]  # fmt: skip


def audit_argv(
    settings: AuditSettings,
    *,
    out: str | Path,
    predictions: str | Path | None = None,
    reference: str | None = None,
) -> list[str]:
    """`fer-audit audit` of a predictions table (or the published `reference`) with
    `settings`, saved into folder `out`."""
    source = [str(predictions)] if predictions is not None else ["--reference", str(reference)]
    return ["audit", *source, "--out", str(out), *option_argv(settings)]


def compare_argv(
    settings: AuditSettings,
    *,
    predictions: str | Path,
    first: str,
    second: str,
    definition: str,
    cls: str,
) -> list[str]:
    """`fer-audit compare`: the paired difference of two runs' gap in a predictions table,
    with the groups, label scheme, resamples and seed of `settings`."""
    return [
        "compare",
        str(predictions),
        *("--first", first, "--second", second, "--definition", definition, "--class", cls),
        *option_argv(settings, skip=NOT_FOR_COMPARISON),
    ]


def evaluate_argv(refs: Sequence[str], *, out: str | Path, dataset: str | None = None) -> list[str]:
    """`fer-audit evaluate` of trained runs and imported models (`refs`) into the
    predictions table `out`; imported models on `dataset`'s test split."""
    return ["evaluate", *refs, "--out", str(out), *(["--dataset", dataset] if dataset else [])]
