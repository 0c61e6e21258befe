"""Plain words beside the code names (#12, item 10): one place for what each gap
definition, class aggregate and column of the gaps table means, so the figures, the
report and the dashboard say the same thing.

The meanings follow `fer_audit.fairness.gaps` exactly; `{comparison}` in them stands
for the groups compared (female − male by default: the first group minus the second;
with more than two groups, the largest minus the smallest, never below zero).
"""

from __future__ import annotations

from fer_audit.fairness.from_predictions import FEW_SUBJECTS
from fer_audit.fairness.gaps import SIGNED
from fer_audit.fairness.metrics import RATES

#: the comparison the meanings name when the caller gives none
DEFAULT_COMPARISON = "female − male"

#: code name -> (plain name, meaning); `{comparison}` is filled in by `meaning`
_DEFINITIONS: dict[str, tuple[str, str]] = {
    "eqop_paper": (
        "Paper's EQOP (mean recall gap)",
        "the paper's equal opportunity: difference in the true positive rate averaged over "
        "the classes (mean_c TPR_c), {comparison}; the paper ranks models by its absolute "
        "value",
    ),
    "eqod_paper": (
        "Paper's EQOD (recall + false alarm gap)",
        "the paper's equalized odds: |difference in mean_c TPR_c| + |difference in mean_c "
        "FPR_c| (false positive rate), {comparison}; ≥ 0, no direction",
    ),
    "dp_paper": (
        "Paper's DP (accuracy parity)",
        "the paper's demographic parity as it applies it, which is accuracy parity: the "
        "mean over classes of |difference in one-vs-rest accuracy|, {comparison}; ≥ 0, no "
        "direction. It is NOT selection-rate (demographic) parity: see demographic_parity",
    ),
    "equal_opportunity": (
        "Recall gap",
        "difference in the share of a class's clips the model recognises (true positive "
        "rate), {comparison}",
    ),
    "equalized_odds": (
        "Recall or false alarm gap (larger)",
        "per class, the larger of |difference in true positive rate| and |difference in "
        "false positive rate (share of other classes' clips called this class)|, "
        "{comparison}; ≥ 0, no direction (it mixes two rates)",
    ),
    "demographic_parity": (
        "Prediction rate gap",
        "difference in the share of all clips the model labels as the class (selection "
        "rate), {comparison}: true demographic parity",
    ),
    "accuracy": (
        "Accuracy gap",
        "difference in one-vs-rest accuracy (share of clips correctly called this class or "
        "not this class), {comparison}; class `overall`: difference in multiclass accuracy",
    ),
}

#: class aggregates: code name -> (plain name, meaning)
_CLASSES: dict[str, tuple[str, str]] = {
    "worst": (
        "Worst class",
        "the largest absolute per-class gap (max_c |gap_c|, classes without a value "
        "skipped); ≥ 0, no direction",
    ),
    "mean": (
        "Mean over classes",
        "the mean of the absolute per-class gaps (mean_c |gap_c|, classes without a value "
        "skipped); ≥ 0, no direction",
    ),
    "overall": (
        "Overall accuracy",
        "multiclass accuracy (share of all clips given their right label), {comparison}",
    ),
    "all": (
        "All classes together",
        "a paper definition, computed once over all the classes",
    ),
}

#: columns of the gaps table and words of the figures: code name -> (plain name, meaning)
_TERMS: dict[str, tuple[str, str]] = {
    "mdg": (
        "Minimum detectable gap",
        "the smallest true gap this test set's own permutation test would find with 80% "
        "power at α = 0.05 before correction; gaps smaller than it could be missed",
    ),
    "p_adjusted": (
        "Adjusted p",
        "the gap's p-value corrected for the number of gaps tested together (each model's "
        "gaps, or every gap of the audit, with the correction the settings name); below "
        "0.05 counts as evidence of a real gap",
    ),
    "ci_low, ci_high": (
        "95% interval",
        "the range of gaps the data are consistent with (for predictions, percentiles of "
        "resampled subjects); an interval of an absolute gap (≥ 0) cannot contain zero, so "
        "read its adjusted p instead",
    ),
    "few_subjects": (
        "Few subjects",
        f"a compared group has fewer than {FEW_SUBJECTS} subjects: the intervals and "
        "p-values rest on too few people to trust",
    ),
    "positives": (
        "Positives",
        "the n of a true positive rate: the videos of the class",
    ),
    "negatives": (
        "Negatives",
        "the n of a false positive rate: the videos of the other classes",
    ),
    "videos": (
        "Videos",
        "the n of an accuracy or a selection rate: every video of the group",
    ),
}


#: classes whose gap is an absolute value (≥ 0) for every definition
ABSOLUTE_CLASSES: frozenset[str] = frozenset({"worst", "mean"})


def _entry(code: str) -> tuple[str, str]:
    for table in (_DEFINITIONS, _CLASSES, _TERMS):
        if code in table:
            return table[code]
    raise KeyError(f"no glossary entry for {code!r}")


def plain_name(code: str) -> str:
    """The plain-language name of a gap definition, class aggregate or term
    ("equal_opportunity" -> "Recall gap"); a per-class label (an emotion) and any other
    unknown code come back unchanged."""
    try:
        return _entry(code)[0]
    except KeyError:
        return code


def meaning(code: str, comparison: str = DEFAULT_COMPARISON) -> str:
    """One line saying what a gap definition, class aggregate or term means, with
    `comparison` (e.g. "female − male") as the direction; KeyError for unknown codes."""
    return _entry(code)[1].format(comparison=comparison)


def glossary_rows(comparison: str = DEFAULT_COMPARISON) -> list[tuple[str, str, str]]:
    """(code name, plain name, meaning) for every definition, class aggregate and term,
    in that order."""
    return [
        (code, name, text.format(comparison=comparison))
        for table in (_DEFINITIONS, _CLASSES, _TERMS)
        for code, (name, text) in table.items()
    ]


def rate_n_words(metric: str) -> str:
    """What the n of a rate counts, the one wording used everywhere: "positives" for
    tpr (videos of the class), "negatives" for fpr (videos of other classes), "videos"
    for accuracy and selection_rate; KeyError for other metrics."""
    return RATES[metric].n_name


def is_absolute(definition: str, cls: str, comparison: str = "") -> bool:
    """Whether a gap cannot be negative: the unsigned definitions (eqod_paper,
    dp_paper, equalized_odds), the classes `worst` and `mean` of any definition, and
    every gap of a comparison of more than two groups ("max - min ...")."""
    return definition not in SIGNED or cls in ABSOLUTE_CLASSES or comparison.startswith("max")
