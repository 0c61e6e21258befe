"""Runs side by side (issue #15 part 5): the figures (`fer_audit.report.side_by_side`)
and the Audit page's Side by side tab on saved audits of small synthetic tables."""

import dataclasses
from pathlib import Path

import pandas as pd
import plotly.io
import pytest
from streamlit.testing.v1 import AppTest
from test_app import plotted
from test_fairness import simulated
from test_paired import compare, correlated_runs, with_authenticity

from conftest import save_audit, shown, widget
from fer_audit.cli import main
from fer_audit.commands import compare_argv
from fer_audit.fairness import AuditResult
from fer_audit.fairness.reference import reference_audit
from fer_audit.fairness.settings import AuditSettings
from fer_audit.report import side_by_side
from fer_audit.report.sources import COUNTS_ONLY, paired_difference

REPO = Path(__file__).resolve().parent.parent
SETS = (("regular", 0.3), ("male", 0.2), ("female", 0.9))  # (training set, female sad TPR)


def three_sets(**columns) -> pd.DataFrame:
    """Architecture x (seed 1) trained on each set: the same 6 + 6 test subjects and
    videos, the female sad recall of each set."""
    runs = [
        simulated(6, female_sad_tpr=sad, seed=i).assign(
            run_id=f"x-{train_set}", arch="x", train_set=train_set, seed=1, **columns
        )
        for i, (train_set, sad) in enumerate(SETS)
    ]
    return pd.concat(runs, ignore_index=True)


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> AuditResult:
    from fer_audit.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("side") / "workspace")
    return AuditResult.load(save_audit(three_sets(synthetic=True), workspace, "x", bootstrap=300))


def test_the_default_runs_are_one_architectures_training_sets():
    runs = [
        {"run_id": f"{arch}-{train_set}-{seed}", "arch": arch, "train_set": train_set, "seed": seed}
        for arch in ("b", "a")
        for seed in (2.0, 1.0)
        for train_set in ("male", "female", "regular")
    ]
    assert side_by_side.default_runs(runs) == ["a-regular-2.0", "a-female-2.0", "a-male-2.0"]
    labels = side_by_side.run_labels(runs)
    assert labels["a-regular-2.0"] == "a · regular · seed 2"
    lone = [{"run_id": "r1", "arch": "r1", "train_set": "all"}, *runs[:1]]
    assert side_by_side.default_runs(lone) == ["b-male-2.0", "r1"]  # no kin: the first two
    assert side_by_side.run_labels(lone)["r1"] == "r1"  # no architecture: the run id


def test_the_confusion_grid_shows_each_cell_with_its_denominator(audited):
    run_ids = ["x-regular", "x-female", "x-male"]
    figure = side_by_side.confusion_grid(audited, run_ids=run_ids)
    assert len(figure.data) == 6  # a run per row, a group per column
    titles = [a.text for a in figure.layout.annotations]
    assert titles == [f"x · {s} · seed 1 · {g}" for s in ("regular", "female", "male")
                      for g in ("female", "male")]  # fmt: skip
    assert figure.layout.title.text.startswith("SYNTHETIC DATA · ")
    confusion = audited.confusion.set_index(["run_id", "group", "true", "pred"]).sort_index()[
        "count"
    ]
    female_sad = confusion.loc[("x-female", "female", "sad")]
    cell = figure.data[2].text[2][2]  # x-female, female: true sad, predicted sad
    count, total = female_sad["sad"], female_sad.sum()
    assert cell == f"{count / total:.2f} ({count}/{total})"
    with pytest.raises(ValueError, match="choose 2 to 6 different runs"):
        side_by_side.confusion_grid(audited, run_ids=["x-male"])


def test_the_gap_figure_plots_the_audits_gaps_with_intervals(audited):
    figure = side_by_side.gap_comparison(
        audited, run_ids=["x-male", "x-regular"], definition="equal_opportunity"
    )
    gaps = audited.gaps[audited.gaps["definition"] == "equal_opportunity"]
    for trace, run in zip(figure.data, ["x-male", "x-regular"], strict=True):
        rows = gaps[gaps["run_id"] == run].set_index("class").loc[list(trace.x)]
        assert list(plotted(trace.y)) == pytest.approx(list(rows["value"]))
        high = plotted(trace.y) + plotted(trace.error_y.array)
        assert list(high) == pytest.approx(list(rows["ci_high"]))
        assert "adjusted p = " in trace.hovertext[0]
    assert "Recall gap (equal_opportunity, female - male) per emotion" in figure.layout.title.text


def audit_page(workspace, monkeypatch, name: str) -> AppTest:
    """The Audit page on the saved audit `name`, its Side by side tab's widgets there."""
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "audit.py"), default_timeout=120).run()
    sources = widget(app.selectbox, key="audit_source")
    saved = next(o for o in sources.options if o.startswith(f"Saved audit: {name} "))
    return sources.set_value(saved).run()


def figures_titled(app: AppTest, words: str) -> list:
    charts = (plotly.io.from_json(chart.proto.spec) for chart in app.get("plotly_chart"))
    return [figure for figure in charts if words in (figure.layout.title.text or "")]


def test_the_tab_shows_the_chosen_runs_and_their_paired_difference(monkeypatch, workspace):
    folder = save_audit(three_sets(), workspace, "three", bootstrap=300)
    app = audit_page(workspace, monkeypatch, "three")
    assert not app.exception
    chosen = widget(app.multiselect, "Models (2 to 6)")
    assert chosen.value == ["x-regular", "x-female", "x-male"]  # the default: every set
    (grid,) = figures_titled(app, "Confusion matrices per group, 3 models side by side")
    assert len(grid.data) == 6
    (gaps,) = figures_titled(app, "per emotion, 3 models with 95% intervals")
    table = AuditResult.load(folder).gaps
    for trace in gaps.data:
        run = f"x-{trace.name.split(' · ')[1]}"
        rows = table[(table["run_id"] == run) & (table["definition"] == "equal_opportunity")]
        expected = rows.set_index("class").loc[list(trace.x), "value"]
        assert list(plotted(trace.y)) == pytest.approx(list(expected))

    widget(app.selectbox, key="side_pair_class").set_value("sad").run()
    assert not app.exception
    paired = paired_difference(
        AuditResult.load(folder).settings,
        first="x-regular",
        second="x-female",
        definition="equal_opportunity",
        cls="sad",
    )
    (figure,) = figures_titled(app, "two models and their difference")
    difference = figure.data[2]
    assert plotted(difference.x)[0] == pytest.approx(paired.difference, abs=1e-12)
    low = plotted(difference.x) - plotted(difference.error_x.arrayminus)
    assert low[0] == pytest.approx(paired.ci_low, abs=1e-12)
    said = shown(" ".join(m.value for m in app.markdown))
    assert (
        f"{paired.difference:+.2f}, paired 95% interval {paired.ci_low:+.2f} to "
        f"{paired.ci_high:+.2f}; p = {paired.p_value:.3f} for this one comparison, not "
        "adjusted for others), over the same 12 test subjects (6 female, 6 male; positives "
        "per model: female 12 | male 12)"
    ) in said
    caption = " ".join(c.value for c in app.caption)
    assert "for this one comparison, not adjusted for others" in caption
    assert "interval excludes 0 exactly when p < 0.05" in caption
    verdict = "excludes 0" if paired.excludes_zero else "cannot tell the two models' gaps apart"
    assert verdict in said

    widget(app.multiselect, "Models (2 to 6)").set_value(["x-male", "x-female"]).run()
    (grid,) = figures_titled(app, "Confusion matrices per group, 2 models side by side")
    assert len(grid.data) == 4
    assert widget(app.selectbox, key="side_first").value == "x-male"


def test_the_tab_says_plainly_when_no_paired_difference_can_be_made(monkeypatch, workspace):
    reference_audit(n_boot=100, seed=0).save(workspace.audit_dir("paper"))
    save_audit(three_sets(), workspace, "gone", bootstrap=300)
    app = audit_page(workspace, monkeypatch, "paper")
    assert not app.exception
    assert COUNTS_ONLY in [shown(i.value) for i in app.info]
    assert "Published results hold one-vs-rest counts only" in " ".join(
        c.value for c in app.caption
    )
    (workspace.predictions_dir / "gone.parquet").write_bytes(b"not the table any more")
    app = audit_page(workspace, monkeypatch, "gone")
    assert not app.exception
    said = " ".join(shown(i.value) for i in app.info)
    assert "its predictions table gone.parquet changed after this audit was made" in said.lower()


LABELS = {"a": "A", "b": "B"}


@pytest.mark.parametrize(
    ("difference", "words"),
    [(0.004, "the same to two decimals for A as for B"),
     (-0.004, "the same to two decimals for A as for B"),
     (0.0, "the same for A as for B"),
     (0.006, "0.01 higher for A than for B"),
     (-0.012, "0.01 lower for A than for B")],
)  # fmt: skip
def test_higher_or_lower_follows_the_difference_as_shown(difference, words):
    found = dataclasses.replace(compare(correlated_runs()), difference=difference)
    said = side_by_side.paired_sentence(found, labels=LABELS)
    assert f": {words} (difference {difference:+.2f}," in said
    assert "0.00 higher" not in said and "0.00 lower" not in said


def test_the_paired_p_is_labelled_unadjusted_in_words_figure_and_command(capsys, tmp_path):
    table = correlated_runs(changed=0.3)
    found = compare(table)
    unadjusted = "for this one comparison, not adjusted for others"
    said = side_by_side.paired_sentence(found, labels=LABELS)
    assert f"; p = {found.p_value:.3f} {unadjusted})" in said
    difference = side_by_side.paired_figure(found, labels=LABELS).data[2]
    assert f"p = {found.p_value:.3f}, {unadjusted}" in difference.hovertemplate
    assert unadjusted in found.to_dict()["p_adjustment"]
    path = tmp_path / "predictions.parquet"
    table.to_parquet(path)
    argv = compare_argv(
        AuditSettings(bootstrap=500, seed=3), predictions=path, first="a", second="b",
        definition="equal_opportunity", cls="sad",
    )  # fmt: skip
    assert main(["--workspace", str(tmp_path / "ws"), *argv]) == 0
    assert f"p = {found.p_value:.3f} {unadjusted}" in capsys.readouterr().out


def test_p_is_said_on_the_side_of_alpha_its_interval_is():
    found = compare(correlated_runs())
    below = dataclasses.replace(found, p_value=0.04999, ci_low=0.01, ci_high=0.2)
    assert side_by_side.p_words(below) == "p = 0.04999"  # not "0.050" beside "excludes 0"
    assert side_by_side.p_words(dataclasses.replace(below, p_value=0.0)) == "p < 1/500"
    near = dataclasses.replace(below, difference=0.1, ci_low=0.003)
    said = side_by_side.paired_sentence(near, labels=LABELS)
    assert "interval +0.003 to +0.200" in said and "The interval excludes 0" in said


def test_intersectional_groups_count_each_subject_once(capsys, tmp_path):
    table = with_authenticity(correlated_runs())
    found = compare(table, group=["gender", "authenticity"])
    said = side_by_side.paired_sentence(found, labels=LABELS)
    assert (
        "over the same 12 test subjects (resampled as subject-groups, each subject in "
        "several: 6 female & fake, 6 female & genuine, 6 male & fake, 6 male & genuine;"
    ) in said
    figure = side_by_side.paired_figure(found, labels=LABELS)
    assert "paired over the same 12 subjects" in figure.layout.title.text
    assert "12 subjects as subject-groups: 6 female &amp; fake" in figure.data[0].hovertemplate
    path = tmp_path / "predictions.parquet"
    table.to_parquet(path)
    argv = compare_argv(
        AuditSettings(bootstrap=500, seed=3, group="gender,authenticity"), predictions=path,
        first="a", second="b", definition="equal_opportunity", cls="sad",
    )  # fmt: skip
    assert main(["--workspace", str(tmp_path / "ws"), *argv]) == 0
    out = capsys.readouterr().out
    assert "subjects: 12 (resampled as subject-groups: female & fake 6, female & genuine 6," in out
