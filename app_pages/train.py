"""Train: queue training and evaluation jobs; follow them live."""

import streamlit as st

from app_pages.evaluate_form import evaluate_section
from app_pages.ui import (
    job_list,
    job_registry,
    page_guard,
    plain_markdown,
    run_curves,
    show_damaged_list,
)
from fer_audit.commands import train_argv
from fer_audit.data.registry import list_datasets
from fer_audit.errors import DamagedFile
from fer_audit.labels import TRAIN_SETS
from fer_audit.models import MODELS
from fer_audit.overview import preprocessing_reports
from fer_audit.seeding import parse_seeds
from fer_audit.train.config import LR_SCHEDULES, TrainConfig
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import OutsideDataRootsError, Workspace

st.title("Train")
workspace = Workspace.from_env()
registry = job_registry(workspace)  # None (and the message) when jobs.sqlite is damaged
st.caption(
    "Each job is a separate process (`fer-audit ...`, one at a time): it keeps running "
    "when this page or the app closes, and a rerun of a stopped job resumes it."
)

damaged = []
datasets = {meta["name"]: meta for meta in list_datasets(workspace, damaged=damaged)}
show_damaged_list(damaged, key="train-damaged")  # each named; the others are listed
if not datasets:
    st.info(
        f"No {'other ' if damaged else ''}dataset registered yet: register and preprocess "
        "one on the Data page."
    )
else:
    dataset = st.selectbox("Dataset", list(datasets))
    if datasets[dataset].get("synthetic"):
        st.warning(
            "SYNTHETIC dataset: runs trained on it are labelled synthetic everywhere.",
            icon=":material/science:",
        )
    damaged_reports = []
    reports = preprocessing_reports(workspace, dataset, damaged=damaged_reports)
    usable = [r for r in reports if r.settings]  # a report without its settings: unknown
    show_damaged_list(damaged_reports, key="train-reports")
    if not usable:
        st.info(f"{dataset} is not preprocessed yet: preprocess it on the Data page first.")
    else:
        with st.form("train"):
            preprocessing = usable[
                st.selectbox(
                    "Preprocessed clips",
                    range(len(usable)),
                    format_func=lambda i: usable[i].describe(),
                )
            ]
            left, right = st.columns(2)
            archs = left.multiselect("Architectures", list(MODELS), default=["3dcnn"])
            train_sets = right.multiselect("Training sets", TRAIN_SETS, default=["regular"])
            seeds = left.text_input("Seeds (comma-separated)", "1", key="seeds")
            epochs = right.number_input("Epochs (at most)", 1, 500, 30, key="epochs")
            input_size = left.number_input(
                "Input size (px; 0 = the architecture's own)", 0, 448, 0, step=16, key="input_size"
            )
            device = right.selectbox("Device", ["auto", "cpu", "cuda"])
            schedule = left.selectbox(
                "Learning-rate schedule",
                LR_SCHEDULES,
                format_func=lambda s: {
                    "constant": "constant (the paper's)",
                    "cosine": "cosine decay to 0 (steadier last epochs)",
                }[s],
                key="lr_schedule",
            )
            frozen = st.checkbox(
                "Frozen backbone: cache per-frame features, train only the LSTM head "
                "(LSTM architectures)"
            )
            pretrained = st.checkbox(
                "Start from the architecture's pretrained weights (ImageNet, VGGFace, "
                "VGGFace2, Kinetics; the 3D CNN has none)"
            )
            weights = st.text_input(
                "Weight file (optional; inside the data roots). Without it the torchvision "
                "hub cache is used, and a missing file fails the job naming what to download.",
                key="weights",
            )
            if st.form_submit_button("Queue training", type="primary"):
                problems, weights_path, chosen_seeds = [], None, []
                try:
                    if weights.strip():
                        weights_path = workspace.resolve_data_path(weights.strip())
                except (OutsideDataRootsError, DamagedFile) as exc:
                    problems.append(str(exc))
                try:
                    chosen_seeds = parse_seeds(seeds)
                except ValueError as exc:
                    problems.append(f"Seeds: {exc}.")
                if not archs or not train_sets:
                    problems.append("Choose at least one architecture and one training set.")
                if registry is None:
                    problems.append("The job registry is damaged (see above).")
                if problems:
                    st.error(
                        "Nothing was queued. "
                        + " ".join(plain_markdown(problem) for problem in problems)
                    )
                else:
                    preprocess = PreprocessSettings(**preprocessing.settings)
                    for arch in archs:
                        for train_set in train_sets:
                            config = TrainConfig(
                                dataset=dataset,
                                arch=arch,
                                train_set=train_set,
                                epochs=int(epochs),
                                preprocess=preprocess,
                                input_size=int(input_size) or None,
                                lr_schedule=schedule,
                                frozen_backbone=frozen,
                                pretrained=pretrained,
                                weights_path=str(weights_path) if weights_path else None,
                            )
                            argv = train_argv(config, seeds=chosen_seeds, device=device)
                            title = (
                                f"train {arch} {train_set} on {dataset}, "
                                f"seeds {','.join(map(str, chosen_seeds))}"
                            )
                            registry.submit(argv, title=title)
                    st.success(f"Queued {len(archs) * len(train_sets)} job(s).")

    with st.expander("Evaluate finished runs (predictions for the Audit page)"):
        evaluate_section(workspace, registry, dataset)

st.subheader("Jobs")


def curves(job):
    for run_id in job.runs[-3:]:
        run_curves(workspace, run_id, key=f"curve-{job.id}-{run_id}")


@st.fragment(run_every=3)
@page_guard()
def jobs_panel():
    if registry is None:
        st.caption("No job list: the job registry is damaged (see above).")
        return
    job_list(registry, registry.refresh()[:20], details=curves)


jobs_panel()
