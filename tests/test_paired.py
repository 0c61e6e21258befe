"""The difference between two models' gaps with a paired subject bootstrap
(`fer_audit.fairness.paired`): checked against a brute-force loop over resamples."""

import json

import numpy as np
import pandas as pd
import pytest
from test_fairness import CLASSES, simulated

from fer_audit.fairness import audit, intervals, paired
from fer_audit.fairness.paired import PairingError, paired_gap_difference
from fer_audit.fairness.resample import bootstrap_weights

N_BOOT = 500


def correlated_runs(*, changed: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Run a (female sad recall 0.3) and run b: a's predictions with a share `changed`
    of them drawn again, so the two runs err on mostly the same videos."""
    first = simulated(6, female_sad_tpr=0.3, seed=seed).assign(run_id="a")
    second = first.assign(run_id="b")
    rng = np.random.default_rng(seed + 100)
    redraw = rng.random(len(second)) < changed
    second.loc[redraw, "y_pred"] = rng.choice(CLASSES, int(redraw.sum()))
    return pd.concat([first, second], ignore_index=True)


def _weighted_gap(rows: pd.DataFrame, weight: np.ndarray, definition: str, cls: str) -> float:
    """One gap (female - male) of one run from scratch, each video weighted by how often
    its subject was drawn."""
    true, pred = rows["y_true"].to_numpy(), rows["y_pred"].to_numpy()
    rates = {}
    for gender in ("female", "male"):
        w = weight * (rows["gender"].to_numpy() == gender)
        tpr = {c: (w * (true == c) * (pred == c)).sum() / (w * (true == c)).sum() for c in CLASSES}
        rates[gender] = {
            "tpr": tpr,
            "selection": {c: (w * (pred == c)).sum() / w.sum() for c in CLASSES},
            "overall": (w * (true == pred)).sum() / w.sum(),
        }
    female, male = rates["female"], rates["male"]
    if definition == "equal_opportunity":
        return female["tpr"][cls] - male["tpr"][cls]
    if definition == "demographic_parity":
        return female["selection"][cls] - male["selection"][cls]
    if definition == "eqop_paper":
        return np.mean(list(female["tpr"].values())) - np.mean(list(male["tpr"].values()))
    assert (definition, cls) == ("accuracy", "overall")
    return female["overall"] - male["overall"]


def brute_force(table, definition, cls, *, seeds=(3, 3)):
    """The observed difference, the 95% interval (the 13th smallest and 13th largest
    draw: ceil(0.05 x 500 / 2) = 13) and the p-value (twice the share of draws on the
    far side of 0), one resample at a time; run a's draws from seeds[0], run b's from
    seeds[1] (the same seed: the paired bootstrap's own weights; subjects in sorted
    order, as the audit's cells)."""
    subjects = sorted(table["subject"].unique())
    gender = table.groupby("subject")["gender"].first()
    cell_group = np.array([0 if gender[s] == "female" else 1 for s in subjects])
    weights = [bootstrap_weights(cell_group, 2, n_boot=N_BOOT, seed=s) for s in seeds]
    runs = [table[table["run_id"] == run].reset_index(drop=True) for run in ("a", "b")]
    position = [
        rows["subject"].map({s: i for i, s in enumerate(subjects)}).to_numpy() for rows in runs
    ]
    observed = [_weighted_gap(rows, np.ones(len(rows)), definition, cls) for rows in runs]
    differences = []
    for b in range(N_BOOT):
        gaps = [
            _weighted_gap(rows, w[b][at], definition, cls)
            for rows, w, at in zip(runs, weights, position, strict=True)
        ]
        differences.append(gaps[0] - gaps[1])
    differences = np.sort(differences)
    low, high = differences[13 - 1], differences[N_BOOT - 13]
    tail = min((differences <= 0).sum(), (differences >= 0).sum())
    p = min(1.0, 2 * tail / N_BOOT)
    return observed[0] - observed[1], low, high, p


def compare(table, definition="equal_opportunity", cls="sad", **options):
    options = {"n_boot": N_BOOT, "seed": 3} | options
    return paired_gap_difference(
        predictions=table, first="a", second="b", definition=definition, cls=cls, **options
    )


@pytest.mark.parametrize(
    ("definition", "cls"),
    [
        ("equal_opportunity", "sad"),
        ("demographic_parity", "happy"),
        ("eqop_paper", "all"),
        ("accuracy", "overall"),
    ],
)
def test_the_paired_difference_equals_a_brute_force_loop(definition, cls):
    table = correlated_runs(changed=0.3)
    found = compare(table, definition, cls)
    difference, low, high, p = brute_force(table, definition, cls)
    assert found.difference == pytest.approx(difference, abs=1e-12)
    assert found.ci_low == pytest.approx(low, abs=1e-12)
    assert found.ci_high == pytest.approx(high, abs=1e-12)
    assert found.p_value == pytest.approx(p, abs=1e-12)
    assert found.boot_dropped == 0.0


def test_each_runs_interval_is_the_audits_own():
    table = correlated_runs(changed=0.3)
    found = compare(table)
    gaps = audit(table, n_boot=N_BOOT, seed=3).gaps
    sad = gaps[(gaps["definition"] == "equal_opportunity") & (gaps["class"] == "sad")]
    sad = sad.set_index("run_id")
    assert found.first_gap == pytest.approx(sad.loc["a", "value"], abs=1e-12)
    assert found.first_interval == pytest.approx(tuple(sad.loc["a", ["ci_low", "ci_high"]]))
    assert found.second_interval == pytest.approx(tuple(sad.loc["b", ["ci_low", "ci_high"]]))


def test_identical_predictions_differ_by_exactly_zero():
    first = simulated(5, female_sad_tpr=0.4, seed=1).assign(run_id="a")
    third = simulated(5, female_sad_tpr=0.9, seed=2).assign(run_id="c")  # left out
    found = compare(pd.concat([first, third, first.assign(run_id="b")]))
    assert (found.difference, found.ci_low, found.ci_high) == (0.0, 0.0, 0.0)
    assert found.p_value == 1.0 and not found.excludes_zero
    assert found.first_gap == found.second_gap and found.first_gap < 0


def test_the_paired_interval_is_narrower_than_independent_draws():
    table = correlated_runs(changed=0.2)
    found = compare(table)
    _, low, high, _ = brute_force(table, "equal_opportunity", "sad", seeds=(3, 4))
    assert 0 < found.ci_high - found.ci_low < 0.5 * (high - low)


def test_a_planted_difference_is_found():
    first = simulated(6, female_sad_tpr=0.2, seed=5).assign(run_id="a")
    second = first.assign(run_id="b")
    female_sad = (second["gender"] == "female") & (second["y_true"] == "sad")
    second.loc[female_sad, "y_pred"] = "sad"  # b reads women's sadness as men's
    found = compare(pd.concat([first, second]))
    assert found.difference < -0.5 and found.ci_high < 0 and found.excludes_zero
    assert found.p_value < 0.05
    assert found.subjects == {"female": 6, "male": 6}
    assert found.videos == {"a": {"female": 48, "male": 48}, "b": {"female": 48, "male": 48}}
    assert found.rate_n_name == "positives"
    assert found.rate_n["a"] == {"female": 12, "male": 12}


def test_runs_on_other_subjects_are_refused_naming_them():
    first = simulated(4, female_sad_tpr=0.5, seed=1).assign(run_id="a")
    second = first.assign(run_id="b")
    second["subject"] = second["subject"].replace({"male3": "male9"})
    with pytest.raises(PairingError, match="only a has male3; only b has male9"):
        compare(pd.concat([first, second]))


def test_runs_on_other_videos_are_refused_naming_the_subject():
    first = simulated(4, female_sad_tpr=0.5, seed=1).assign(run_id="a")
    first["video_id"] = first["subject"] + "-" + first.groupby("subject").cumcount().astype(str)
    second = first.assign(run_id="b")
    second.loc[second["subject"] == "female2", "video_id"] += "x"
    with pytest.raises(PairingError, match="different video ids or classes for subject.s. female2"):
        compare(pd.concat([first, second]))
    fewer = first.assign(run_id="b").drop(columns="video_id").iloc[1:]
    with pytest.raises(PairingError, match="videos of each class for subject.s. female0"):
        compare(pd.concat([first.drop(columns="video_id"), fewer]))


def test_unknown_and_identical_runs_and_unknown_gaps_are_refused():
    table = correlated_runs()
    with pytest.raises(PairingError, match="no run 'c' in the predictions table; its runs: a, b"):
        paired_gap_difference(
            predictions=table, first="a", second="c", definition="accuracy", cls="sad",
            n_boot=N_BOOT, seed=0,
        )  # fmt: skip
    with pytest.raises(PairingError, match="needs two different runs"):
        paired_gap_difference(
            predictions=table, first="a", second="a", definition="accuracy", cls="sad",
            n_boot=N_BOOT, seed=0,
        )  # fmt: skip
    with pytest.raises(PairingError, match="eqop_paper has no gap for class 'sad'; its gaps"):
        compare(table, "eqop_paper", "sad")


def test_the_result_carries_the_synthetic_flag_and_reads_as_json():
    found = compare(correlated_runs().assign(synthetic=True), cls=CLASSES.index("sad"))
    assert found.synthetic and found.cls == "sad"
    assert json.loads(json.dumps(found.to_dict()))["difference"] == found.difference


def test_draws_that_lose_a_class_are_left_out_as_the_audit_leaves_them_out():
    table = correlated_runs(changed=0.3)
    rare = (table["gender"] == "female") & (table["y_true"] == "sad")
    table = table[~rare | (table["subject"] == "female0")]  # one woman's sad videos only
    found = compare(table)
    gaps = audit(table, n_boot=N_BOOT, seed=3).gaps
    sad = gaps[(gaps["definition"] == "equal_opportunity") & (gaps["class"] == "sad")]
    sad = sad.set_index("run_id")
    assert 0 < found.boot_dropped == pytest.approx(sad.loc["a", "boot_dropped"])
    assert found.first_interval == pytest.approx(tuple(sad.loc["a", ["ci_low", "ci_high"]]))
    assert found.rate_n["a"] == {"female": 2, "male": 12}


def boundary_draws(n: int, at_or_below: int, *, zeros: int = 0) -> np.ndarray:
    """n shuffled differences: `at_or_below` of them <= 0 (`zeros` of those exactly 0),
    the rest > 0."""
    draws = np.r_[np.zeros(zeros), -0.1 * np.ones(at_or_below - zeros), np.ones(n - at_or_below)]
    return np.random.default_rng(n + at_or_below).permutation(draws)


@pytest.mark.parametrize(
    ("n", "at_or_below", "p", "excludes"),
    [(2000, 49, 0.049, True), (2000, 50, 0.05, False), (2000, 51, 0.051, False),
     (100, 2, 0.04, True), (100, 3, 0.06, False), (100, 4, 0.08, False)],
)  # fmt: skip
def test_the_difference_interval_excludes_zero_exactly_when_p_is_below_alpha(
    n, at_or_below, p, excludes
):
    """At the boundary (k = ceil(0.05 n / 2): 50 of 2000, 3 of 100) the interval and p
    agree; the audit's linear percentile and +1 p did not (50 of 2000: the interval
    excluded 0 while p = 0.051)."""
    for zeros in (0, 1):
        draws = boundary_draws(n, at_or_below, zeros=zeros)
        low, high, found_p, used = intervals.sign_interval_and_p(draws)
        assert (found_p, used) == (pytest.approx(p, abs=1e-15), n)
        assert (low > 0 or high < 0) == excludes == (found_p < 0.05)
        assert low == np.quantile(draws, 0.05 / 2, method="inverted_cdf")
        assert high == -np.quantile(-draws, 0.05 / 2, method="inverted_cdf")
    mirrored = intervals.sign_interval_and_p(-boundary_draws(n, at_or_below))
    assert (mirrored[1] < 0) == excludes and mirrored[2] == pytest.approx(p, abs=1e-15)
    assert intervals.sign_interval_and_p(np.ones(n))[2] == 0.0  # said as p < 1/n


def planting(monkeypatch, draws: np.ndarray) -> None:
    """Make the paired bootstrap's differences `draws` (run a's gaps; run b's 0)."""
    resampled = paired._resampled

    def planted(*args):
        observed, _ = resampled(*args)
        return observed, {"a": draws.copy(), "b": np.zeros(len(draws))}

    monkeypatch.setattr(paired, "_resampled", planted)


@pytest.mark.parametrize(("n", "at_or_below"), [(2000, 49), (2000, 50), (2000, 51), (100, 3)])
def test_the_paired_interval_and_p_agree_at_the_boundary(monkeypatch, n, at_or_below):
    from fer_audit.report.side_by_side import paired_sentence

    planting(monkeypatch, boundary_draws(n, at_or_below))
    found = compare(correlated_runs(), n_boot=n)
    assert found.excludes_zero == (found.p_value < 0.05) == (2 * at_or_below < 0.05 * n)
    assert found.n_used == n and found.p_value == pytest.approx(2 * at_or_below / n, abs=1e-15)
    said = paired_sentence(found, labels={"a": "A", "b": "B"})
    assert ("The interval excludes 0" in said) == found.excludes_zero
    assert f"p = {found.p_value:.3f} for this one comparison, not adjusted for others" in said


def test_no_finite_resample_is_refused_not_said_as_nan(monkeypatch):
    planting(monkeypatch, np.full(N_BOOT, np.nan))
    with pytest.raises(PairingError, match="none of the 500 resamples gives the equal_opp"):
        compare(correlated_runs())
    assert np.isnan(intervals.sign_interval_and_p(np.full(10, np.nan))[0])


def test_runs_whose_cells_differ_are_refused_even_past_the_video_check(monkeypatch):
    """The same weight must weigh the same subject-group in both runs: were the test-set
    check to miss a difference, the cells' own check names it."""
    monkeypatch.setattr(paired, "_same_test_set", lambda *args: None)
    table = correlated_runs()
    renamed = (table["run_id"] == "b") & (table["subject"] == "male3")
    table.loc[renamed, "subject"] = "male9"  # as many cells, one of them another subject
    with pytest.raises(PairingError, match="only a has male3 in male; only b has male9 in male"):
        compare(table)


def with_authenticity(table: pd.DataFrame) -> pd.DataFrame:
    """Each subject's videos alternately genuine and fake: every subject is a cell in
    two groups (gender x authenticity)."""
    order = table.groupby(["run_id", "subject"]).cumcount()
    return table.assign(authenticity=np.where(order % 2, "genuine", "fake"))


def test_intersectional_groups_count_subjects_once_and_resample_subject_groups():
    found = compare(with_authenticity(correlated_runs()), group=["gender", "authenticity"])
    assert found.n_subjects == 12 and found.subject_groups
    assert found.subjects == {f"{g} & {a}": 6 for g in ("female", "male")
                              for a in ("fake", "genuine")}  # fmt: skip
    assert not compare(correlated_runs()).subject_groups
