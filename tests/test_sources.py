"""What the dashboard can show: the published results, saved audits, predictions tables
not audited yet; and an audit filtered to some runs, ranked again."""

import shutil

import pandas as pd
import pytest
from test_fairness import simulated

from conftest import save_audit
from fer_audit.fairness import AuditResult
from fer_audit.report.sources import (
    PREDICTIONS,
    REFERENCE,
    SAVED,
    SavedAudit,
    filter_result,
    list_sources,
    open_source,
    saved_audits,
    table_problem,
)


def three_models() -> pd.DataFrame:
    """Architectures a (the largest sad gap), b and c (none), two seeds each."""
    runs = []
    for arch, female_sad in (("a", 0.2), ("b", 0.5), ("c", 0.9)):
        for seed in (1, 2):
            run = simulated(4, female_sad_tpr=female_sad, seed=seed)
            runs.append(run.assign(run_id=f"{arch}-s{seed}", arch=arch, seed=seed))
    return pd.concat(runs).assign(train_set="regular")


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> AuditResult:
    from fer_audit.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("sources") / "workspace")
    return AuditResult.load(save_audit(three_models(), workspace, "three", bootstrap=200))


def ranks(result: AuditResult, definition: str = "eqop_paper") -> dict[str, int]:
    rows = result.rankings[result.rankings["definition"] == definition]
    return dict(zip(rows["arch"], rows["rank"], strict=True))


def test_a_filtered_audit_is_ranked_again_from_1(audited):
    everyone = ranks(audited)
    assert sorted(everyone.values()) == [1, 2, 3]
    best = min(everyone, key=everyone.get)
    rest = [arch for arch in everyone if arch != best]
    kept = filter_result(audited, archs=rest, train_sets=["regular"])
    assert sorted(ranks(kept).values()) == [1, 2]  # never starting at 2
    assert set(kept.gaps["arch"]) == set(rest) and set(kept.summary["arch"]) == set(rest)
    assert [r["arch"] for r in kept.settings["runs"]] == [
        r["arch"] for r in audited.settings["runs"] if r["arch"] in rest
    ]


def test_a_seed_filter_pools_only_the_seeds_kept(audited):
    one_seed = filter_result(audited, archs=["a", "b", "c"], train_sets=["regular"], seeds=["2"])
    assert set(one_seed.summary["n_runs"]) == {1}
    assert set(audited.summary["n_runs"]) == {2}
    gap = one_seed.gaps[(one_seed.gaps["arch"] == "a") & (one_seed.gaps["class"] == "sad")]
    pooled = one_seed.summary[
        (one_seed.summary["arch"] == "a") & (one_seed.summary["class"] == "sad")
    ]
    assert set(gap["seed_runs"]) == {1}  # no seed spread from the seed left out
    assert set(pooled["mean"].round(9)) <= set(gap["value"].round(9))
    assert sorted(ranks(one_seed).values()) == [1, 2, 3]


def test_saved_audits_are_listed_and_their_tables_are_not_offered_again(workspace):
    table = three_models()
    folder = save_audit(table, workspace, "three", bootstrap=200)
    table.head(40).to_parquet(workspace.predictions_dir / "other.parquet")
    sources = list_sources(workspace)
    assert [s.kind for s in sources] == [REFERENCE, SAVED, PREDICTIONS]
    assert sources[1].label.startswith("Saved audit: three (of three.parquet, 20")
    assert sources[2].label == "Predictions not audited yet: other.parquet"
    saved = saved_audits(workspace)[0]
    assert saved.folder == folder and saved.stale() is None
    said = saved.describe()
    assert "the predictions table three.parquet (" in said and "200 bootstrap resamples" in said
    assert "Holm (family-wise error) over each model's gaps" in said
    opened = open_source(sources[1])
    assert opened.settings["n_boot"] == 200  # as saved, not computed again at 2000

    table.head(100).to_parquet(workspace.predictions_dir / "three.parquet")  # changed since
    assert "changed after this audit was made" in saved_audits(workspace)[0].stale()
    labels = [s.label for s in list_sources(workspace)]
    assert "Predictions not audited yet: three.parquet" in labels


def test_a_damaged_saved_audit_is_named_and_the_others_listed(workspace):
    save_audit(three_models(), workspace, "good", bootstrap=200)
    bad = workspace.audit_dir("bad")
    shutil.copytree(workspace.audit_dir("good"), bad)
    (bad / "audit.json").write_text("{not json")
    damaged = []
    sources = list_sources(workspace, damaged=damaged)
    assert [s.label.split(" (")[0] for s in sources if s.kind == SAVED] == ["Saved audit: good"]
    assert len(damaged) == 1 and damaged[0].path == bad / "audit.json"


def test_a_table_that_is_no_table_is_named_before_any_job(workspace):
    workspace.predictions_dir.mkdir(parents=True)
    broken = workspace.predictions_dir / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 100)
    problem = table_problem(broken)
    assert problem is not None and problem.path == broken
    assert "not a readable table" in str(problem)
    save_audit(three_models(), workspace, "fine", bootstrap=200)
    assert table_problem(workspace.predictions_dir / "fine.parquet") is None


def test_a_saved_audit_of_the_published_results_says_so(workspace):
    from fer_audit.fairness.run import run_audit
    from fer_audit.fairness.settings import AuditSettings

    folder = workspace.audit_dir("published-bh")
    run_audit(AuditSettings(bootstrap=200, correction="bh"), reference="domnich2021").save(folder)
    saved = SavedAudit(folder, AuditResult.load(folder).settings)
    assert saved.table is None and saved.stale() is None
    assert "(of published results," in saved.label
    assert "Audit of the published results" in saved.describe()
    assert "Benjamini-Hochberg" in saved.describe()
