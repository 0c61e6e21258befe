"""Data: register or upload datasets, see what they hold, preprocess them in the
background, delete them."""

import dataclasses
import io

import pandas as pd
import streamlit as st

from app_pages.data_roots import data_root_done, data_roots_panel
from app_pages.data_uploads import (
    delete_form,
    show_done,
    show_problems,
    stored_note,
    upload_form,
)
from app_pages.ui import (
    job_list,
    job_registry,
    page_guard,
    plain_markdown,
    show_damaged,
    show_damaged_list,
    synthetic_banner,
)
from fer_audit.commands import preprocess_argv
from fer_audit.data.index import DatasetError
from fer_audit.data.readiness import sentence
from fer_audit.data.registry import (
    KINDS,
    draw_dataset_split,
    list_datasets,
    load_dataset,
    register_dataset,
)
from fer_audit.data.sasefe import subject_folders
from fer_audit.data.splits import load_split
from fer_audit.errors import DamagedFile
from fer_audit.overview import (
    dataset_readiness,
    dataset_summary,
    length_note,
    suggested_preprocessing,
)
from fer_audit.video.lengths import ClipLengths, clip_lengths
from fer_audit.video.outcome import shortfall, too_short_hint
from fer_audit.video.preview import crop_strips
from fer_audit.video.settings import DETECTORS, KS, MARGINS, PreprocessSettings
from fer_audit.workspace import Busy, OutsideDataRootsError, Workspace


@st.cache_data(show_spinner="Reading the clips' lengths...", max_entries=16)
def cached_lengths(name: str, fingerprint: str) -> ClipLengths | None:
    """A sample of the dataset's clip lengths (once per registration: its fingerprint)."""
    dataset = load_dataset(Workspace.from_env(), name)
    return clip_lengths([dataset.video_path(path) for path in dataset.index["path"]])


@st.cache_data(show_spinner="Reading the face crops...", max_entries=8)
def cached_strips(name: str, fingerprint: str, settings: dict, usable: frozenset) -> list:
    """`crop_strips` once per dataset registration, preprocessing and outcome."""
    dataset = load_dataset(Workspace.from_env(), name)
    return crop_strips(Workspace.from_env(), dataset, PreprocessSettings(**settings), usable)


def crop_preview(meta: dict, report) -> None:
    """The cached crops of a few usable videos per subject, one strip per video."""
    if not report.settings:
        st.caption("Unknown settings: no preview.")
        return
    strips = cached_strips(
        meta["name"], meta.get("fingerprint", ""), report.settings, report.usable
    )
    if not strips:
        st.caption("No usable video to show.")
    detector = report.settings.get("detector") != "none"
    for strip in strips:
        faces = (
            f"a face found in {strip.faces_found} of them"
            if detector
            else "no detector: each is the whole frame"
        )
        video = f"{strip.subject} ({strip.gender}) · {strip.video_id}"
        caption = f"{video}: {strip.keyframes} keyframes, {faces}"
        st.image(strip.strip, caption=plain_markdown(caption))


st.title("Data")
workspace = Workspace.from_env()
registry = job_registry(workspace)  # None (and the message) when jobs.sqlite is damaged
try:
    roots = workspace.data_roots()
except DamagedFile as exc:  # settings.json: registering waits; the rest works
    show_damaged(exc, key="data-settings")
    roots = None
else:
    data_root_done()
    data_roots_panel(workspace, roots)

show_done()  # what the last upload or deletion did
# keyed: a message above that comes and goes (a root added) would otherwise reset the tabs
datasets_tab, register_tab, upload_tab = st.tabs(
    ["Datasets", "Register a dataset", "Upload clips"], key="data_tabs"
)

with upload_tab:
    upload_form(workspace)

with register_tab:
    if roots is None:
        st.info("Registering needs the data roots: repair settings.json first (see above).")
    paths = workspace.browse_data_roots() if roots is not None else []
    kind = st.selectbox(
        "Kind",
        KINDS,
        help="sasefe: subject folders with SASE-FE codes; ravdess, cremad: their file "
        "names; manifest: a CSV `path, subject, gender, emotion[, authenticity]`",
    )
    wanted = [p for p in paths if (p.suffix.lower() == ".csv") == (kind == "manifest")]
    path = st.selectbox("Folder (or manifest CSV) inside the data roots", wanted)
    name = st.text_input("Name in the workspace", value=path.name if path else "")
    rows, rows_source = None, "filled in on the page"
    if kind == "sasefe" and path is not None:
        table_source = st.radio(
            "Subject table (subject, gender)",
            ["subjects.csv in the folder", "upload a CSV", "fill in the table"],
            horizontal=True,
        )
        if table_source == "upload a CSV":
            upload = st.file_uploader("Subject table CSV", type=["csv"])
            if upload is not None:
                try:
                    frame = pd.read_csv(io.BytesIO(upload.getvalue()), dtype=str)
                    frame.columns = [str(c).strip().lower() for c in frame.columns]
                    rows = list(zip(frame["subject"], frame["gender"], strict=True))
                    rows_source = f"{upload.name} (uploaded)"
                except (ValueError, KeyError) as exc:
                    st.error(f"{upload.name} is not a CSV with subject and gender columns: {exc}")
                    rows = []
        elif table_source == "fill in the table":
            subjects = subject_folders(path)
            st.caption(f"{len(subjects)} subject folder(s) found; give each a gender.")
            edited = st.data_editor(
                pd.DataFrame({"subject": subjects, "gender": [""] * len(subjects)}),
                num_rows="dynamic",
                hide_index=True,
                key=f"subjects-{path}",
            )
            rows = list(zip(edited["subject"], edited["gender"], strict=True))
    replace = st.checkbox("Replace a dataset of the same name")
    if st.button("Register", type="primary", disabled=path is None):
        try:
            folder = workspace.resolve_data_path(path)
            dataset, result = register_dataset(
                workspace,
                name.strip(),
                folder,
                kind=kind,
                replace=replace,
                subject_rows=rows,
                subject_source=rows_source,
            )
        except (DatasetError, OutsideDataRootsError, OSError, Busy) as exc:
            show_problems(exc)
        else:
            st.success(
                f"Registered {dataset.name}: {len(dataset.index)} videos of "
                f"{dataset.index['subject'].nunique()} subjects."
                + (" SYNTHETIC data." if dataset.synthetic else "")
            )
            for note in result.notes:
                st.caption(note)

with datasets_tab:
    damaged = []
    names = [meta["name"] for meta in list_datasets(workspace, damaged=damaged)]
    show_damaged_list(damaged, key="data-damaged")  # each named; the others are listed
    if not names:
        st.info(
            "No dataset registered yet: use the Register or Upload tab."
            if not damaged
            else "No other dataset registered: use the Register or Upload tab."
        )
        st.stop()
    chosen = st.selectbox("Dataset", names)
    try:
        summary = dataset_summary(workspace, chosen)
    except DamagedFile as exc:  # e.g. its index.csv: the other datasets stay usable
        show_damaged(exc, key="data-dataset")
        st.stop()
    show_damaged_list(summary.problems, key="data-dataset-damaged")
    meta = summary.dataset.meta
    if summary.dataset.synthetic:
        synthetic_banner()
        for bias in meta.get("synthetic_info", {}).get("planted_biases", []):
            st.caption(f"Planted bias: {bias['description']}.")
    st.caption(f"{meta['kind']} at `{meta['root']}`, registered {meta['registered_at']}")
    stored_note(workspace, meta)
    left, right = st.columns(2)
    left.metric("Videos", meta["n_videos"])
    right.metric("Subjects", meta["n_subjects"])
    per_gender, per_class = st.columns([1, 2])
    per_gender.markdown("**Subjects per gender**")
    per_gender.dataframe(summary.subjects_per_gender, hide_index=True)
    per_class.markdown("**Videos per emotion and authenticity**")
    per_class.dataframe(summary.videos, hide_index=True)
    if meta.get("skipped") or meta.get("notes"):
        with st.expander(f"Notes and {len(meta.get('skipped', []))} skipped file(s)"):
            for note in meta.get("notes", []):
                st.write(note)
            skipped = pd.DataFrame(meta.get("skipped", []))
            st.dataframe(skipped.rename(columns={"path": "file", "reason": "why"}), hide_index=True)

    st.subheader("Test split")
    st.write(f"Test subjects: {plain_markdown(summary.split)}.")
    with st.form("split"):
        per_group = st.number_input("Test subjects per gender", 1, 50, 5)
        seed = st.number_input("Seed", 0, 10_000, 0)
        if st.form_submit_button("Draw the test split (replaces the current one)"):
            try:
                draw_dataset_split(workspace, chosen, per_group=int(per_group), seed=int(seed))
                st.rerun()
            except (DatasetError, ValueError) as exc:
                show_problems(exc)

    st.subheader("Preprocessing")
    try:
        split = load_split(workspace.dataset_dir(chosen))
    except DamagedFile:  # named above, with what to do
        split = None
    for report in summary.preprocessing:
        st.markdown(report.describe())
        ready = dataset_readiness(summary.dataset, split, report)
        if ready.training_words():
            st.caption(plain_markdown(sentence(ready.training_words())))
        for problem in ready.problems:
            st.warning(plain_markdown(sentence(problem)), icon=":material/block:")
        with st.expander("Face crops: a few videos per subject", icon=":material/face:"):
            crop_preview(meta, report)
        if ready.without_clips:
            st.caption(
                "Subjects without a usable clip (left out of training and the audit): "
                + plain_markdown(", ".join(f"{s} ({g})" for s, g in ready.without_clips.items()))
            )
        short = shortfall(report.counts)
        if short:
            hint = too_short_hint(report.settings.get("k", 20)) if "too_short" in short else ""
            st.warning(
                f"Only {short}: training on these settings would see few of the clips. {hint}",
                icon=":material/warning:",
            )
        if len(report.problems):
            st.caption("Videos that failed, and why")
            st.dataframe(
                report.problems.rename(
                    columns={"video_id": "video", "status": "outcome", "reason": "why"}
                ),
                hide_index=True,
            )
    if not summary.preprocessing:
        st.caption("Not preprocessed yet.")
    lengths = cached_lengths(chosen, meta.get("fingerprint", ""))
    st.caption(plain_markdown(length_note(lengths)))
    with st.form("preprocess"):
        suggested = suggested_preprocessing(summary.dataset, lengths)
        k_col, margin_col, size_col, detector_col, workers_col = st.columns(5)
        k = k_col.selectbox("Keyframes K", KS, index=KS.index(suggested.k))
        margin = margin_col.selectbox(
            "MTCNN margin", MARGINS, index=MARGINS.index(suggested.margin)
        )
        size = size_col.number_input("Crop size", 32, 448, suggested.size, step=16)
        detector = detector_col.selectbox(
            "Detector", DETECTORS, index=DETECTORS.index(suggested.detector)
        )
        workers = workers_col.number_input("Workers", 1, 64, 1)
        if st.form_submit_button("Preprocess in the background", type="primary"):
            settings = dataclasses.replace(
                suggested, k=k, margin=margin, size=int(size), detector=detector
            )
            argv = preprocess_argv(chosen, settings, workers=int(workers))
            if registry is None:
                st.error("Nothing was queued: the job registry is damaged (see above).")
            else:
                registry.submit(argv, title=f"preprocess {chosen}")

    @st.fragment(run_every=2)
    @page_guard()
    def preprocessing_jobs():
        if registry is None:
            st.caption("No job list: the job registry is damaged (see above).")
            return
        jobs = [j for j in registry.refresh() if j.kind == "preprocess" and j.argv[1] == chosen]
        active = {job.id for job in jobs if job.active}
        key = f"_data_preprocessing_{chosen}"
        ended = st.session_state.get(key, set()) - active
        st.session_state[key] = active
        job_list(registry, jobs, key=f"preprocess-jobs-{chosen}")  # in pages of ten
        if ended:  # the page above reads what the job made
            st.rerun(scope="app")

    preprocessing_jobs()

    st.subheader("Delete")
    delete_form(workspace, meta)
