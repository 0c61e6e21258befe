"""The Study page's form: the whole study (preprocess -> trainings -> evaluate -> audit ->
report) queued as one chain of jobs (`fer_audit.study.chain.start_study`)."""

from __future__ import annotations

import streamlit as st

from app_pages.ui import plain_markdown
from fer_audit.data.splits import load_split
from fer_audit.errors import DamagedFile
from fer_audit.fairness.settings import MAX_RESAMPLES
from fer_audit.jobs import JobRegistry
from fer_audit.labels import TRAIN_SETS
from fer_audit.models import MODELS
from fer_audit.overview import preprocessing_reports
from fer_audit.study.chain import StudyIncomplete, start_study
from fer_audit.study.settings import DEVICES, Study, StudySettings, default_study_name
from fer_audit.train.config import LR_SCHEDULES
from fer_audit.video.settings import DETECTORS, KS, MARGINS, PreprocessSettings
from fer_audit.workspace import Busy, Workspace

OPEN = "study_open"  # the study the page shows, by name
_SCHEDULES = {"constant": "constant (the paper's)", "cosine": "cosine decay to 0"}


def study_form(workspace: Workspace, registry: JobRegistry | None, datasets: dict) -> None:
    """The "Run the study" form for one of `datasets` (name -> registration)."""
    dataset = st.selectbox("Dataset", list(datasets), key="study_dataset")
    synthetic = bool(datasets[dataset].get("synthetic"))
    if synthetic:
        st.warning(
            "SYNTHETIC dataset: the study's runs, predictions, audit and report are "
            "labelled synthetic everywhere.",
            icon=":material/science:",
        )
    split = load_split(workspace.dataset_dir(dataset))
    pre = _preprocessing_defaults(workspace, dataset, synthetic=synthetic)
    with st.form("study"):
        st.markdown("**Preprocessing** (clips already cut with these settings are reused)")
        left, middle, right, last = st.columns(4)
        k = left.selectbox("Keyframes K", KS, index=KS.index(pre.k))
        size = middle.number_input("Crop size (px)", 16, 1024, pre.size, step=16)
        detector = right.selectbox(
            "Face detector",
            DETECTORS,
            index=DETECTORS.index(pre.detector),
            help="none: the whole frame is the face (synthetic data)",
        )
        margin = last.selectbox("MTCNN margin (px)", MARGINS, index=MARGINS.index(pre.margin))
        st.markdown("**Training**: one run per architecture × training set × seed")
        left, right = st.columns(2)
        archs = left.multiselect("Architectures", list(MODELS), default=["3dcnn"])
        groups = list(split.groups) if split else list(TRAIN_SETS[1:])
        train_sets = right.multiselect(
            "Training sets", ["regular", *groups], default=["regular", *groups]
        )
        seeds = left.text_input("Seeds (comma-separated)", "1")
        epochs = right.number_input("Epochs (at most)", 1, 500, 30)
        input_size = left.number_input(
            "Input size (px; 0 = the architecture's own)", 0, 448, 0, step=16
        )
        schedule = right.selectbox(
            "Learning-rate schedule", LR_SCHEDULES, format_func=_SCHEDULES.get
        )
        st.markdown("**Test subjects and audit**")
        left, right = st.columns(2)
        if split is None:
            test_per_group = left.number_input(
                "Held-out test subjects per gender (no test split yet: the study draws one)",
                1,
                1000,
                5,
            )
        else:
            test_per_group = split.per_group
            left.caption(
                plain_markdown(
                    f"Test split kept: {split.per_group} subjects per group ("
                    + "; ".join(f"{g}: {', '.join(split.test_subjects[g])}" for g in split.groups)
                    + ")"
                )
            )
        bootstrap = right.number_input("Bootstrap resamples", 100, MAX_RESAMPLES, 2000, step=100)
        name = left.text_input("Study name (its predictions table and audit folder)", "")
        device = right.selectbox("Device", DEVICES)
        if not st.form_submit_button("Start the study", type="primary"):
            return
    settings = StudySettings(
        name=name.strip() or None,
        archs=",".join(archs),
        train_sets=",".join(train_sets),
        seeds=seeds,
        test_per_group=int(test_per_group),
        device=device,
    )
    preprocess = PreprocessSettings(k=k, margin=margin, size=int(size), detector=detector)
    train = {
        "dataset": dataset,
        "epochs": int(epochs),
        "input_size": int(input_size) or None,
        "lr_schedule": schedule,
    }
    _start(workspace, registry, settings, train=train, preprocess=preprocess, bootstrap=bootstrap)


def _preprocessing_defaults(
    workspace: Workspace, dataset: str, *, synthetic: bool
) -> PreprocessSettings:
    """The dataset's newest preprocessing, else the paper's (no detector on synthetic)."""
    try:
        usable = [r for r in preprocessing_reports(workspace, dataset) if r.settings]
    except DamagedFile:
        usable = []
    if usable:
        return PreprocessSettings(**usable[0].settings)
    return PreprocessSettings(detector="none", margin=0) if synthetic else PreprocessSettings()


def _start(workspace, registry, settings, *, train, preprocess, bootstrap) -> None:
    if registry is None:
        st.error("Nothing was queued: the job registry is damaged (see above).")
        return
    try:
        study = Study.of(
            settings.name or default_study_name(train["dataset"]),
            settings,
            train=train,
            preprocess=preprocess,
            audit={"bootstrap": int(bootstrap)},
        )
        record = start_study(workspace, registry, study)
    except StudyIncomplete as exc:
        st.session_state[OPEN] = study.name
        st.warning(plain_markdown(exc))
        return
    except (ValueError, Busy, DamagedFile) as exc:
        st.error(f"Nothing was queued. {plain_markdown(exc)}")
        return
    st.session_state[OPEN] = study.name
    st.success(
        f"Queued the study {plain_markdown(study.name)}: {len(record['steps'])} steps, "
        "one job each, run one after another. Its progress is below."
    )
