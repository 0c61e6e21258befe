import re

import pandas as pd
import plotly.graph_objects as go
import pytest
from test_fairness import simulated

from fer_audit.cli import main
from fer_audit.data.index import SYNTHETIC_NOTE
from fer_audit.fairness import audit
from fer_audit.fairness.reference import reference_audit
from fer_audit.report import comparison_figures, figures
from fer_audit.report.html import render_report, write_report
from fer_audit.report.summary import (
    certainty,
    largest_gaps,
    summary_sentences,
    synthetic_summary,
)


@pytest.fixture(scope="module")
def reference():
    return reference_audit(n_boot=200)


@pytest.fixture(scope="module")
def planted():
    frames = []
    for i, arch in enumerate(("a", "b")):
        for j, train_set in enumerate(("regular", "male", "female")):
            # fixed seeds: hash() of text changes from one process to the next
            frame = simulated(12, female_sad_tpr=0.3, seed=10 * i + j)
            frames.append(
                frame.assign(
                    run_id=f"{arch}/{train_set}",
                    arch=arch,
                    train_set=train_set,
                    seed=1,
                    synthetic=True,
                )
            )
    table = pd.concat(frames, ignore_index=True)
    return audit(table, n_boot=2000, source={"kind": "predictions", "synthetic": True})


def test_confusion_matrices_side_by_side(planted):
    fig = figures.confusion_matrices(planted, run_id="a/regular")
    heatmaps = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heatmaps) == 3  # female, male, all
    assert [a.text for a in fig.layout.annotations] == ["female", "male", "all"]
    assert fig.layout.title.text.startswith("SYNTHETIC DATA")


def test_count_only_source_has_no_confusion_matrix(reference):
    with pytest.raises(ValueError, match="count-only sources have none"):
        figures.confusion_matrices(reference, run_id="regular/vgg16")


def test_metric_bars_carry_intervals_and_denominators(reference):
    fig = figures.metric_bars(reference, run_id="regular/vgg16", metric="tpr")
    assert [t.name for t in fig.data] == ["female", "male"]
    female = fig.data[0]
    gm = reference.group_metrics
    row = gm[
        (gm["run_id"] == "regular/vgg16")
        & (gm["group"] == "female")
        & (gm["metric"] == "tpr")
        & (gm["class"] == "sad")
    ].iloc[0]
    sad = list(female.x).index("sad")
    assert female.y[sad] == pytest.approx(row["value"])
    assert female.error_y.array[sad] == pytest.approx(row["ci_high"] - row["value"])
    assert female.text[sad] == "n=10"


def test_gap_forest_marks_zero_and_every_gap(reference):
    fig = figures.gap_forest(reference, run_id="male/resnet3d")
    gaps = reference.gaps[reference.gaps["run_id"] == "male/resnet3d"]
    points = [t for t in fig.data if t.legendgroup == "gap"]  # signed and absolute axes
    assert sum(len(t.x) for t in points) == len(gaps)
    assert any(shape.x0 == 0 and shape.x1 == 0 for shape in fig.layout.shapes)


def test_train_set_and_paper_figures(reference):
    fig = comparison_figures.train_set_comparison(reference, definition="dp_paper")
    assert [t.name for t in fig.data] == ["regular", "female", "male"]  # labels.TRAIN_SETS
    assert len(fig.data[0].x) == 6
    boxes = comparison_figures.accuracy_boxplots(reference, train_set="female")
    assert [t.name for t in boxes.data] == ["female set", "male set", "test set"]
    assert len(boxes.data[0].y) == 6 * 4  # six architectures x four emotions
    bars = comparison_figures.emotion_gender_comparison(reference, train_set="male")
    assert [t.name for t in bars.data] == ["female", "male"]


def test_summary_names_emotion_direction_and_certainty(planted):
    top = largest_gaps(planted, limit=3)
    assert set(top["class"]) == {"sad"}
    assert synthetic_summary(planted, limit=3)[0] == SYNTHETIC_NOTE + "."
    lines = summary_sentences(planted, limit=3)  # the page or report shows the note itself
    assert not any("SYNTHETIC" in line for line in lines)
    assert "sad: the true positive rate (recall) is" in lines[1]
    assert "lower for female than for male subjects" in lines[1]
    assert "positives: female 24 | male 24" in lines[1]
    assert re.search(r"(strong evidence|evidence) of a real gap", lines[1])


def test_html_report_is_self_contained(tmp_path, planted):
    path = write_report(planted, tmp_path / "report.html")
    text = path.read_text()
    assert f"{SYNTHETIC_NOTE}." in text
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js inline, works offline
    assert text.count("Plotly.newPlot") >= 10
    assert planted.settings["code_version"] in text
    assert "a/regular" in text and "Rankings" in text


def test_reference_report_lists_the_inconsistent_cell(reference):
    text = render_report(reference)
    assert "Domnich" in text and "0.8375" in text and "0.9125" in text
    assert "SYNTHETIC" not in text


def test_cli_audit_and_report(tmp_path, capsys, planted):
    table = tmp_path / "predictions.parquet"
    frames = [
        simulated(8, female_sad_tpr=0.3, seed=s).assign(
            run_id=f"r{s}", arch="x", train_set="regular", seed=s
        )
        for s in (1, 2)
    ]
    pd.concat(frames).to_parquet(table)
    out = tmp_path / "audit"
    assert main(["audit", str(table), "--out", str(out), "--bootstrap", "200"]) == 0
    for name in ("confusion", "group_metrics", "gaps", "rankings", "summary"):
        assert (out / f"{name}.csv").exists()
    assert (out / "audit.json").exists()
    assert "largest per-emotion gaps (female - male)" in capsys.readouterr().out
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1_000_000
    summary = pd.read_csv(out / "summary.csv")
    assert summary[summary["definition"] == "eqop_paper"]["n_runs"].tolist() == [2]


def test_cli_audit_errors(tmp_path, capsys):
    assert main(["audit", "--out", str(tmp_path / "a")]) == 2
    assert "either a predictions table or --reference" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("run_id,subject\nr,s\n")
    assert main(["audit", str(bad), "--out", str(tmp_path / "a")]) == 2
    assert "lacks column(s)" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    assert "holds no audit" in capsys.readouterr().err


def test_exports_of_a_synthetic_audit_say_so_in_every_file(planted, reference):
    import io
    import zipfile

    from fer_audit.report.export import export_name, export_zip

    assert export_name(planted, "gaps", "csv") == "SYNTHETIC-gaps.csv"
    assert export_name(reference, "gaps", "csv") == "gaps.csv"
    bundle = zipfile.ZipFile(io.BytesIO(export_zip(planted)))
    assert set(bundle.namelist()) == {
        "README.txt",
        "report.html",
        "audit.json",
        "confusion.csv",
        "group_metrics.csv",
        "gaps.csv",
        "rankings.csv",
        "summary.csv",
        "variation.csv",
    }
    assert bundle.read("README.txt").decode().splitlines()[1].startswith("SYNTHETIC")
    assert "SYNTHETIC DATA" in bundle.read("report.html").decode()
    for name in ("confusion", "group_metrics", "gaps", "rankings", "summary"):
        table = pd.read_csv(bundle.open(f"{name}.csv"))
        assert table["synthetic"].all() and len(table) == len(getattr(planted, name))
    real = pd.read_csv(io.StringIO(reference.table_csv("gaps")))
    assert "synthetic" not in real.columns
    # a report the page already rendered goes into the zip as it is, not rendered twice
    given = zipfile.ZipFile(io.BytesIO(export_zip(planted, report_html="<p>rendered</p>")))
    assert given.read("report.html").decode() == "<p>rendered</p>"


def _gap(low, high, raw, adjusted, **extra):
    row = dict(
        ci_low=low,
        ci_high=high,
        p_value=raw,
        p_adjusted=adjusted,
        comparison="female - male",
        p_method="subject permutation",
        n_tests=24,
    )
    return pd.Series({**row, **extra})  # fmt: skip


@pytest.mark.parametrize(
    "row, words",
    [
        (_gap(-0.6, -0.2, 0.001, 0.004), "strong evidence of a real gap"),
        (_gap(-0.6, -0.2, 0.01, 0.03), "evidence of a real gap"),
        (_gap(-0.6, 0.0, 0.001, 0.03), "its interval reaches zero: borderline evidence"),
        (_gap(-0.6, 0.1, 0.01, 0.2), "p = 0.010 on its own, but not after correcting for the 24"),
        (_gap(-0.6, -0.1, 0.24, 1.0), "the interval excludes zero but the permutation test does"),
        (_gap(-0.3, 0.2, 0.5, 1.0), "not distinguishable from no gap at this sample size"),
    ],
    ids=["strong", "evidence", "p-but-interval", "not-after-correction", "interval-only", "none"],
)
def test_summary_words_follow_the_interval_and_both_p_values(row, words):
    said = certainty(row)
    assert words in said
    if "excludes zero" in words:  # the old words contradicted a large uncorrected p
        assert "not after correcting" not in said


def test_summary_mentions_the_few_subjects_flag():
    row = _gap(-0.6, -0.2, 0.001, 0.004, few_subjects=True, subjects="female 1 | male 4")
    assert "fewer than 5 subjects in a group: female 1 | male 4" in certainty(row)
    assert "fewer than" not in certainty(_gap(-0.6, -0.2, 0.001, 0.004, few_subjects=False))


# ---------------------------------------------------------------- plain words (#12, item 10)


@pytest.fixture(scope="module")
def small():
    """A real audit of one small generated predictions table (6 + 6 subjects, sad
    recognised less often for women)."""
    return audit(simulated(6, female_sad_tpr=0.3, seed=3), n_boot=200, seed=0)


def _with_gaps(result, gaps):
    import dataclasses

    return dataclasses.replace(result, gaps=gaps)


def _with_mdg(result, values):
    return _with_gaps(result, result.gaps.assign(mdg=values))


def _without_mdg(result):
    """The audit as one saved before the minimum detectable gap existed."""
    return _with_gaps(result, result.gaps.drop(columns=["mdg"], errors="ignore"))


def _gap_traces(fig):
    return [t for t in fig.data if t.legendgroup == "gap"]


def _hover(trace) -> dict:
    """{row label: hover text} of a forest trace."""
    return dict(zip(trace.y, trace.hovertext, strict=True))


def test_glossary_has_plain_words_for_every_code_name():
    from fer_audit.fairness.gaps import DEFINITIONS
    from fer_audit.report import glossary

    codes = [row[0] for row in glossary.glossary_rows()]
    for code in (*DEFINITIONS, "worst", "mean", "overall", "all"):
        assert code in codes
        assert glossary.plain_name(code) != code and glossary.meaning(code)
    for term in ("mdg", "p_adjusted", "few_subjects"):
        assert term in codes
    assert "ci_low, ci_high" in codes and glossary.plain_name("ci_low, ci_high") == "95% interval"
    assert glossary.plain_name("equal_opportunity") == "Recall gap"
    assert "true positive rate" in glossary.meaning("equal_opportunity")
    assert "female − male" in glossary.meaning("equal_opportunity")
    assert "female - male" in glossary.meaning("equal_opportunity", "female - male")
    dp = glossary.meaning("dp_paper")
    assert "accuracy parity" in dp and "NOT selection-rate" in dp
    assert "selection rate" in glossary.meaning("demographic_parity")
    assert "80% power" in glossary.meaning("mdg") and "α = 0.05" in glossary.meaning("mdg")
    assert glossary.plain_name("sad") == "sad"  # a class label stays itself
    words = {m: glossary.rate_n_words(m) for m in ("tpr", "fpr", "accuracy", "selection_rate")}
    assert words == {
        "tpr": "positives",
        "fpr": "negatives",
        "accuracy": "videos",
        "selection_rate": "videos",
    }


def test_glossary_absolute_gaps_are_the_ones_that_cannot_be_negative(small):
    from fer_audit.report import glossary

    gaps = small.gaps.dropna(subset=["value"])
    absolute = pd.Series(
        [glossary.is_absolute(d, c) for d, c in gaps[["definition", "class"]].to_numpy()],
        index=gaps.index,
    )
    assert (gaps.loc[absolute, "value"] >= 0).all()
    assert (gaps.loc[~absolute, "value"] < 0).any()  # the planted gap keeps its sign
    assert set(gaps.loc[absolute, "definition"]) >= {"eqod_paper", "dp_paper", "equalized_odds"}
    assert set(gaps.loc[absolute, "class"]) >= {"worst", "mean"}
    assert glossary.is_absolute("equal_opportunity", "sad", "max - min over 3 groups")


def test_gap_forest_puts_absolute_gaps_on_an_axis_of_their_own(small):
    fig = figures.gap_forest(small, run_id="sim")
    signed, absolute = _gap_traces(fig)
    assert (signed.xaxis, signed.yaxis) == ("x", "y")
    assert (absolute.xaxis, absolute.yaxis) == ("x2", "y2")
    assert fig.layout.xaxis.title.text == "gap (female - male)"
    assert fig.layout.xaxis2.title.text == "size of gap (absolute, ≥ 0)"
    assert len(signed.y) + len(absolute.y) == len(small.gaps)
    assert "Recall gap · equal_opportunity · sad" in signed.y
    assert "Recall gap · equal_opportunity · worst" in absolute.y
    assert "Paper's DP (accuracy parity) · dp_paper · all" in absolute.y
    assert "Paper's EQOP (mean recall gap) · eqop_paper · all" in signed.y
    assert not any(label.split(" · ")[1] == "equalized_odds" for label in signed.y)
    assert not any(label.endswith((" · worst", " · mean")) for label in signed.y)
    zero_lines = [s for s in fig.layout.shapes if s.x0 == 0 and s.x1 == 0]
    assert [s.xref for s in zero_lines] == ["x"]  # the zero line is on the signed axis only

    hover = _hover(signed)["Recall gap · equal_opportunity · sad"]
    gm = small.group_metrics
    positives = gm[(gm["metric"] == "tpr") & (gm["class"] == "sad") & (gm["group"] != "all")]
    counts = " | ".join(f"{g} {n}" for g, n in positives[["group", "n"]].to_numpy())
    assert f"n positives: {counts}" in hover
    assert "95% interval [" in hover and "adjusted p = " in hover
    odds = _hover(absolute)["Recall or false alarm gap (larger) · equalized_odds · sad"]
    assert "n positives: female " in odds and "n negatives: female " in odds
    worst = _hover(absolute)["Recall gap · equal_opportunity · worst"]
    assert f"n videos: {small.gaps['n'].iloc[0]}" in worst  # "female 48 | male 48"
    assert "largest absolute per-class gap" in worst  # what `worst` means


def test_gap_forest_draws_the_minimum_detectable_gap_when_the_audit_has_one(small):
    run = small.gaps
    mdg = pd.Series(0.42, index=run.index)
    sad = (run["definition"] == "equal_opportunity") & (run["class"] == "sad")
    mdg[sad] = float("nan")  # not computed for this one
    fig = figures.gap_forest(_with_mdg(small, mdg), run_id="sim")
    marks = [t for t in fig.data if t.name == figures.MDG_NAME]
    assert [t.xaxis for t in marks] == ["x", "x2"]
    assert [t.showlegend for t in marks] == [True, False]  # one legend entry
    signed, absolute = _gap_traces(fig)
    assert sorted(set(marks[0].x)) == [-0.42, 0.42]
    assert len(marks[0].x) == 2 * (len(signed.y) - 1)  # ± for every row but the NaN one
    assert "Recall gap · equal_opportunity · sad" not in marks[0].y
    assert set(marks[1].x) == {0.42} and len(marks[1].x) == len(absolute.y)
    hover = _hover(signed)
    assert "could detect gaps ≥ 0.42" in hover["Accuracy gap · accuracy · overall"]
    assert "no gap up to 1.00 detectable" in hover["Recall gap · equal_opportunity · sad"]

    fig = figures.gap_forest(_without_mdg(small), run_id="sim")
    assert not [t for t in fig.data if t.name == figures.MDG_NAME]
    assert len(_gap_traces(fig)) == 2
    assert not any("detect" in h for t in _gap_traces(fig) for h in t.hovertext)


def test_rate_figures_name_what_their_n_counts(small):
    for metric, words in (("tpr", "positives"), ("fpr", "negatives"), ("accuracy", "videos")):
        fig = figures.metric_bars(small, run_id="sim", metric=metric)
        assert f"%{{customdata[0]}} {words}" in fig.data[0].hovertemplate
        assert fig.layout.title.text.endswith(f"(n = {words})")


def test_report_has_a_glossary_and_plain_names(small):
    mdg = pd.Series(0.4242, index=small.gaps.index)
    text = render_report(_with_mdg(small, mdg))
    assert "<h2>Glossary</h2>" in text
    glossary_part = text.split("<h2>Glossary</h2>", 1)[1].split("<h2>", 1)[0]
    for code in ("eqop_paper", "dp_paper", "equal_opportunity", "worst", "mdg", "few_subjects"):
        assert f"<td>{code}</td>" in glossary_part
    assert "accuracy parity" in glossary_part and "Recall gap" in glossary_part
    assert "female - male" in glossary_part  # the audit's own comparison
    gaps_part = text.split("<summary>gaps</summary>", 1)[1].split("</details>", 1)[0]
    assert "<th>plain name</th>" in gaps_part and "<td>Recall gap</td>" in gaps_part
    assert "<th>min. detectable gap (80% power)</th>" in gaps_part and "0.424" in gaps_part
    assert "<th>n (videos)</th>" in gaps_part
    metrics_part = text.split("<summary>group_metrics</summary>", 1)[1].split("</details>", 1)[0]
    assert "<th>n counts</th>" in metrics_part and "<td>negatives</td>" in metrics_part
    older = render_report(_without_mdg(small))
    assert "min. detectable gap" not in older.split("<summary>gaps</summary>", 1)[1]
