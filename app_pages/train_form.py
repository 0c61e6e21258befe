"""The Train page's form: its values remembered in the workspace (a reload, a new
browser session, opens it as last submitted; `fer_audit.train.form` reads and checks
them) and kept in the session across pages; on submit, one training job per
architecture and training set."""

from __future__ import annotations

import streamlit as st

from app_pages.ui import keep, plain_markdown
from fer_audit.commands import train_argv
from fer_audit.data.readiness import Readiness, sentence
from fer_audit.errors import DamagedFile
from fer_audit.jobs import JobRegistry
from fer_audit.labels import TRAIN_SETS
from fer_audit.models import MODELS
from fer_audit.overview import Preprocessed, readiness_of
from fer_audit.seeding import parse_seeds
from fer_audit.train.config import LR_SCHEDULES, TrainConfig
from fer_audit.train.form import (
    DEVICES,
    EPOCHS,
    INPUT_SIZE,
    TrainFormValues,
    read_train_form,
    save_train_form,
)
from fer_audit.video.settings import PreprocessSettings
from fer_audit.workspace import Busy, OutsideDataRootsError, Workspace

#: each remembered value's widget key (those the tests know kept as they were)
KEYS = {
    "dataset": "train_dataset",
    "preprocessing": "train_preprocessing",
    "archs": "train_archs",
    "train_sets": "train_sets",
    "seeds": "seeds",
    "epochs": "epochs",
    "input_size": "input_size",
    "device": "train_device",
    "lr_schedule": "lr_schedule",
    "frozen": "train_frozen",
    "pretrained": "train_pretrained",
    "weights": "weights",
}
SCHEDULE_WORDS = {
    "constant": "constant (the paper's)",
    "cosine": "cosine decay to 0 (steadier last epochs)",
}


def remembered_values(workspace: Workspace) -> None:
    """Keep the form's values across pages, and fill those the session lacks (a new
    session, a reload) from the workspace's remembered form; a note when some of it
    could not be used."""
    keep(*KEYS.values())
    missing = [name for name, key in KEYS.items() if key not in st.session_state]
    if not missing:
        return
    values, note = read_train_form(workspace, archs=list(MODELS))
    for name in missing:
        value = getattr(values, name)
        if value is not None:
            st.session_state[KEYS[name]] = value
    if note:
        st.caption(plain_markdown(note))


def train_form(
    workspace: Workspace,
    registry: JobRegistry | None,
    dataset: str,
    usable: list[Preprocessed],
) -> None:
    """The form; on submit its values are remembered and the jobs queued (or, when
    something is wrong, nothing is queued and the page says why)."""
    reports = {report.key: report for report in usable}
    ready = readiness_list(workspace, dataset, usable)
    with st.form("train"):
        preprocessing = st.selectbox(
            "Preprocessed clips",
            list(reports),
            format_func=lambda key: reports[key].describe(),
            key=KEYS["preprocessing"],
        )
        left, right = st.columns(2)
        values = TrainFormValues(
            dataset=dataset,
            preprocessing=preprocessing,
            archs=left.multiselect("Architectures", list(MODELS), key=KEYS["archs"]),
            train_sets=right.multiselect("Training sets", TRAIN_SETS, key=KEYS["train_sets"]),
            seeds=left.text_input("Seeds (comma-separated)", key=KEYS["seeds"]),
            epochs=right.number_input("Epochs (at most)", *EPOCHS, key=KEYS["epochs"]),
            input_size=left.number_input(
                "Input size (px; 0 = the architecture's own)",
                *INPUT_SIZE,
                step=16,
                key=KEYS["input_size"],
            ),
            device=right.selectbox("Device", DEVICES, key=KEYS["device"]),
            lr_schedule=left.selectbox(
                "Learning-rate schedule",
                LR_SCHEDULES,
                format_func=SCHEDULE_WORDS.get,
                key=KEYS["lr_schedule"],
            ),
            frozen=st.checkbox(
                "Frozen backbone: cache per-frame features, train only the LSTM head "
                "(LSTM architectures)",
                key=KEYS["frozen"],
            ),
            pretrained=st.checkbox(
                "Start from the architecture's pretrained weights (ImageNet, VGGFace, "
                "VGGFace2, Kinetics; the 3D CNN has none)",
                key=KEYS["pretrained"],
            ),
            weights=st.text_input(
                "Weight file (optional; inside the data roots). Without it the torchvision "
                "hub cache is used, and a missing file fails the job naming what to download.",
                key=KEYS["weights"],
            ),
        )
        if st.form_submit_button("Queue training", type="primary"):
            _remember(workspace, values)
            _queue(workspace, registry, values, reports[preprocessing], ready.get(preprocessing))


def readiness_list(
    workspace: Workspace, dataset: str, usable: list[Preprocessed]
) -> dict[str, Readiness]:
    """Above the form, for each preprocessing: the training subjects with a usable clip
    each training set keeps, and what stops training or the audit, with what to
    change. {preprocessing key: readiness} ({} when the dataset cannot be read)."""
    try:
        ready = readiness_of(workspace, dataset, usable)
    except DamagedFile as exc:  # the Data page names it with what to do
        st.error(plain_markdown(exc), icon=":material/broken_image:")
        return {}
    for report in usable:
        state = ready[report.key]
        if len(usable) > 1:
            st.markdown(f"**{plain_markdown(report.describe())}**")
        if state.training_words():
            st.caption(plain_markdown(sentence(state.training_words())))
        for problem in state.problems:
            st.warning(plain_markdown(sentence(problem)), icon=":material/block:")
    return ready


def _remember(workspace: Workspace, values: TrainFormValues) -> None:
    """Save the submitted values for the next session (a busy lock only skips it)."""
    try:
        save_train_form(workspace, values)
    except (Busy, OSError) as exc:
        st.caption(f"The form's values could not be remembered: {plain_markdown(exc)}")


def _queue(
    workspace: Workspace,
    registry: JobRegistry | None,
    values: TrainFormValues,
    report: Preprocessed,
    ready: Readiness | None,
) -> None:
    """One training job per architecture and training set, or none and why (a
    training set or split the preprocessing leaves unready: `ready`)."""
    problems, weights_path, seeds = [], None, []
    try:
        if values.weights.strip():
            weights_path = workspace.resolve_data_path(values.weights.strip())
    except (OutsideDataRootsError, DamagedFile) as exc:
        problems.append(str(exc))
    try:
        seeds = parse_seeds(values.seeds)
    except ValueError as exc:
        problems.append(f"Seeds: {exc}.")
    if not values.archs or not values.train_sets:
        problems.append("Choose at least one architecture and one training set.")
    if ready is not None:
        problems += map(sentence, ready.training_blockers(values.train_sets))
    if registry is None:
        problems.append("The job registry is damaged (see above).")
    if problems:
        st.error("Nothing was queued. " + " ".join(plain_markdown(p) for p in problems))
        return
    preprocess = PreprocessSettings(**report.settings)
    seed_list = ",".join(map(str, seeds))
    for arch in values.archs:
        for train_set in values.train_sets:
            config = TrainConfig(
                dataset=values.dataset,
                arch=arch,
                train_set=train_set,
                epochs=int(values.epochs),
                preprocess=preprocess,
                input_size=int(values.input_size) or None,
                lr_schedule=values.lr_schedule,
                frozen_backbone=values.frozen,
                pretrained=values.pretrained,
                weights_path=str(weights_path) if weights_path else None,
            )
            title = f"train {arch} {train_set} on {values.dataset}, seeds {seed_list}"
            registry.submit(train_argv(config, seeds=seeds, device=values.device), title=title)
    st.success(f"Queued {len(values.archs) * len(values.train_sets)} job(s).")
