"""The published reference: counts recovered exactly, the rankings of the paper's 5.2."""

import pytest

from fer_audit.fairness.reference import load_reference, load_table, reference_audit


@pytest.fixture(scope="module")
def reference_result():
    return reference_audit(n_boot=200, seed=0)


def ranks(result, train_set, definition) -> dict[str, int]:
    table = result.rankings
    chosen = table[(table["train_set"] == train_set) & (table["definition"] == definition)]
    return chosen.set_index("arch")["rank"].to_dict()


def test_table_has_every_printed_value():
    table = load_table()
    assert len(table) == 648
    assert set(table["table"]) == set(range(2, 29))


def test_counts_are_whole_and_balanced():
    counts = load_reference().counts
    gender_sets = counts[counts["group"] != "all"]
    assert ((gender_sets["tp"] + gender_sets["fn"]) == 10).all()
    assert ((gender_sets["fp"] + gender_sets["tn"]) == 30).all()
    pooled = counts[counts["group"] == "all"]
    assert ((pooled["tp"] + pooled["fn"]) == 20).all()
    # a multiclass confusion matrix has as many false positives as false negatives
    per_set = gender_sets.groupby(["run_id", "group"])[["fp", "fn"]].sum()
    assert (per_set["fp"] == per_set["fn"]).all()


def test_the_one_inconsistent_cell_is_flagged():
    bad = load_reference().inconsistent
    assert len(bad) == 1
    row = bad.iloc[0]
    assert (row["train_set"], row["test_set"], row["model"], row["emotion"]) == (
        "regular",
        "test",
        "senetlstm",
        "upset",
    )
    assert row["printed_accuracy"] == 0.8375
    assert row["implied_accuracy"] == pytest.approx(0.9125)


def test_regular_models_rankings(reference_result):
    for definition in ("eqop_paper", "eqod_paper"):
        r = ranks(reference_result, "regular", definition)
        assert r["resnet3d"] == 1  # least biased
        assert r["vggface"] == 6  # most unfair
        assert r["3dcnn"] == 5  # second in terms of bias
    dp = ranks(reference_result, "regular", "dp_paper")
    assert dp["vgg16"] == 1 and dp["resnet3d"] == 2
    assert dp["3dcnn"] == dp["vggface"] == 5  # the two most biased, tied


def test_female_models_rankings(reference_result):
    for definition in ("eqop_paper", "eqod_paper", "dp_paper"):
        assert ranks(reference_result, "female", definition)["senetlstm"] == 6
    assert ranks(reference_result, "female", "eqop_paper")["3dcnn"] == 1
    assert ranks(reference_result, "female", "eqod_paper")["3dcnn"] == 1
    assert ranks(reference_result, "female", "dp_paper")["vgg16"] == 1


def test_male_models_rankings(reference_result):
    for definition in ("eqop_paper", "eqod_paper"):
        r = ranks(reference_result, "male", definition)
        assert r["senetlstm"] == 1 and r["vggface"] == 1  # most fair, tied on exact counts
        assert r["resnet50"] == 6
    dp = ranks(reference_result, "male", "dp_paper")
    assert dp["senetlstm"] == 1
    assert dp["resnet3d"] == 6
    assert dp["resnet50"] == dp["vggface"] == 4  # share the second most biased place


def test_reference_audit_records_its_source(reference_result):
    settings = reference_result.settings
    assert settings["source_kind"] == "counts" and settings["synthetic"] is False
    assert "Domnich" in settings["source"]["citation"]
    assert len(settings["source"]["inconsistent_cells"]) == 1
    gm = reference_result.group_metrics
    assert set(gm["interval_method"]) == {"Wilson score"}
    assert set(gm["group"]) == {"female", "male", "all"}
    methods = set(reference_result.gaps["interval_method"])
    assert methods == {"Newcombe hybrid score", "parametric binomial bootstrap"}
