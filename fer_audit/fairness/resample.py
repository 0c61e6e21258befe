"""Resampling weights for the subject bootstrap and the permutation test.

Both work on per-cell confusion matrices, a cell being one subject within one group
(for plain gender, a cell is a subject; for gender x authenticity, a subject's
genuine and fake videos are two cells). Resampled group confusions are weighted sums
of cell confusions, so a whole bootstrap is one matrix product (no Python loop over
resamples).
"""

from __future__ import annotations

import numpy as np

from fer_audit.seeding import seeded_rng


def bootstrap_weights(
    cell_group: np.ndarray, n_groups: int, *, n_boot: int, seed: int
) -> np.ndarray:
    """How often each cell is drawn in each resample: (n_boot, n_cells) whole numbers.

    Cells are drawn with replacement within each group, as many as the group has: the
    weights of group g's cells in a resample are Multinomial(n_g, 1/n_g each). The draw
    of group g depends only on (seed, g, its number of cells), so runs that share a
    test set get the same weights (paired comparisons across runs).
    """
    weights = np.zeros((n_boot, cell_group.size))
    for g in range(n_groups):
        members = np.flatnonzero(cell_group == g)
        if members.size == 0:
            continue
        rng = seeded_rng(seed, "bootstrap", g, int(members.size))
        weights[:, members] = rng.multinomial(
            members.size, np.full(members.size, 1 / members.size), n_boot
        )
    return weights


def weighted_confusions(
    cells: np.ndarray, cell_group: np.ndarray, n_groups: int, weights: np.ndarray
) -> np.ndarray:
    """Each resample's group confusions, sum_i w_bi * cells_i over the cells i of each
    group: (n_boot, G, C, C) from `weights` (n_boot, n_cells) and `cells` (n_cells, C, C)."""
    n_cells, c, _ = cells.shape
    flat = cells.reshape(n_cells, c * c).astype(float)
    out = np.zeros((weights.shape[0], n_groups, c * c))
    for g in range(n_groups):
        members = np.flatnonzero(cell_group == g)
        out[:, g] = weights[:, members] @ flat[members]
    return out.reshape(weights.shape[0], n_groups, c, c)


def bootstrap_confusions(
    cells: np.ndarray, cell_group: np.ndarray, n_groups: int, *, n_boot: int, seed: int
) -> np.ndarray:
    """Resample cells with replacement within each group: (n_boot, G, C, C).

    `cells` is (n_cells, C, C); `cell_group` gives each cell's group index; the weights
    are `bootstrap_weights`.
    """
    weights = bootstrap_weights(cell_group, n_groups, n_boot=n_boot, seed=seed)
    return weighted_confusions(cells, cell_group, n_groups, weights)


def permutation_confusions(
    cells: np.ndarray, cell_group: np.ndarray, n_groups: int, *, n_perm: int, seed: int
) -> np.ndarray:
    """Shuffle group labels across cells, keeping group sizes: (n_perm, G, C, C)."""
    n_cells, c, _ = cells.shape
    rng = seeded_rng(seed, "permutation", n_groups, n_cells)
    labels = rng.permuted(np.tile(cell_group, (n_perm, 1)), axis=1)
    one_hot = (labels[:, None, :] == np.arange(n_groups)[None, :, None]).astype(float)
    flat = cells.reshape(n_cells, c * c).astype(float)
    return np.einsum("pgn,nk->pgk", one_hot, flat).reshape(n_perm, n_groups, c, c)


def subject_permutation_confusions(
    cells: np.ndarray,
    cell_subject: np.ndarray,
    subject_label: np.ndarray,
    cell_rest: np.ndarray,
    group_of: np.ndarray,
    *,
    n_perm: int,
    seed: int,
) -> np.ndarray:
    """Shuffle subjects' own labels (e.g. gender) across subjects, each subject's cells
    moving together: (n_perm, G, C, C).

    `cell_subject` gives each cell's subject, `subject_label` each subject's own label
    code, `cell_rest` each cell's video-level label code (e.g. authenticity), and
    `group_of[label, rest]` the group index of that combination (-1: not compared, the
    cell is left out of that draw)."""
    n_cells, c, _ = cells.shape
    n_groups = int(group_of.max()) + 1
    rng = seeded_rng(seed, "permutation-subjects", n_groups, n_cells, subject_label.size)
    labels = rng.permuted(np.tile(subject_label, (n_perm, 1)), axis=1)
    groups = group_of[labels[:, cell_subject], cell_rest]
    one_hot = (groups[:, None, :] == np.arange(n_groups)[None, :, None]).astype(float)
    flat = cells.reshape(n_cells, c * c).astype(float)
    return np.einsum("pgn,nk->pgk", one_hot, flat).reshape(n_perm, n_groups, c, c)


def binomial_counts(
    positives: np.ndarray,
    negatives: np.ndarray,
    tpr: np.ndarray,
    fpr: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    salt: str,
) -> np.ndarray:
    """Parametric bootstrap of one-vs-rest counts when only counts exist:
    TP ~ Bin(P, tpr), FP ~ Bin(N, fpr), independently per group and class.
    Returns (n_boot, G, C, 4) counts (TP, FP, FN, TN)."""
    rng = seeded_rng(seed, "binomial", salt)
    shape = (n_boot, *positives.shape)
    tp = rng.binomial(np.broadcast_to(positives, shape).astype(np.int64), np.nan_to_num(tpr))
    fp = rng.binomial(np.broadcast_to(negatives, shape).astype(np.int64), np.nan_to_num(fpr))
    return np.stack([tp, fp, positives - tp, negatives - fp], axis=-1).astype(float)
