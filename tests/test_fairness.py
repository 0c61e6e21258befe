import numpy as np
import pandas as pd
import pytest

from fer_audit.fairness import AuditError, AuditResult, audit, intervals
from fer_audit.labels import PAPER4
from fer_audit.report.summary import summary_sentences

CLASSES = list(PAPER4.classes)


def table(rows, run_id="r1", **extra) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["subject", "gender", "y_true", "y_pred"])
    frame["run_id"] = run_id
    for key, value in extra.items():
        frame[key] = value
    return frame


#: female: 6/8 correct; male: 6/8 correct (see the hand computation in the tests)
HAND = table(
    [
        ("f1", "female", "surprised", "surprised"),
        ("f1", "female", "surprised", "upset"),
        ("f1", "female", "upset", "upset"),
        ("f1", "female", "upset", "upset"),
        ("f2", "female", "sad", "upset"),
        ("f2", "female", "sad", "sad"),
        ("f2", "female", "happy", "happy"),
        ("f2", "female", "happy", "happy"),
        ("m1", "male", "surprised", "surprised"),
        ("m1", "male", "surprised", "surprised"),
        ("m1", "male", "upset", "sad"),
        ("m1", "male", "upset", "upset"),
        ("m2", "male", "sad", "sad"),
        ("m2", "male", "sad", "sad"),
        ("m2", "male", "happy", "happy"),
        ("m2", "male", "happy", "surprised"),
    ]
)


@pytest.fixture(scope="module")
def hand_audit() -> AuditResult:
    return audit(HAND, n_boot=200, seed=0)


def metric(result, group, cls, name):
    gm = result.group_metrics
    row = gm[(gm["group"] == group) & (gm["class"] == cls) & (gm["metric"] == name)]
    assert len(row) == 1
    return row.iloc[0]


def gap(result, definition, cls):
    rows = result.gaps[(result.gaps["definition"] == definition) & (result.gaps["class"] == cls)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_hand_computed_rates_and_denominators(hand_audit):
    expected = {
        ("female", "surprised", "tpr"): (1 / 2, 2),
        ("female", "upset", "fpr"): (2 / 6, 6),
        ("female", "upset", "accuracy"): (6 / 8, 8),
        ("female", "upset", "selection_rate"): (4 / 8, 8),
        ("male", "surprised", "fpr"): (1 / 6, 6),
        ("male", "happy", "tpr"): (1 / 2, 2),
        ("male", "sad", "selection_rate"): (3 / 8, 8),
        ("all", "upset", "tpr"): (3 / 4, 4),
        ("female", "overall", "accuracy"): (6 / 8, 8),
        ("all", "overall", "accuracy"): (12 / 16, 16),
    }
    for (group, cls, name), (value, n) in expected.items():
        row = metric(hand_audit, group, cls, name)
        assert row["value"] == pytest.approx(value), (group, cls, name)
        assert row["n"] == n
        assert row["small_n"] == (n < 10)


def test_hand_computed_gaps(hand_audit):
    # mean TPR and mean FPR are equal across groups: the paper's EQOP and EQOD are 0 ...
    assert gap(hand_audit, "eqop_paper", "all")["value"] == pytest.approx(0)
    assert gap(hand_audit, "eqod_paper", "all")["value"] == pytest.approx(0)
    # ... while ACC differs by -1/8 (upset) and +1/8 (happy)
    assert gap(hand_audit, "dp_paper", "all")["value"] == pytest.approx(1 / 16)
    assert gap(hand_audit, "equal_opportunity", "surprised")["value"] == pytest.approx(-0.5)
    assert gap(hand_audit, "equal_opportunity", "upset")["value"] == pytest.approx(0.5)
    assert gap(hand_audit, "equal_opportunity", "worst")["value"] == pytest.approx(0.5)
    assert gap(hand_audit, "equalized_odds", "upset")["value"] == pytest.approx(0.5)
    assert gap(hand_audit, "demographic_parity", "upset")["value"] == pytest.approx(3 / 8)
    assert gap(hand_audit, "demographic_parity", "worst")["value"] == pytest.approx(3 / 8)
    assert gap(hand_audit, "demographic_parity", "mean")["value"] == pytest.approx(0.25)
    assert gap(hand_audit, "accuracy", "happy")["value"] == pytest.approx(1 / 8)
    assert gap(hand_audit, "accuracy", "overall")["value"] == pytest.approx(0)
    assert set(hand_audit.gaps["comparison"]) == {"female - male"}
    assert set(hand_audit.gaps["n"]) == {"female 8 | male 8"}


def test_confusion_per_group_and_pooled(hand_audit):
    conf = hand_audit.confusion.set_index(["group", "true", "pred"])["count"]
    assert conf[("female", "sad", "upset")] == 1
    assert conf[("male", "happy", "surprised")] == 1
    assert conf[("all", "upset", "upset")] == 3
    assert conf.groupby(level="group").sum().to_dict() == {"all": 16, "female": 8, "male": 8}


def random_predictions(n_subjects=12, videos=8, seed=0, runs=("r1",)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for run in runs:
        for s in range(n_subjects):
            gender = "female" if s % 2 else "male"
            for _ in range(videos):
                true = rng.choice(CLASSES)
                pred = true if rng.random() < 0.6 else rng.choice(CLASSES)
                rows.append((run, f"s{s}", gender, true, pred))
    return pd.DataFrame(rows, columns=["run_id", "subject", "gender", "y_true", "y_pred"])


def test_agrees_with_fairlearn_metricframe():
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    frame = random_predictions(seed=3)
    result = audit(frame, n_boot=50)
    for cls in CLASSES:
        y_true = (frame["y_true"] == cls).astype(int)
        y_pred = (frame["y_pred"] == cls).astype(int)
        mf = MetricFrame(
            metrics={
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
                "selection_rate": selection_rate,
            },
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=frame["gender"],
        )
        for group in ("female", "male"):
            for name in ("tpr", "fpr", "selection_rate"):
                ours = metric(result, group, cls, name)["value"]
                assert ours == pytest.approx(mf.by_group.loc[group, name]), (cls, group, name)
        ours_gap = gap(result, "equal_opportunity", cls)["value"]
        assert abs(ours_gap) == pytest.approx(mf.difference()["tpr"])


def test_bootstrap_and_permutation_are_seeded():
    frame = random_predictions(seed=1)
    first = audit(frame, n_boot=300, seed=7)
    again = audit(frame, n_boot=300, seed=7)
    other = audit(frame, n_boot=300, seed=8)
    columns = ["ci_low", "ci_high", "p_value"]
    pd.testing.assert_frame_equal(first.gaps[columns], again.gaps[columns])
    assert not first.gaps[columns].equals(other.gaps[columns])
    pd.testing.assert_frame_equal(first.group_metrics, again.group_metrics)


def simulated(n_per_group, female_sad_tpr, seed, *, other=0.9) -> pd.DataFrame:
    """Subjects with 2 videos per class; sad is recognised at `female_sad_tpr` for
    women and `other` for men; every other class at `other` for everyone."""
    rng = np.random.default_rng(seed)
    rows = []
    for gender in ("female", "male"):
        for s in range(n_per_group):
            subject_skill = rng.normal(0, 0.05)
            for cls in CLASSES:
                p = female_sad_tpr if (gender == "female" and cls == "sad") else other
                for _ in range(2):
                    correct = rng.random() < np.clip(p + subject_skill, 0, 1)
                    wrong = rng.choice([c for c in CLASSES if c != cls])
                    rows.append(("sim", f"{gender}{s}", gender, cls, cls if correct else wrong))
    return pd.DataFrame(rows, columns=["run_id", "subject", "gender", "y_true", "y_pred"])


def test_planted_gap_is_found():
    result = audit(simulated(20, female_sad_tpr=0.3, seed=0), n_boot=2000, seed=0)
    sad = gap(result, "equal_opportunity", "sad")
    assert sad["value"] < -0.3
    assert sad["ci_high"] < 0  # the interval excludes zero, in the planted direction
    assert sad["p_adjusted"] < 0.05


def test_null_intervals_mostly_cover_zero():
    covered, tests = 0, 0
    for seed in range(12):
        result = audit(simulated(15, female_sad_tpr=0.9, seed=100 + seed), n_boot=400, seed=seed)
        rows = result.gaps[result.gaps["definition"] == "equal_opportunity"]
        rows = rows[rows["class"].isin(CLASSES)]
        covered += int(((rows["ci_low"] <= 0) & (rows["ci_high"] >= 0)).sum())
        tests += len(rows)
        assert (rows["p_adjusted"] > 0.05).all()
    assert covered / tests >= 0.85


def test_more_than_two_groups_use_max_minus_min():
    frame = random_predictions(n_subjects=15, seed=9)
    frame.loc[frame["subject"].isin(["s0", "s1", "s2", "s3", "s4"]), "gender"] = "nonbinary"
    result = audit(frame, n_boot=50)
    assert result.settings["groups"] == ["female", "male", "nonbinary"]
    for cls in CLASSES:
        tprs = [metric(result, g, cls, "tpr")["value"] for g in result.settings["groups"]]
        row = gap(result, "equal_opportunity", cls)
        assert row["value"] == pytest.approx(max(tprs) - min(tprs))
        assert row["comparison"] == "max - min over 3 groups"


def test_a_class_missing_in_one_group_gives_nan_not_a_partial_gap():
    frame = HAND[~((HAND["gender"] == "male") & (HAND["y_true"] == "sad"))]
    result = audit(frame, n_boot=50)
    assert np.isnan(gap(result, "equal_opportunity", "sad")["value"])
    assert np.isnan(gap(result, "equalized_odds", "sad")["value"])
    # the paper's EQOP compares mean TPR over the three classes both groups have
    female = [metric(result, "female", c, "tpr")["value"] for c in ("surprised", "upset", "happy")]
    male = [metric(result, "male", c, "tpr")["value"] for c in ("surprised", "upset", "happy")]
    assert gap(result, "eqop_paper", "all")["value"] == pytest.approx(
        np.mean(female) - np.mean(male)
    )


def test_missing_values_and_runs_without_a_group_are_errors():
    with pytest.raises(AuditError, match=r"missing values in subject \(1 rows\)"):
        audit(HAND.assign(subject=[None] + ["s"] * 15), n_boot=10)
    with pytest.raises(AuditError, match="missing values in y_pred"):
        audit(HAND.assign(y_pred=[np.nan] + list(HAND["y_pred"][1:])), n_boot=10)
    two = pd.concat([HAND, HAND[HAND["gender"] == "female"].assign(run_id="r2")])
    with pytest.raises(AuditError, match="r2 lacks male"):
        audit(two, n_boot=10)


def test_few_subjects_are_flagged(hand_audit):
    assert set(hand_audit.gaps["subjects"]) == {"female 2 | male 2"}
    assert hand_audit.gaps["few_subjects"].all()


def test_numeric_looking_run_ids_survive_save_and_load(tmp_path):
    result = audit(HAND.assign(run_id="001"), n_boot=20)
    result.save(tmp_path / "a")
    loaded = AuditResult.load(tmp_path / "a")
    assert set(loaded.gaps["run_id"]) == {"001"}
    assert loaded.settings["runs"][0]["run_id"] == "001"


def test_intersectional_groups_from_a_list_of_columns():
    frame = random_predictions(seed=5)
    frame["authenticity"] = np.where(np.arange(len(frame)) % 2, "genuine", "fake")
    result = audit(frame, group=["gender", "authenticity"], n_boot=50)
    assert result.settings["groups"] == [
        "female & fake",
        "female & genuine",
        "male & fake",
        "male & genuine",
    ]
    chosen = audit(
        frame,
        group=["gender", "authenticity"],
        groups=["male & genuine", "female & genuine"],
        n_boot=50,
    )
    assert set(chosen.gaps["comparison"]) == {"male & genuine - female & genuine"}


def test_multi_seed_summary_and_rankings():
    frames = []
    for arch, seed, accuracy_shift in (("a", 1, 0), ("a", 2, 0), ("b", 1, 1)):
        frame = HAND.copy()
        if accuracy_shift:  # arch b misreads one more female video
            frame.loc[0, "y_pred"] = "happy"
        frames.append(
            frame.assign(run_id=f"{arch}{seed}", arch=arch, train_set="regular", seed=seed)
        )
    result = audit(pd.concat(frames), n_boot=50)
    summary = result.summary.set_index(["arch", "definition", "class"])
    assert summary.loc[("a", "dp_paper", "all"), "n_runs"] == 2
    assert summary.loc[("a", "dp_paper", "all"), "std"] == pytest.approx(0)
    ranks = result.rankings[result.rankings["definition"] == "eqop_paper"]
    assert ranks.set_index("arch")["rank"].to_dict() == {"a": 1, "b": 2}


def test_ties_share_a_rank():
    frames = [HAND.assign(run_id=a, arch=a, train_set="regular") for a in ("x", "y")]
    ranks = audit(pd.concat(frames), n_boot=20).rankings
    assert set(ranks[ranks["definition"] == "dp_paper"]["rank"]) == {1}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (HAND.iloc[0:0], "empty"),
        (HAND.drop(columns="subject"), "lacks column"),
        (HAND[HAND["gender"] == "female"], "at least two groups"),
        (HAND.assign(y_pred="neutral"), "classes outside the scheme"),
    ],
)
def test_bad_input_is_a_clear_error(frame, message):
    with pytest.raises(AuditError, match=message):
        audit(frame, n_boot=10)


def test_unknown_group_and_correction():
    with pytest.raises(AuditError, match="no videos of group") as raised:
        audit(HAND, groups=["female", "robot"], n_boot=10)
    assert raised.value.fix.startswith("choose among the groups the table holds (female, male)")
    with pytest.raises(ValueError, match="unknown correction"):
        audit(HAND, correction="bonferroni-ish", n_boot=10)


def test_save_and_load_round_trip(tmp_path, hand_audit):
    hand_audit.save(tmp_path / "audit")
    loaded = AuditResult.load(tmp_path / "audit")
    assert loaded.settings["groups"] == ["female", "male"]
    pd.testing.assert_frame_equal(
        loaded.gaps[["definition", "class", "value"]].reset_index(drop=True),
        hand_audit.gaps[["definition", "class", "value"]].reset_index(drop=True),
        check_dtype=False,
    )


def test_wilson_and_newcombe_known_values():
    low, high = intervals.wilson(0, 10)
    assert (low, high) == pytest.approx((0.0, 0.2775), abs=1e-4)
    low, high = intervals.wilson(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    # Newcombe (1998), Statistics in Medicine, table II, example (a): 56/70 - 48/80
    low, high = intervals.newcombe(56, 70, 48, 80)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert np.isnan(intervals.wilson(0, 0)[0])


def test_holm_and_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.005])
    assert intervals.holm(p)[[4, 0, 2, 1]] == pytest.approx([0.02, 0.03, 0.06, 0.06])
    assert np.isnan(intervals.holm(p)[3])
    assert intervals.benjamini_hochberg(p)[[4, 0, 2, 1]] == pytest.approx([0.02, 0.02, 0.04, 0.04])


def test_fisher_exact_two_by_two():
    # the tea-tasting table [[3, 1], [1, 3]]: two-sided p = 0.4857
    assert intervals.fisher_exact_p(3, 4, 1, 4) == pytest.approx(0.4857, abs=1e-4)


def test_gender_labels_are_read_as_at_registration_and_recorded():
    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    spelled = table.assign(gender=table["gender"].map({"female": "Woman", "male": "Man"}))
    as_given, normalised = audit(spelled, n_boot=200), audit(table, n_boot=200)
    assert as_given.settings["comparison"] == "female - male"  # not Man - Woman
    assert as_given.settings["gender_labels"] == {"Man": "male", "Woman": "female"}
    assert np.allclose(as_given.gaps["value"], normalised.gaps["value"], equal_nan=True)
    assert "Man as male, Woman as female" in " ".join(summary_sentences(as_given))
    chosen = audit(spelled, n_boot=200, groups=["Woman", "Man"])
    assert chosen.settings["comparison"] == "female - male"


def test_one_group_spelled_two_ways_is_an_error_naming_both():
    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    table.loc[table.index[0], "gender"] = "Female"
    with pytest.raises(AuditError, match="'Female' and 'female' \\(both female\\)"):
        audit(table, n_boot=200)


def test_a_subject_with_two_genders_is_an_error_naming_it():
    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    first = table.index[table["gender"] == "female"][0]
    table.loc[first, "gender"] = "male"
    subject = table.loc[first, "subject"]
    with pytest.raises(AuditError, match=f"two genders: {subject} \\(female and male\\)"):
        audit(table, n_boot=200)


# ------------------------------------------------ classes, seeds, family, degenerate


def test_a_class_without_positives_in_a_group_is_flagged():
    frame = HAND[~((HAND["gender"] == "male") & (HAND["y_true"] == "sad"))]
    result = audit(frame, n_boot=50)
    assert set(result.gaps["no_positives"]) == {"sad (male)"}
    assert set(audit(HAND, n_boot=50).gaps["no_positives"]) == {""}
    assert any("no videos of sad (male)" in line for line in summary_sentences(result))


def test_bootstrap_draws_that_lose_a_class_are_left_out_and_counted():
    # one female subject holds the only female sad videos: a third of draws lose them
    frame = random_predictions(n_subjects=12, videos=8, seed=3)
    female_sad = (frame["gender"] == "female") & (frame["y_true"] == "sad")
    frame = frame[~female_sad | (frame["subject"] == "s1")]
    frame = pd.concat(
        [frame, pd.DataFrame([("r1", "s1", "female", "sad", "sad")], columns=frame.columns)]
    )
    result = audit(frame, n_boot=400, seed=0)
    dropped = result.gaps["boot_dropped"].iloc[0]
    assert (1 - 1 / 6) ** 6 - 0.08 < dropped < (1 - 1 / 6) ** 6 + 0.08  # P(s1 never drawn)
    eqop = gap(result, "eqop_paper", "all")
    assert np.isfinite(eqop["ci_low"]) and eqop["ci_low"] <= eqop["value"] <= eqop["ci_high"]
    assert any(
        "of bootstrap draws left a group without a class" in s for s in summary_sentences(result)
    )


def test_draws_losing_a_class_only_counts_classes_the_test_set_has():
    from fer_audit.fairness.from_predictions import draws_losing_a_class

    observed = np.zeros((2, 2, 2))
    observed[:, 0, 0] = 3  # class 0 in both groups; class 1 in neither
    boot = np.repeat(observed[None], 3, axis=0)
    boot[1, 1, 0, 0] = 0  # draw 1: group 1 loses class 0
    assert draws_losing_a_class(observed, boot).tolist() == [False, True, False]


def test_seed_spread_and_sign_beside_each_gap():
    frames = []
    for seed, flip in ((1, False), (2, False), (3, True)):
        frame = HAND.copy()
        if flip:  # seed 3 misreads the male happy video the others misread for female
            frame.loc[frame["subject"] == "m2", "y_pred"] = frame.loc[
                frame["subject"] == "m2", "y_true"
            ]
            frame.loc[7, "y_pred"] = "sad"
        frames.append(frame.assign(run_id=f"a{seed}", arch="a", train_set="regular", seed=seed))
    result = audit(pd.concat(frames), n_boot=50)
    rows = result.gaps[result.gaps["definition"] == "accuracy"].set_index(["run_id", "class"])
    happy = rows.loc[("a1", "happy")]
    values = rows.xs("happy", level="class")["value"]
    assert happy["seed_runs"] == 3
    assert happy["seed_min"] == pytest.approx(values.min())
    assert happy["seed_max"] == pytest.approx(values.max())
    assert happy["seed_sd"] == pytest.approx(values.std())
    assert bool(happy["seed_same_sign"]) == (values.min() > 0 or values.max() < 0)
    assert not bool(happy["seed_same_sign"])
    single = audit(HAND, n_boot=50).gaps
    assert single["seed_runs"].eq(1).all() and single["seed_sd"].isna().all()


def test_the_correction_family_can_be_the_whole_audit():
    frame = random_predictions(runs=("r1", "r2", "r3"), seed=2)
    per_run = audit(frame, n_boot=200, seed=0)
    whole = audit(frame, n_boot=200, seed=0, family="audit")
    assert whole.settings["family"] == "audit" and per_run.settings["family"] == "run"
    p = per_run.gaps["p_value"].to_numpy()
    np.testing.assert_allclose(whole.gaps["p_value"], p)
    np.testing.assert_allclose(whole.gaps["p_adjusted"], intervals.holm(p))
    first = per_run.gaps["run_id"] == "r1"
    np.testing.assert_allclose(per_run.gaps.loc[first, "p_adjusted"], intervals.holm(p[first]))
    tested = int(np.isfinite(p).sum())
    assert set(whole.gaps["n_tests"]) == {tested}
    assert any(f"over all {tested} gaps of the audit" in s for s in summary_sentences(whole))
    assert any("of each model separately" in s for s in summary_sentences(per_run))
    with pytest.raises(AuditError, match="family"):
        audit(frame, family="everything")


def test_intersectional_permutation_keeps_each_subjects_videos_together():
    """With gender x authenticity, a permutation moves a subject's genuine and fake
    videos to the same gender. Every subject here has three times as many genuine as
    fake videos, so in every draw a gender's genuine videos are three times its fake
    ones; a shuffle of cells (a subject's genuine and fake videos apart) breaks that."""
    from fer_audit.fairness.from_predictions import _permutations, cell_confusions

    rng = np.random.default_rng(4)
    rows = []
    for s in range(8):
        gender = "female" if s % 2 else "male"
        for authenticity, count in (("fake", s + 1), ("genuine", 3 * (s + 1))):
            for _ in range(count):
                true = rng.choice(CLASSES)
                rows.append(("r1", f"s{s}", gender, authenticity, true, rng.choice(CLASSES)))
    columns = ["run_id", "subject", "gender", "authenticity", "y_true", "y_pred"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["_group"] = frame["gender"] + " & " + frame["authenticity"]
    names = ["female & fake", "female & genuine", "male & fake", "male & genuine"]
    cells, cell_group, cell_rows = cell_confusions(frame, names, CLASSES)
    perm = _permutations(
        cells, cell_group, cell_rows, ["gender", "authenticity"], names, n_perm=300, seed=0
    )
    videos = perm.sum(axis=(-2, -1))  # (n_perm, 4 groups)
    np.testing.assert_array_equal(videos[:, 1], 3 * videos[:, 0])
    np.testing.assert_array_equal(videos[:, 3], 3 * videos[:, 2])
    assert len(set(videos[:, 0])) > 3  # subjects really move between genders


def test_a_model_that_predicts_one_class_is_flagged_degenerate():
    frame = random_predictions(seed=6)
    frame["y_pred"] = "upset"
    result = audit(frame, n_boot=50)
    warning = result.gaps["degenerate"].iloc[0]
    assert "reads 100% of 96 videos as upset" in warning
    lines = summary_sentences(result)
    assert any(line.startswith("Warning: r1: this model reads 100%") for line in lines)
    chance = random_predictions(seed=6)
    chance["y_pred"] = np.random.default_rng(0).permutation(chance["y_true"].to_numpy())
    chance.loc[chance["y_pred"] == chance["y_true"], "y_pred"] = "happy"
    assert "at or below chance" in audit(chance, n_boot=50).gaps["degenerate"].iloc[0]
    assert set(audit(HAND, n_boot=50).gaps["degenerate"]) == {""}


def test_every_gap_has_a_minimum_detectable_gap_and_the_published_audit_too():
    from fer_audit.fairness.reference import reference_audit

    result = audit(simulated(10, female_sad_tpr=0.9, seed=1), n_boot=500)
    per_class = result.gaps[result.gaps["class"].isin(CLASSES)]
    assert per_class["mdg"].between(0.05, 1).all()
    published = reference_audit(n_boot=500).gaps
    assert published["mdg"].notna().mean() > 0.9


def test_groups_that_differ_only_within_subjects_shuffle_cells():
    """female & genuine against female & fake: every subject is female, so shuffling
    gender would change nothing (p = 1 always); the cells are shuffled instead."""
    rng = np.random.default_rng(8)
    rows = []
    for s in range(12):
        for authenticity, rate in (("genuine", 0.9), ("fake", 0.3)):
            for cls in CLASSES:
                for _ in range(2):
                    pred = cls if rng.random() < rate else rng.choice(CLASSES)
                    rows.append(("r1", f"s{s}", "female", authenticity, cls, pred))
    columns = ["run_id", "subject", "gender", "authenticity", "y_true", "y_pred"]
    frame = pd.DataFrame(rows, columns=columns)
    result = audit(
        frame,
        group=["gender", "authenticity"],
        groups=["female & genuine", "female & fake"],
        n_boot=500,
    )
    overall = gap(result, "accuracy", "overall")
    assert overall["value"] > 0.3 and overall["p_value"] < 0.01


def test_seed_spread_needs_distinct_seeds():
    frames = [HAND.assign(run_id=f"a{i}", arch="a", train_set="regular") for i in (1, 2)]
    result = audit(pd.concat(frames), n_boot=50)  # two runs, no seed column
    assert result.gaps["seed_runs"].eq(1).all() and result.gaps["seed_sd"].isna().all()
