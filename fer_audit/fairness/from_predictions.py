"""The audit from a predictions table (DESIGN.md section 6): each run's confusion
matrices per group, rates and gaps with percentile intervals from a subject bootstrap
(subjects resampled within each group; draws that lose a class are left out), p-values
from a permutation test shuffling group labels across subjects (a subject's cells move
together for intersectional groups), and the between-subject variation the planner
needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fer_audit.fairness import intervals, metrics
from fer_audit.fairness.assemble import (
    _VARIATION_COLUMNS,
    _all_rates,
    _assemble,
    _check_family,
    _class_label,
    _denominator,
    _flag_run,
    _gap_frame,
    _gap_matrix_counts,
    _metric_frame,
    _settings,
    differences_from_counts,
)
from fer_audit.fairness.detectable import detectable_gaps
from fer_audit.fairness.gaps import gaps_from_differences
from fer_audit.fairness.planner import subject_variation
from fer_audit.fairness.predictions import GROUP_JOIN, checked_table, is_synthetic
from fer_audit.fairness.resample import (
    bootstrap_confusions,
    permutation_confusions,
    subject_permutation_confusions,
)
from fer_audit.fairness.result import POOLED, AuditResult
from fer_audit.labels import get_scheme

#: below this many subjects in a group, bootstrap intervals are too narrow to trust
FEW_SUBJECTS = 5
RUN_COLUMNS = ("arch", "train_set", "seed")


def audit(
    predictions: pd.DataFrame,
    *,
    group: str | Sequence[str] = "gender",
    groups: Sequence[str] | None = None,
    scheme: str = "paper4",
    n_boot: int = 2000,
    n_perm: int | None = None,
    seed: int = 0,
    correction: str = "holm",
    family: str = "run",
    source: dict | None = None,
) -> AuditResult:
    """Audit a predictions table (DESIGN.md section 6).

    `group` is a column, or a list of columns for intersectional groups (labels joined
    with " & "). `groups` picks and orders the groups compared (the first minus the
    second for two; max minus min for more); by default every group, alphabetically.
    Intervals: percentile, from `n_boot` resamples of subjects within each group.
    p-values: permutation test shuffling group labels across subjects (`n_perm`,
    default `n_boot`), then `correction` (holm, bh or none) across the `family` of
    tests: each run's gaps ("run") or every gap of the audit ("audit").
    For intersectional groups the bootstrap resamples a subject's videos within one
    group (a "cell": a subject's genuine and fake videos are two cells), and the
    permutation shuffles the subject-level labels (gender) across subjects, each
    subject's cells moving together.
    Bootstrap draws in which a group loses every positive of a class the test set has
    are left out of the gap intervals (their share is `boot_dropped`). Each gap gets
    its minimum detectable gap (`mdg`, `fairness.detectable`). Flagged per run: a group
    with fewer than FEW_SUBJECTS subjects, classes without positives in a group, and a
    degenerate model (at or below chance, or one class for nearly every video).
    """
    _check_family(family)
    scheme_obj = get_scheme(scheme)
    classes = list(scheme_obj.classes)
    frame, group_names, gender_labels = checked_table(
        predictions, group=group, groups=groups, classes=classes
    )
    n_perm = n_boot if n_perm is None else n_perm
    group_columns = [group] if isinstance(group, str) else list(group)
    parts = {name: [] for name in ("confusion", "group_metrics", "gaps", "variation")}
    runs = []
    for run_id, run in frame.groupby("run_id", sort=True):
        cells, cell_group, cell_rows = cell_confusions(run, group_names, classes)
        observed = np.stack([cells[cell_group == g].sum(axis=0) for g in range(len(group_names))])
        boot = bootstrap_confusions(cells, cell_group, len(group_names), n_boot=n_boot, seed=seed)
        perm = _permutations(
            cells, cell_group, cell_rows, group_columns, group_names, n_perm=n_perm, seed=seed
        )
        parts["confusion"].append(_confusion_rows(run_id, observed, group_names, classes))
        parts["group_metrics"].append(
            _metric_rows_bootstrap(run_id, observed, boot, group_names, classes)
        )
        cells_per_group = np.bincount(cell_group, minlength=len(group_names))
        gap_rows = _gap_rows_resampled(
            run_id, observed, boot, perm, group_names, classes, correction, cells_per_group, seed
        )
        gap_rows["subjects"] = " | ".join(
            f"{g} {n}" for g, n in zip(group_names, cells_per_group, strict=True)
        )
        gap_rows["few_subjects"] = bool(cells_per_group.min() < FEW_SUBJECTS)
        _flag_run(gap_rows, metrics.ovr_from_confusion(observed), group_names, classes)
        parts["gaps"].append(gap_rows)
        parts["variation"].append(
            _variation_rows(run_id, cells, cell_group, group_names, classes, gap_rows["subjects"])
        )
        runs.append(_run_info(run_id, run, cell_group, group_names))
    settings = _settings(
        "predictions", group, group_names, scheme, n_boot, n_perm, seed, correction, source
    )
    settings["family"] = family
    settings["classes"] = classes
    settings["gender_labels"] = gender_labels
    settings["subjects_per_group"] = _subjects_per_group(frame, group_names)
    if is_synthetic(frame):
        settings["synthetic"] = True  # the table says so, whatever the caller passed
    return _assemble(parts, runs, settings)


def cell_confusions(
    run: pd.DataFrame, group_names: list[str], classes: list[str]
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Confusion matrix of every (subject, group) cell: (n_cells, C, C), its group, and
    one row of the run per cell (its subject and group columns)."""
    class_index = {c: i for i, c in enumerate(classes)}
    group_index = {g: i for i, g in enumerate(group_names)}
    keys = run["subject"].astype(str) + "\x00" + run["_group"]
    cell_codes, cell_keys = pd.factorize(keys, sort=True)
    cells = np.zeros((len(cell_keys), len(classes), len(classes)))
    true = run["y_true"].astype(str).map(class_index).to_numpy()
    pred = run["y_pred"].astype(str).map(class_index).to_numpy()
    np.add.at(cells, (cell_codes, true, pred), 1)
    cell_group = np.array([group_index[k.split("\x00", 1)[1]] for k in cell_keys])
    first_rows = pd.Series(np.arange(len(run))).groupby(cell_codes).first().to_numpy()
    return cells, cell_group, run.iloc[first_rows].reset_index(drop=True)


def _permutations(cells, cell_group, cell_rows, group_columns, group_names, *, n_perm, seed):
    """The permutation null: group labels shuffled across subjects. When a subject has
    several cells (intersectional groups such as gender x authenticity), the labels
    that belong to the subject (constant within it, like gender) are shuffled across
    subjects and each subject's cells move together, keeping their own video-level
    labels; a cell that lands in a group not compared is left out of that draw."""
    subjects = cell_rows["subject"].astype(str)
    if subjects.is_unique:
        return permutation_confusions(cells, cell_group, len(group_names), n_perm=n_perm, seed=seed)
    per_subject = cell_rows.groupby(subjects)[group_columns].nunique()
    own = [c for c in group_columns if (per_subject[c] == 1).all()]
    if not own or cell_rows[own].drop_duplicates().shape[0] < 2:
        # no subject-level label, or the compared groups share it (female & genuine vs
        # female & fake): the groups differ within subjects, so cells are shuffled
        return permutation_confusions(cells, cell_group, len(group_names), n_perm=n_perm, seed=seed)
    # here every subject has several cells, so some group column varies within subjects
    rest = [c for c in group_columns if c not in own]
    cell_subject, _ = pd.factorize(subjects, sort=True)
    own_of_subject = cell_rows.groupby(cell_subject)[own].first().astype(str)
    subject_label, own_values = _factorize_rows(own_of_subject)
    cell_rest, rest_values = _factorize_rows(cell_rows[rest].astype(str))
    group_index = {g: i for i, g in enumerate(group_names)}
    group_of = np.full((len(own_values), len(rest_values)), -1)
    for li, own_value in enumerate(own_values):
        for ri, rest_value in enumerate(rest_values):
            labels = dict(zip(own, own_value, strict=True)) | dict(
                zip(rest, rest_value, strict=True)
            )
            name = GROUP_JOIN.join(labels[c] for c in group_columns)
            group_of[li, ri] = group_index.get(name, -1)
    return subject_permutation_confusions(
        cells, cell_subject, subject_label, cell_rest, group_of, n_perm=n_perm, seed=seed
    )


def _confusion_rows(run_id, observed, group_names, classes) -> pd.DataFrame:
    stacked = np.concatenate([observed, observed.sum(axis=0, keepdims=True)])
    names = [*group_names, POOLED]
    g, t, p = np.meshgrid(
        range(len(names)), range(len(classes)), range(len(classes)), indexing="ij"
    )
    return pd.DataFrame(
        {
            "run_id": run_id,
            "group": np.array(names)[g.ravel()],
            "true": np.array(classes)[t.ravel()],
            "pred": np.array(classes)[p.ravel()],
            "count": stacked.ravel().astype(int),
        }
    )


def _with_pooled(confusions: np.ndarray) -> np.ndarray:
    """Append the pooled group (sum over the group axis -3)."""
    return np.concatenate([confusions, confusions.sum(axis=-3, keepdims=True)], axis=-3)


def _metric_rows_bootstrap(run_id, observed, boot, group_names, classes) -> pd.DataFrame:
    counts = metrics.ovr_from_confusion(_with_pooled(observed))
    boot_counts = metrics.ovr_from_confusion(_with_pooled(boot))
    values, boot_values = _all_rates(counts), _all_rates(boot_counts)
    rows = []
    names = [*group_names, POOLED]
    for (metric, cls), value in values.items():
        low, high = intervals.percentile_interval(boot_values[(metric, cls)])
        n = _denominator(counts, metric, cls, classes)
        label = _class_label(cls, classes)
        for gi, name in enumerate(names):
            rows.append((run_id, name, label, metric, value[gi], n[gi], low[gi], high[gi]))
    return _metric_frame(rows, "subject bootstrap (percentile)")


def _factorize_rows(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple]]:
    """Each row's code and the distinct rows (as tuples), in first-seen order."""
    codes, uniques = pd.factorize(pd.Series(list(frame.itertuples(index=False, name=None))))
    return codes, list(uniques)


def _gap_matrix(confusions: np.ndarray) -> np.ndarray:
    return _gap_matrix_counts(metrics.ovr_from_confusion(confusions))


def draws_losing_a_class(observed: np.ndarray, boot: np.ndarray) -> np.ndarray:
    """Which bootstrap draws (n_boot, G, C, C) leave a group without any positive of a
    class that every group has in the test set `observed` (G, C, C): such a draw
    measures a different class set, so its gaps are left out of the intervals."""
    present = (observed.sum(axis=-1) > 0).all(axis=0)
    return ((boot.sum(axis=-1) == 0) & present).any(axis=(-2, -1))


def _gap_rows_resampled(
    run_id, observed, boot, perm, group_names, classes, correction, units, seed
) -> pd.DataFrame:
    value = _gap_matrix(observed)
    boot_gaps = _gap_matrix(boot)
    lost = draws_losing_a_class(observed, boot)
    boot_gaps[lost] = np.nan
    low, high = intervals.percentile_interval(boot_gaps)
    null_differences = differences_from_counts(metrics.ovr_from_confusion(perm))
    p = intervals.resampling_p_value(value, gaps_from_differences(null_differences))
    n_videos = observed.sum(axis=(-2, -1)).astype(int)
    frame = _gap_frame(
        run_id,
        classes,
        group_names,
        n_videos,
        value,
        low,
        high,
        p,
        correction,
        interval_method="subject bootstrap (percentile)",
        p_method="subject permutation",
    )
    frame["boot_dropped"] = float(lost.mean())
    frame["mdg"] = detectable_gaps(
        null_differences,
        classes,
        observed=metrics.ovr_from_confusion(observed),
        units=[int(n) for n in units],
        seed=seed,
    )
    return frame


def _variation_rows(run_id, cells, cell_group, group_names, classes, subjects) -> pd.DataFrame:
    """Per rate and class, what the planner needs: rate, mean denominator per subject
    (positives for TPR, negatives for FPR, videos otherwise), between-subject SD."""
    rows = []
    for metric, (rate, videos, spread) in subject_variation(
        cells, cell_group, len(group_names)
    ).items():
        labels = ["overall"] if metric == "overall" else classes
        values = zip(
            labels, np.atleast_1d(rate), np.atleast_1d(videos), np.atleast_1d(spread), strict=True
        )
        for cls, r, v, sd in values:
            name = "accuracy" if metric == "overall" else metric
            rows.append((run_id, name, cls, r, v, sd))
    frame = pd.DataFrame(rows, columns=list(_VARIATION_COLUMNS))
    frame["subjects"] = subjects.iloc[0] if len(subjects) else ""
    return frame


def _run_info(run_id, run: pd.DataFrame, cell_group, group_names) -> dict:
    info = {"run_id": run_id}
    for column in RUN_COLUMNS:
        values = run[column].dropna().unique() if column in run.columns else []
        info[column] = values[0] if len(values) else None
    info["arch"] = info["arch"] if info["arch"] is not None else str(run_id)
    info["train_set"] = info["train_set"] if info["train_set"] is not None else "all"
    info["n_videos"] = int(len(run))
    return info


def _subjects_per_group(frame: pd.DataFrame, group_names: list[str]) -> dict[str, int]:
    counts = frame.groupby("_group")["subject"].nunique()
    return {g: int(counts.get(g, 0)) for g in group_names}
