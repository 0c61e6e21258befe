"""Study: the whole study as one job (preprocess -> trainings -> evaluate -> audit ->
report), queued from a form and followed as one progress."""

import streamlit as st

from app_pages.study_form import study_form
from app_pages.study_view import study_view
from app_pages.ui import job_registry, show_damaged_list
from fer_audit.data.registry import list_datasets
from fer_audit.study.chain import list_studies
from fer_audit.workspace import Workspace

st.title("Study")
workspace = Workspace.from_env()
registry = job_registry(workspace)  # None (and the message) when jobs.sqlite is damaged
st.caption(
    "The paper's whole study on one dataset as one chain of background jobs: preprocess, "
    "train each architecture on each training set with each seed, evaluate them on the "
    "held-out test subjects, audit, report. It runs on when this page or the app closes; "
    "a step that fails stops the chain, and Resume goes on from that step."
)
damaged: list = []
datasets = {meta["name"]: meta for meta in list_datasets(workspace, damaged=damaged)}
show_damaged_list(damaged, key="study-damaged")
any_study = bool(list_studies(workspace, damaged=[]))
with st.expander("Run the study", expanded=not any_study, icon=":material/play_arrow:"):
    if datasets:
        study_form(workspace, registry, datasets)
    else:
        st.info("No dataset registered yet: add or upload one on the Data page first.")
damaged = []
studies = list_studies(workspace, damaged=damaged)  # after the form: with the one it queued
show_damaged_list(damaged, key="study-damaged-records")
if studies and registry is not None:
    st.subheader("Progress")
    study_view(workspace, registry, studies)
elif not studies:
    st.caption("No study yet.")
