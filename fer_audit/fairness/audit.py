"""The audit: per-group metrics and fairness gaps with intervals, from a predictions
table (subject bootstrap, permutation test) or from one-vs-rest counts only (Wilson,
Newcombe, Fisher exact, parametric bootstrap).

`audit()` and `audit_counts()` return the same `AuditResult` of tidy tables, so the
dashboard, the report and the command line read one shape whatever the source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fer_audit import atomic
from fer_audit.data.subjects import normalize_gender
from fer_audit.errors import DamagedFile
from fer_audit.fairness import intervals, metrics
from fer_audit.fairness.gaps import (
    CAVEAT,
    DEFINITIONS,
    PAPER_DEFINITIONS,
    differences,
    gap_keys,
    gaps_from_differences,
)
from fer_audit.fairness.power import POWER, detectable_gaps, subject_variation
from fer_audit.fairness.resample import (
    binomial_counts,
    bootstrap_confusions,
    permutation_confusions,
    subject_permutation_confusions,
)
from fer_audit.labels import get_scheme
from fer_audit.safe_csv import read_saved_csv, to_people_csv
from fer_audit.version import code_version

POOLED = "all"
SMALL_N = 10
#: below this many subjects in a group, bootstrap intervals are too narrow to trust
FEW_SUBJECTS = 5
GROUP_JOIN = " & "
REQUIRED_COLUMNS = ("run_id", "subject", "y_true", "y_pred")
RUN_COLUMNS = ("arch", "train_set", "seed")
TABLES = ("confusion", "group_metrics", "gaps", "rankings", "summary", "variation")
#: tables older audits lack (read as empty)
_OPTIONAL_TABLES = frozenset({"variation"})
#: families of tests a correction runs over: each run's gaps, or every gap of the audit
FAMILIES = ("run", "audit")
#: a model that predicts one class for at least this share of videos is degenerate
ONE_CLASS_SHARE = 0.9


#: columns that hold labels, read back as text (run ids like "001" stay "001")
_TEXT_COLUMNS = {
    c: str
    for c in (
        "run_id",
        "arch",
        "train_set",
        "group",
        "class",
        "true",
        "pred",
        "definition",
        "comparison",
        "subjects",
        "metric",
        "no_positives",
        "degenerate",
    )
}


class AuditError(ValueError):
    """Input the audit cannot use; the message says what is wrong."""


class UnreadableTable(AuditError):
    """A predictions file that is not a readable Parquet or CSV table at all."""


@dataclass
class AuditResult:
    confusion: pd.DataFrame
    group_metrics: pd.DataFrame
    gaps: pd.DataFrame
    rankings: pd.DataFrame
    summary: pd.DataFrame
    variation: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings: dict = field(default_factory=dict)

    def save(self, folder: str | Path) -> Path:
        """Write each table as CSV and the settings as audit.json (atomically). The
        CSVs are for people too: text cells are neutralised for spreadsheets
        (`fer_audit.safe_csv`), and `load` takes that off again."""
        folder = Path(folder)
        for name in TABLES:
            atomic.write_text(folder / f"{name}.csv", self.table_csv(name))
        atomic.write_json(folder / "tables.json", self.to_json_tables())
        atomic.write_json(folder / "audit.json", self.settings)
        return folder

    def table_csv(self, name: str) -> str:
        """One table as CSV text, safe in a spreadsheet (`safe_csv.to_people_csv`); a
        synthetic audit's rows each say `synthetic=True`."""
        table = getattr(self, name)
        if self.synthetic:
            table = table.assign(synthetic=True)
        return to_people_csv(table, index=False)

    def to_json_tables(self) -> dict:
        """Every table as a list of records (the JSON export), with the settings."""
        tables = {
            name: json.loads(getattr(self, name).to_json(orient="records")) for name in TABLES
        }
        return {"settings": self.settings, **tables}

    @classmethod
    def load(cls, folder: str | Path) -> AuditResult:
        """The audit saved in `folder`; AuditError when there is none, DamagedFile naming
        the file (audit.json, tables.json or a table's CSV) that cannot be read, or a
        table whose rows do not match the count tables.json recorded (truncated)."""
        folder = Path(folder)
        if not (folder / "audit.json").exists():
            raise AuditError(f"{folder} holds no audit (audit.json missing)")
        hint = (
            f"run the audit again into this folder (fer-audit audit PREDICTIONS --out "
            f"{folder}), or delete the folder"
        )
        settings = atomic.read_json(folder / "audit.json", hint=hint)
        counts = _row_counts(folder / "tables.json", hint)
        tables = {}
        for name in TABLES:
            path = folder / f"{name}.csv"
            if path.exists():
                tables[name] = _read_table(path, hint)
            else:
                tables[name] = pd.DataFrame() if name in _OPTIONAL_TABLES else None
            table, expected = tables[name], (counts or {}).get(name)
            if table is not None and expected is not None and len(table) != expected:
                raise DamagedFile(path, hint, f"{len(table)} rows where tables.json has {expected}")
        return cls(**tables, settings=settings)

    @property
    def synthetic(self) -> bool:
        return bool(self.settings.get("synthetic"))


#: flag columns whose empty text means "not flagged"
_FLAG_COLUMNS = ("no_positives", "degenerate")


def _read_table(path: Path, hint: str) -> pd.DataFrame:
    """One saved table; DamagedFile when it is cut short or not CSV."""
    table = read_saved_csv(path, hint=hint, dtype=_TEXT_COLUMNS)
    for column in _FLAG_COLUMNS:
        if column in table.columns:
            table[column] = ["" if pd.isna(v) else v for v in table[column]]
    return table


def _row_counts(path: Path, hint: str) -> dict[str, int] | None:
    """Rows per table as tables.json recorded them (None for an audit without it)."""
    if not path.exists():
        return None
    tables = atomic.read_json(path, hint=hint)
    return {name: len(rows) for name, rows in tables.items() if isinstance(rows, list)}


# ---------------------------------------------------------------- predictions


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
    its minimum detectable gap (`mdg`, `fairness.power`). Flagged per run: a group
    with fewer than FEW_SUBJECTS subjects, classes without positives in a group, and a
    degenerate model (at or below chance, or one class for nearly every video).
    """
    _check_family(family)
    scheme_obj = get_scheme(scheme)
    classes = list(scheme_obj.classes)
    predictions, gender_labels = _normalised_genders(predictions, group)
    if groups and gender_labels and isinstance(group, str):  # named as in the table
        groups = [gender_labels.get(g, normalize_gender(g) or g) for g in groups]
    frame, group_names = _validated(predictions, group, groups, classes)
    n_perm = n_boot if n_perm is None else n_perm
    group_columns = [group] if isinstance(group, str) else list(group)
    parts = {name: [] for name in ("confusion", "group_metrics", "gaps", "variation")}
    runs = []
    for run_id, run in frame.groupby("run_id", sort=True):
        cells, cell_group, cell_rows = _cell_confusions(run, group_names, classes)
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


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def synthetic_flags(column: pd.Series) -> pd.Series:
    """The `synthetic` column as booleans: true/false, 1/0 or yes/no (any case; real
    booleans and the numbers 0 and 1 too). Anything else, an empty cell included, is
    an AuditError naming the first such row: a wrong flag would mislabel the audit."""
    text = column.map(lambda v: str(v).strip().lower() if not pd.isna(v) else "")
    text = text.replace({"1.0": "1", "0.0": "0"})
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        row = bad.idxmax()
        raise AuditError(
            f"column synthetic holds {column[row]!r} (row {row}); use true/false, 1/0 or yes/no"
        )
    return text.isin(_TRUE)


def is_synthetic(frame: pd.DataFrame) -> bool:
    """Whether any row of the table is marked synthetic (strictly parsed)."""
    return "synthetic" in frame.columns and bool(synthetic_flags(frame["synthetic"]).any())


def _normalised_genders(
    predictions: pd.DataFrame, group: str | Sequence[str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The table with its `gender` column (when it is a group column) normalised as at
    registration (F, Woman -> female; M, Man -> male; other labels lower-cased), and
    the mapping {label as given: label used}. AuditError when one group is spelled two
    ways in the table: it would split a group silently."""
    columns = [group] if isinstance(group, str) else list(group)
    if "gender" not in columns or "gender" not in predictions.columns:
        return predictions, {}
    given = predictions["gender"].dropna().astype(str)
    mapping = {label: normalize_gender(label) or label for label in sorted(set(given))}
    spellings: dict[str, list[str]] = {}
    for label, used in mapping.items():
        spellings.setdefault(used, []).append(label)
    mixed = {used: labels for used, labels in spellings.items() if len(labels) > 1}
    if mixed:
        named = "; ".join(f"{' and '.join(map(repr, ls))} (both {u})" for u, ls in mixed.items())
        raise AuditError(
            f"the gender column spells one group two ways: {named}; use one spelling per "
            "group, so that no subject is counted in a group of its own"
        )
    frame = predictions.copy()
    frame["gender"] = predictions["gender"].map(lambda v: mapping.get(str(v), v))
    return frame, mapping


def _one_gender_per_subject(frame: pd.DataFrame) -> None:
    """AuditError naming the subjects labelled with two genders: each would be counted
    in both groups."""
    genders = frame.groupby(frame["subject"].astype(str))["gender"]
    counts = genders.nunique()
    doubled = sorted(counts[counts > 1].index)
    if doubled:
        shown = ", ".join(
            f"{s} ({' and '.join(sorted(genders.get_group(s).unique()))})" for s in doubled[:5]
        )
        more = f" and {len(doubled) - 5} more" if len(doubled) > 5 else ""
        raise AuditError(
            f"subject(s) labelled with two genders: {shown}{more}; a subject would be "
            "counted in both groups. Correct the gender column first"
        )


def _validated(
    predictions: pd.DataFrame,
    group: str | Sequence[str],
    groups: Sequence[str] | None,
    classes: list[str],
) -> tuple[pd.DataFrame, list[str]]:
    if predictions is None or len(predictions) == 0:
        raise AuditError("the predictions table is empty")
    group_columns = [group] if isinstance(group, str) else list(group)
    missing = [c for c in (*REQUIRED_COLUMNS, *group_columns) if c not in predictions.columns]
    if missing:
        raise AuditError(
            f"the predictions table lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(REQUIRED_COLUMNS)} and the group column(s) {', '.join(group_columns)}"
        )
    empty = {
        c: int(predictions[c].isna().sum())
        for c in ("run_id", "subject", "y_true", "y_pred", *group_columns)
    }
    empty = {c: n for c, n in empty.items() if n}
    if empty:
        raise AuditError(
            "missing values in "
            + ", ".join(f"{c} ({n} rows)" for c, n in empty.items())
            + "; fill or drop them"
        )
    if "gender" in group_columns:
        _one_gender_per_subject(predictions)
    frame = predictions.copy()
    for column in ("run_id", "subject", "y_true", "y_pred"):
        frame[column] = frame[column].astype(str)
    frame["_group"] = frame[group_columns].astype(str).agg(GROUP_JOIN.join, axis=1)
    for column in ("y_true", "y_pred"):
        unknown = sorted(set(frame[column].astype(str)) - set(classes))
        if unknown:
            raise AuditError(
                f"{column} holds classes outside the scheme ({', '.join(classes)}): "
                f"{', '.join(unknown)}; map them to the scheme or drop those rows first"
            )
    present = sorted(frame["_group"].unique())
    chosen = list(groups) if groups else present
    absent = [g for g in chosen if g not in present]
    if absent:
        raise AuditError(
            f"no videos of group(s) {', '.join(absent)}; present: {', '.join(present)}"
        )
    if len(chosen) < 2:
        raise AuditError(
            f"a fairness audit compares at least two groups; found only {', '.join(chosen)}"
        )
    frame = frame[frame["_group"].isin(chosen)]
    per_run = frame.groupby("run_id")["_group"].unique()
    lacking = {
        run: sorted(set(chosen) - set(g)) for run, g in per_run.items() if set(chosen) - set(g)
    }
    if lacking:
        raise AuditError(
            "run(s) without videos of every compared group: "
            + "; ".join(f"{run} lacks {', '.join(g)}" for run, g in list(lacking.items())[:5])
        )
    return frame, chosen


def _cell_confusions(
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


def _all_rates(counts: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """{(metric, class): values over groups}, classes by index, plus overall accuracy."""
    rates = metrics.rates(counts=counts)
    out = {}
    for metric, values in rates.items():
        for ci in range(values.shape[-1]):
            out[(metric, ci)] = values[..., ci]
    out[("accuracy", "overall")] = metrics.overall_accuracy(counts=counts)
    return out


def _denominator(counts, metric, cls, classes) -> np.ndarray:
    if cls == "overall":
        return counts[..., 0, :].sum(axis=-1)
    return metrics.denominators(counts=counts)[metric][..., cls]


def _class_label(cls: int | str, classes: list[str]) -> str:
    return classes[cls] if isinstance(cls, int) else cls


def _metric_frame(rows, method: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["run_id", "group", "class", "metric", "value", "n", "ci_low", "ci_high"]
    )
    frame["n"] = frame["n"].astype(int)
    frame["small_n"] = frame["n"] < SMALL_N
    frame["interval_method"] = method
    return frame


def _factorize_rows(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple]]:
    """Each row's code and the distinct rows (as tuples), in first-seen order."""
    codes, uniques = pd.factorize(pd.Series(list(frame.itertuples(index=False, name=None))))
    return codes, list(uniques)


def _gap_matrix(confusions: np.ndarray) -> np.ndarray:
    return _gap_matrix_counts(metrics.ovr_from_confusion(confusions))


def _differences_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    return differences(
        rates=metrics.rates(counts=counts), overall=metrics.overall_accuracy(counts=counts)
    )


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
    null_differences = _differences_counts(metrics.ovr_from_confusion(perm))
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


def _gap_frame(
    run_id,
    classes,
    group_names,
    n_videos,
    value,
    low,
    high,
    p,
    correction,
    *,
    interval_method,
    p_method,
) -> pd.DataFrame:
    keys = gap_keys(classes)
    frame = pd.DataFrame(keys, columns=["definition", "class"])
    frame.insert(0, "run_id", run_id)
    frame["value"], frame["ci_low"], frame["ci_high"] = value, low, high
    frame["p_value"] = p
    frame["p_adjusted"] = intervals.adjust(frame["p_value"].to_numpy(), method=correction)
    frame["comparison"] = _comparison(group_names)
    frame["n"] = " | ".join(f"{g} {n}" for g, n in zip(group_names, n_videos, strict=True))
    frame["interval_method"] = interval_method
    frame["p_method"] = p_method
    return frame


def _flag_run(gap_rows: pd.DataFrame, counts: np.ndarray, group_names, classes) -> None:
    """Add the run's `no_positives` and `degenerate` flags (text, empty when clear) to
    every gap row; `counts` are the observed one-vs-rest counts (G, C, 4)."""
    gap_rows["no_positives"] = no_positives(counts, group_names, classes)
    pooled = counts.sum(axis=0)
    gap_rows["degenerate"] = degenerate_warning(
        correct=int(pooled[:, metrics.TP].sum()),
        predicted=pooled[:, metrics.TP] + pooled[:, metrics.FP],
        classes=classes,
    )


def no_positives(counts: np.ndarray, group_names: Sequence[str], classes: Sequence[str]) -> str:
    """The classes some group has no videos of, e.g. "sad (male)": their TPR gap is
    undefined and the means over classes leave them out. Empty when there are none."""
    positives = counts[..., metrics.TP] + counts[..., metrics.FN]
    missing = []
    for ci, cls in enumerate(classes):
        lacking = [g for gi, g in enumerate(group_names) if positives[gi, ci] == 0]
        if lacking:
            missing.append(f"{cls} ({', '.join(lacking)})")
    return "; ".join(missing)


def degenerate_warning(*, correct: int, predicted: np.ndarray, classes: Sequence[str]) -> str:
    """A warning when the model's gaps say little about bias: it predicts one class for
    at least ONE_CLASS_SHARE of the videos, or its accuracy is at or below chance
    (1 / number of classes). Empty otherwise."""
    n = int(np.sum(predicted))
    if n == 0:
        return ""
    top = int(np.argmax(predicted))
    share, accuracy, chance = predicted[top] / n, correct / n, 1 / len(classes)
    if share >= ONE_CLASS_SHARE:
        return (
            f"this model reads {share:.0%} of {n} videos as {classes[top]}; "
            "its gaps say little about bias"
        )
    if accuracy <= chance + 1e-9:
        return (
            f"this model's accuracy ({correct} of {n} videos, {accuracy:.2f}) is at or below "
            f"chance ({chance:.2f}); its gaps say little about bias"
        )
    return ""


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


def _comparison(group_names: list[str]) -> str:
    if len(group_names) == 2:
        return f"{group_names[0]} - {group_names[1]}"
    return f"max - min over {len(group_names)} groups"


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


# ---------------------------------------------------------------- counts only


def audit_counts(
    counts: pd.DataFrame,
    *,
    groups: Sequence[str] | None = None,
    classes: Sequence[str],
    n_boot: int = 2000,
    seed: int = 0,
    correction: str = "holm",
    family: str = "run",
    source: dict | None = None,
) -> AuditResult:
    """Audit one-vs-rest counts when no predictions exist (e.g. published tables).

    `counts` has run_id, arch, train_set, seed, group, class, tp, fp, fn, tn; rows of
    group `all` (if any) are the pooled set and are reported, not compared. Rates get
    Wilson intervals. For two groups, per-class differences of TPR, selection rate and
    accuracy get Newcombe intervals and Fisher exact p-values; the other gaps (paper
    definitions, equalized odds, aggregates, and everything for more groups) get a
    parametric binomial bootstrap (classes treated as independent) and a p-value from
    the same bootstrap under pooled rates; minimum detectable gaps use those null
    draws (videos treated as independent: optimistic when subjects differ).
    """
    _check_family(family)
    classes = list(classes)
    present = sorted(set(counts["group"]) - {POOLED})
    group_names = list(groups) if groups else present
    if len(group_names) < 2:
        raise AuditError("a fairness audit compares at least two groups")
    parts = {"confusion": [], "group_metrics": [], "gaps": []}
    runs = []
    for run_id, run in counts.groupby("run_id", sort=True):
        observed = _counts_array(run, group_names, classes)
        pooled = _counts_array(run, [POOLED], classes) if POOLED in set(run["group"]) else None
        parts["group_metrics"].append(
            _metric_rows_wilson(run_id, observed, pooled, group_names, classes)
        )
        gap_rows = _gap_rows_counts(
            run_id, observed, group_names, classes, n_boot, seed, correction
        )
        _flag_run(gap_rows, observed, group_names, classes)
        parts["gaps"].append(gap_rows)
        first = run.iloc[0]
        runs.append(
            {
                "run_id": run_id,
                "arch": first["arch"],
                "train_set": first["train_set"],
                "seed": first.get("seed"),
                "n_videos": int(observed[:, 0].sum()),
            }
        )
    settings = _settings(
        "counts", "gender", group_names, "paper4", n_boot, n_boot, seed, correction, source
    )
    settings["family"] = family
    settings["classes"] = classes
    return _assemble(parts, runs, settings)


def _counts_array(run: pd.DataFrame, group_names: list[str], classes: list[str]) -> np.ndarray:
    table = run.set_index(["group", "class"])[["tp", "fp", "fn", "tn"]]
    index = pd.MultiIndex.from_product([group_names, classes])
    missing = index.difference(table.index)
    if len(missing):
        raise AuditError(f"counts missing for {', '.join(map(str, missing[:5]))}")
    return table.loc[index].to_numpy(float).reshape(len(group_names), len(classes), 4)


def _metric_rows_wilson(run_id, observed, pooled, group_names, classes) -> pd.DataFrame:
    stacked = observed if pooled is None else np.concatenate([observed, pooled])
    names = group_names if pooled is None else [*group_names, POOLED]
    values = _all_rates(stacked)
    successes = metrics.numerators(counts=stacked)
    rows = []
    for (metric, cls), value in values.items():
        n = _denominator(stacked, metric, cls, classes)
        k = stacked[..., 0].sum(axis=-1) if cls == "overall" else successes[metric][..., cls]
        low, high = intervals.wilson(k, n)
        label = _class_label(cls, classes)
        for gi, name in enumerate(names):
            rows.append((run_id, name, label, metric, value[gi], n[gi], low[gi], high[gi]))
    return _metric_frame(rows, "Wilson score")


#: gaps with a closed-form two-sample interval: (definition, metric) for per-class rows
_NEWCOMBE = {
    "equal_opportunity": "tpr",
    "demographic_parity": "selection_rate",
    "accuracy": "accuracy",
}


def _gap_rows_counts(run_id, observed, group_names, classes, n_boot, seed, correction):
    positives, negatives = observed[..., 0] + observed[..., 2], observed[..., 1] + observed[..., 3]
    rates = metrics.rates(counts=observed)
    value = _gap_matrix_counts(observed)
    boot = binomial_counts(
        positives, negatives, rates["tpr"], rates["fpr"], n_boot=n_boot, seed=seed, salt=str(run_id)
    )
    low, high = intervals.percentile_interval(_gap_matrix_counts(boot))
    pooled_tpr = observed[..., 0].sum(0) / np.maximum(positives.sum(0), 1)
    pooled_fpr = observed[..., 1].sum(0) / np.maximum(negatives.sum(0), 1)
    null = binomial_counts(
        positives,
        negatives,
        np.broadcast_to(pooled_tpr, positives.shape),
        np.broadcast_to(pooled_fpr, negatives.shape),
        n_boot=n_boot,
        seed=seed,
        salt=f"{run_id}/null",
    )
    null_differences = _differences_counts(null)
    p = intervals.resampling_p_value(value, gaps_from_differences(null_differences))
    frame = _gap_frame(
        run_id,
        classes,
        group_names,
        observed[:, 0].sum(-1).astype(int),
        value,
        low,
        high,
        p,
        "none",
        interval_method="parametric binomial bootstrap",
        p_method="parametric bootstrap under pooled rates",
    )
    if len(group_names) == 2:
        _apply_two_sample_tests(frame, observed, classes)
    frame["p_adjusted"] = intervals.adjust(frame["p_value"].to_numpy(), method=correction)
    frame["boot_dropped"] = 0.0
    frame["mdg"] = detectable_gaps(null_differences, classes, observed=observed, seed=seed)
    return frame


def _gap_matrix_counts(counts: np.ndarray) -> np.ndarray:
    """Every gap of `gap_keys` from one-vs-rest counts (..., G, C, 4)."""
    return gaps_from_differences(_differences_counts(counts))


def _apply_two_sample_tests(frame: pd.DataFrame, observed: np.ndarray, classes) -> None:
    """Newcombe intervals and Fisher exact p-values for per-class rate differences."""
    successes = metrics.numerators(counts=observed)
    totals = metrics.denominators(counts=observed)
    for definition, metric in _NEWCOMBE.items():
        for ci, cls in enumerate(classes):
            k, n = successes[metric][:, ci], totals[metric][:, ci]
            _set_two_sample(frame, definition, cls, k, n)
    correct, n_all = observed[..., 0].sum(-1), observed[:, 0].sum(-1)
    _set_two_sample(frame, "accuracy", "overall", correct, n_all)


def _set_two_sample(frame, definition, cls, k, n) -> None:
    row = (frame["definition"] == definition) & (frame["class"] == cls)
    low, high = intervals.newcombe(k[0], n[0], k[1], n[1])
    frame.loc[row, ["ci_low", "ci_high"]] = [float(low), float(high)]
    frame.loc[row, "p_value"] = intervals.fisher_exact_p(k[0], n[0], k[1], n[1])
    frame.loc[row, "interval_method"] = "Newcombe hybrid score"
    frame.loc[row, "p_method"] = "Fisher exact"


# ---------------------------------------------------------------- shared


def _settings(kind, group, group_names, scheme, n_boot, n_perm, seed, correction, source):
    return {
        "source_kind": kind,
        "source": source or {},
        "synthetic": bool((source or {}).get("synthetic")),
        "group": group if isinstance(group, str) else list(group),
        "groups": group_names,
        "comparison": _comparison(group_names),
        "scheme": scheme,
        "n_boot": n_boot,
        "n_perm": n_perm,
        "seed": seed,
        "correction": correction,
        "power": {"power": POWER, "alpha": 0.05, "before_correction": True},
        "confidence": intervals.CONFIDENCE,
        "small_n_below": SMALL_N,
        "definitions": list(DEFINITIONS),
        "caveat": CAVEAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise AuditError(f"unknown family of tests {family!r}; choose {' or '.join(FAMILIES)}")


def _assemble(parts: dict, runs: list[dict], settings: dict) -> AuditResult:
    run_table = pd.DataFrame(runs)
    confusion = _concat(parts["confusion"], ["run_id", "group", "true", "pred", "count"])
    group_metrics = _concat(parts["group_metrics"], None)
    gaps = _concat(parts["gaps"], None).merge(run_table, on="run_id", how="left")
    if settings["family"] == "audit":
        gaps["p_adjusted"] = intervals.adjust(
            gaps["p_value"].to_numpy(), method=settings["correction"]
        )
    tested = np.isfinite(gaps["p_value"].astype(float))
    if settings["family"] == "audit":
        gaps["n_tests"] = int(tested.sum())
    else:
        gaps["n_tests"] = gaps["run_id"].map(tested.groupby(gaps["run_id"]).sum()).astype(int)
    summary = summarize(gaps)
    gaps = _with_seed_spread(gaps, summary)
    settings["runs"] = run_table.to_dict("records")
    variation = _concat(parts.get("variation", []), list(_VARIATION_COLUMNS))
    return AuditResult(
        confusion=confusion,
        group_metrics=group_metrics,
        gaps=gaps,
        rankings=rank(summary),
        summary=summary,
        variation=variation,
        settings=settings,
    )


_VARIATION_COLUMNS = ("run_id", "metric", "class", "rate", "videos_per_subject", "between_sd")
_SEED_KEYS = ["arch", "train_set", "definition", "class"]


def _with_seed_spread(gaps: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Each gap row with the spread of its model over training seeds: seed_runs, and
    where there are several distinct seeds, seed_min, seed_max, seed_sd and
    seed_same_sign (runs without a seed, or repeating one, are no seed spread)."""
    spread = summary[[*_SEED_KEYS, "n_runs", "min", "max", "std", "same_sign"]].rename(
        columns={
            "n_runs": "seed_runs",
            "min": "seed_min",
            "max": "seed_max",
            "std": "seed_sd",
            "same_sign": "seed_same_sign",
        }
    )
    merged = gaps.merge(spread, on=_SEED_KEYS, how="left")
    seeds = gaps.groupby(_SEED_KEYS, dropna=False)["seed"].transform("nunique")
    merged["seed_runs"] = merged["seed_runs"].where(seeds.to_numpy() >= 2, 1)
    single = merged["seed_runs"].fillna(1) < 2
    merged.loc[single, ["seed_min", "seed_max", "seed_sd"]] = np.nan
    merged["seed_same_sign"] = merged["seed_same_sign"].astype(object).where(~single, np.nan)
    return merged


def _concat(frames: list[pd.DataFrame], columns: list[str] | None) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=columns or [])
    return pd.concat(frames, ignore_index=True)


def summarize(gaps: pd.DataFrame) -> pd.DataFrame:
    """Pool runs of the same (arch, train_set) over seeds: mean, spread, extremes, the
    mean of |gap| (what rankings use: +0.2 and -0.2 are not a fair model), and whether
    no two seeds' gaps have opposite signs (min >= 0 or max <= 0)."""
    keys = ["arch", "train_set", "definition", "class"]
    frame = gaps.assign(abs_value=gaps["value"].abs())
    grouped = frame.groupby(keys, sort=False, dropna=False)
    summary = grouped["value"].agg(n_runs="count", mean="mean", std="std", min="min", max="max")
    summary["mean_abs"] = grouped["abs_value"].mean()
    summary["same_sign"] = (summary["min"] >= 0) | (summary["max"] <= 0)  # never opposite
    return summary.reset_index()


def rank(summary: pd.DataFrame) -> pd.DataFrame:
    """Architectures from most fair (smallest |gap|) to least, per training set and
    definition (paper definitions, and the standard ones' `worst` and `mean`); equal
    values (to 1e-9) share a rank."""
    chosen = summary[
        summary["definition"].isin(PAPER_DEFINITIONS) | summary["class"].isin(["worst", "mean"])
    ].copy()
    chosen = chosen.dropna(subset=["mean_abs"])
    chosen["value"] = chosen["mean_abs"]
    chosen["rounded"] = chosen["value"].round(9)
    chosen["rank"] = (
        chosen.groupby(["train_set", "definition", "class"])["rounded"]
        .rank(method="min")
        .astype(int)
    )
    columns = ["train_set", "definition", "class", "rank", "arch", "value"]
    ordered = chosen.sort_values(["train_set", "definition", "class", "rank", "arch"])
    return ordered[columns].reset_index(drop=True)
