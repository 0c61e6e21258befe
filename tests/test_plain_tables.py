"""The audit's tables under plain headers (fer_audit.report.plain_tables): every column
the audit writes is shown under a plain header, and the code names of definitions and
aggregates become their plain names."""

import pytest
from test_fairness import simulated

from fer_audit.fairness import audit
from fer_audit.report import plain_tables


@pytest.fixture(scope="module")
def result():
    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    return audit(table, n_boot=100)


def test_every_gap_column_is_shown_under_a_plain_header(result):
    shown = plain_tables.plain_gaps(result.gaps)
    missing = set(result.gaps.columns) - set(plain_tables.GAP_COLUMNS)
    assert not missing, f"columns with no plain header: {sorted(missing)}"
    assert list(shown.columns[:5]) == ["architecture", "training set", "seed", "gap", "emotion"]
    assert set(shown.columns) & set(result.gaps.columns) == {"seed", "subjects"}
    assert "Recall gap" in set(shown["gap"]) and "Worst class" in set(shown["emotion"])
    assert len(shown) == len(result.gaps)


def test_each_rate_says_what_its_n_counts(result):
    shown = plain_tables.plain_rates(result.group_metrics)
    assert not set(result.group_metrics.columns) - set(plain_tables.RATE_COLUMNS)
    assert not set(result.rankings.columns) - set(plain_tables.RANKING_COLUMNS)
    counts = dict(zip(shown["rate"], shown["what n counts"], strict=False))
    assert counts["true positive rate (recall)"] == "positives"
    assert counts["false positive rate"] == "negatives" and counts["accuracy"] == "videos"
    ranked = plain_tables.plain_rankings(result.rankings)
    assert {"training set", "ranked by", "rank", "architecture", "gap value"} <= set(ranked.columns)
