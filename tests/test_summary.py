"""Summary words for what an audit could not detect, seed spread and flagged models
(fer_audit.report.summary; the interval/p-value branches are in test_report.py)."""

import numpy as np
import pandas as pd

from fer_audit.report.summary import certainty, sentence


def _no_evidence(**extra) -> pd.Series:
    row = dict(
        run_id="r1",
        definition="equal_opportunity",
        ci_low=-0.3,
        ci_high=0.2,
        p_value=0.5,
        p_adjusted=1.0,
        comparison="female - male",
        p_method="subject permutation",
        n_tests=28,
        subjects="female 8 | male 8",
        mdg=0.42,
        few_subjects=False,
        value=-0.05,
        rate_n="female 16 | male 16",
        **{"class": "sad"},
    )
    return pd.Series({**row, **extra})  # fmt: skip


def test_no_evidence_says_the_smallest_gap_the_audit_could_detect():
    said = certainty(_no_evidence())
    assert said.startswith("not distinguishable from no gap; with 8 + 8 test subjects")
    assert "could only detect sad recall (TPR) gaps larger than 0.42" in said
    assert "80% power" in said


def test_an_undetectable_gap_is_said_plainly():
    said = certainty(_no_evidence(mdg=np.nan, subjects="female 2 | male 2"))
    assert "with 2 + 2 test subjects this audit could not detect even a gap of 1.00" in said


def test_an_interval_without_a_test_also_gets_the_detectable_gap():
    said = certainty(_no_evidence(ci_low=-0.6, ci_high=-0.1, p_value=0.24))
    assert "the interval excludes zero but the permutation test does not" in said
    assert "larger than 0.42" in said


def test_evidence_does_not_get_a_detectable_gap():
    said = certainty(_no_evidence(ci_low=-0.6, ci_high=-0.2, p_value=0.001, p_adjusted=0.004))
    assert "detect" not in said


def test_seed_spread_and_sign_are_said_beside_the_gap():
    row = _no_evidence(seed_runs=3, seed_min=-0.3, seed_max=0.1, seed_sd=0.2, seed_same_sign=False)
    said = certainty(row)
    assert "over 3 seeds the gap runs from -0.30 to +0.10 (SD 0.20), of opposite sign" in said
    same = _no_evidence(seed_runs=3, seed_min=-0.3, seed_max=0.0, seed_sd=0.1, seed_same_sign=True)
    assert "never of opposite sign" in certainty(same)
    assert "seeds" not in certainty(_no_evidence(seed_runs=1, seed_min=np.nan))
    unsigned = _no_evidence(
        definition="equalized_odds", seed_runs=2, seed_min=0.1, seed_max=0.3, seed_sd=0.1
    )
    assert "sign" not in certainty(unsigned)  # a size cannot change sign


def test_counts_only_disagreement_is_not_blamed_on_a_bootstrap():
    row = _no_evidence(
        ci_low=-0.6,
        ci_high=-0.1,
        p_value=0.08,
        p_method="Fisher exact",
        interval_method="Newcombe hybrid score",
    )
    said = certainty(row)
    assert "Newcombe hybrid score against Fisher exact" in said
    assert "bootstrap" not in said and "permutation" not in said


def test_more_than_two_groups_get_the_raw_p_and_the_detectable_gap():
    spread = dict(comparison="max - min over 3 groups", ci_low=0.1, ci_high=0.5)
    assert "p = 0.010 on its own, but not after correcting for the 28" in certainty(
        _no_evidence(p_value=0.01, p_adjusted=0.2, **spread)
    )
    said = certainty(_no_evidence(p_value=0.4, p_adjusted=1.0, **spread))
    assert said.startswith("not distinguishable from no difference; with 8 + 8")
    assert "after correction" not in said


def test_a_degenerate_model_is_warned_about_beside_its_gap():
    row = _no_evidence(degenerate="this model reads 95% of 80 videos as upset; its gaps say little")
    assert sentence(row).endswith(
        "Warning: this model reads 95% of 80 videos as upset; its gaps say little."
    )


def test_a_gap_of_zero_is_said_as_no_difference_not_as_a_direction():
    said = sentence(_no_evidence(value=0.0001, ci_low=0.0, ci_high=0.0))
    assert "the true positive rate (recall) is the same for female and male subjects" in said
    assert "higher" not in said and "lower" not in said
    spread = sentence(_no_evidence(value=0.0, comparison="max - min over 3 groups"))
    assert "does not differ between groups (max - min over 3 groups; to three decimals)" in spread
    assert "is 0.05 lower for female than for male" in sentence(_no_evidence())
    small = sentence(_no_evidence(value=-0.004, p_adjusted=0.001))  # a huge test set
    assert "is 0.004 lower for female than for male" in small
