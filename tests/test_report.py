import re

import pandas as pd
import plotly.graph_objects as go
import pytest
from test_fairness import simulated

from fer_audit.cli import main
from fer_audit.fairness import audit
from fer_audit.fairness.reference import reference_audit
from fer_audit.report import figures
from fer_audit.report.html import render_report, write_report
from fer_audit.report.summary import certainty, largest_gaps, summary_sentences


@pytest.fixture(scope="module")
def reference():
    return reference_audit(n_boot=200)


@pytest.fixture(scope="module")
def planted():
    frames = []
    for arch in ("a", "b"):
        for train_set in ("regular", "male", "female"):
            frame = simulated(12, female_sad_tpr=0.3, seed=hash((arch, train_set)) % 1000)
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
    assert len(fig.data[0].x) == len(gaps)
    assert any(shape.x0 == 0 and shape.x1 == 0 for shape in fig.layout.shapes)


def test_train_set_and_paper_figures(reference):
    fig = figures.train_set_comparison(reference, definition="dp_paper")
    assert [t.name for t in fig.data] == ["regular", "male", "female"]
    assert len(fig.data[0].x) == 6
    boxes = figures.accuracy_boxplots(reference, train_set="female")
    assert [t.name for t in boxes.data] == ["female set", "male set", "test set"]
    assert len(boxes.data[0].y) == 6 * 4  # six architectures x four emotions
    bars = figures.emotion_gender_comparison(reference, train_set="male")
    assert [t.name for t in bars.data] == ["female", "male"]


def test_summary_names_emotion_direction_and_certainty(planted):
    top = largest_gaps(planted, limit=3)
    assert set(top["class"]) == {"sad"}
    lines = summary_sentences(planted, limit=3)
    assert lines[0].startswith("SYNTHETIC DATA")
    assert "sad: the true positive rate (recall) is" in lines[2]
    assert "lower for female than for male subjects" in lines[2]
    assert "n: female 24 | male 24" in lines[2]
    assert re.search(r"(strong evidence|evidence) of a real gap", lines[2])


def test_html_report_is_self_contained(tmp_path, planted):
    path = write_report(planted, tmp_path / "report.html")
    text = path.read_text()
    assert "SYNTHETIC DATA: every number below" in text
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
    }
    assert bundle.read("README.txt").decode().splitlines()[1].startswith("SYNTHETIC")
    assert "SYNTHETIC DATA" in bundle.read("report.html").decode()
    for name in ("confusion", "group_metrics", "gaps", "rankings", "summary"):
        table = pd.read_csv(bundle.open(f"{name}.csv"))
        assert table["synthetic"].all() and len(table) == len(getattr(planted, name))
    real = pd.read_csv(io.StringIO(reference.table_csv("gaps")))
    assert "synthetic" not in real.columns


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
