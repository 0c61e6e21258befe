"""Train: queue training and evaluation jobs; follow them live; delete runs and
finished jobs."""

import streamlit as st

from app_pages.evaluate_form import evaluate_section
from app_pages.train_form import KEYS, remembered_values, train_form
from app_pages.train_runs import delete_run_section, job_runs
from app_pages.ui import job_list, job_registry, page_guard, show_damaged_list
from app_pages.ui_jobs import delete_jobs_form
from fer_audit.data.registry import list_datasets
from fer_audit.job_deletion import finished_job_ids
from fer_audit.overview import preprocessing_reports
from fer_audit.workspace import Workspace

st.title("Train")
workspace = Workspace.from_env()
registry = job_registry(workspace)  # None (and the message) when jobs.sqlite is damaged
st.caption(
    "Each job is a separate process (`fer-audit ...`, one at a time): it keeps running "
    "when this page or the app closes, and a rerun of a stopped job resumes it."
)
remembered_values(workspace)

damaged = []
datasets = {meta["name"]: meta for meta in list_datasets(workspace, damaged=damaged)}
show_damaged_list(damaged, key="train-damaged")  # each named; the others are listed
if not datasets:
    st.info(
        f"No {'other ' if damaged else ''}dataset registered yet: register and preprocess "
        "one on the Data page."
    )
else:
    dataset = st.selectbox("Dataset", list(datasets), key=KEYS["dataset"])
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
        train_form(workspace, registry, dataset, usable)

    with st.expander("Evaluate finished runs (predictions for the Audit page)"):
        evaluate_section(workspace, registry, dataset)

with st.expander("Delete a run", icon=":material/delete:"):
    delete_run_section(workspace)

st.subheader("Jobs")


@st.fragment(run_every=3)
@page_guard()
def jobs_panel():
    if registry is None:
        st.caption("No job list: the job registry is damaged (see above).")
        return
    job_list(
        registry,
        registry.refresh(),
        details=lambda job: job_runs(workspace, job),
        key="train-jobs",
        deletable=True,
    )
    finished = finished_job_ids(registry)
    if finished:
        delete_jobs_form(registry, finished, key="delete-finished-jobs")


jobs_panel()
