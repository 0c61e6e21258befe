"""The six architectures: forward/backward on a tiny clip, real weight loading from
files written here in each format, and clear errors for missing weights; every
registered model's weights entry (file, source, licence, input, normalisation)."""

import pickle

import numpy as np
import pytest
import torch
from torchvision.models import ResNet50_Weights, VGG16_Weights, resnet50, vgg16
from torchvision.models.video import R2Plus1D_18_Weights, r2plus1d_18

from fer_audit.models import (
    MODELS,
    REGISTRY,
    Weights,
    WeightsMissing,
    create_model,
    get_spec,
    r2plus1d,
    resnet,
    vgg,
)
from fer_audit.models.senet import SENet50
from fer_audit.models.weights import VGGFACE_LAYERS

CLIP = torch.randint(0, 256, (2, 4, 3, 40, 40)).float()


@pytest.mark.parametrize("name", list(MODELS))
def test_every_architecture_trains_a_step_on_a_tiny_clip(name):
    torch.manual_seed(0)
    model = create_model(name, 4, input_size=40)
    optimiser = torch.optim.SGD(model.parameters(), lr=get_spec(name).lr)
    logits = model(CLIP)
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 3]))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    optimiser.step()


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "senetlstm"])
def test_lstm_models_split_into_cached_features_and_a_head(name):
    model = create_model(name, 4, input_size=40).eval()
    with torch.no_grad():
        features = model.features(CLIP)
        assert features.shape[:2] == (2, 4)
        assert torch.allclose(model.head(features), model(CLIP), atol=1e-5)


def test_paper_hyperparameters_are_the_defaults():
    table = {n: (s.lr, s.weight_decay, s.batch_size) for n, s in MODELS.items()}
    assert table == {
        "3dcnn": (5e-3, 1e-6, 12),
        "resnet3d": (5e-3, 5e-3, 12),
        "resnet50": (5e-3, 1e-3, 12),
        "senetlstm": (1e-2, 5e-4, 12),
        "vgg16": (1e-2, 5e-3, 12),
        "vggface": (5e-3, 8e-4, 12),
    }
    assert get_spec("resnet3d").input_size == 112


@pytest.mark.parametrize(
    ("name", "reference", "prefix"),
    [
        ("resnet50", resnet50, "backbone."),
        ("resnet3d", r2plus1d_18, "network."),
        ("vgg16", vgg16, "backbone."),
    ],
)
def test_torchvision_weights_load_from_a_local_file(tmp_path, name, reference, prefix):
    torch.manual_seed(1)
    weights = reference(weights=None).state_dict()
    path = tmp_path / "weights.pth"
    torch.save(weights, path)
    model = create_model(name, 4, pretrained=True, weights_path=path)
    loaded = model.state_dict()
    key = next(k for k in weights if k.endswith("weight") and weights[k].dim() > 1)
    assert torch.equal(loaded[prefix + key], weights[key])


def test_vggface_state_dict_loads_in_its_own_naming(tmp_path):
    torch.manual_seed(2)
    reference = vgg16(weights=None).state_dict()
    conv = [k for k in reference if k.startswith("features.")]
    raw = {}
    for layer, (w, b) in zip(VGGFACE_LAYERS, zip(conv[::2], conv[1::2], strict=True), strict=True):
        raw[f"{layer}.weight"], raw[f"{layer}.bias"] = reference[w], reference[b]
    for layer, index in (("fc6", 0), ("fc7", 3)):
        raw[f"{layer}.weight"] = reference[f"classifier.{index}.weight"]
        raw[f"{layer}.bias"] = reference[f"classifier.{index}.bias"]
    raw["fc8.weight"], raw["fc8.bias"] = torch.zeros(2622, 4096), torch.zeros(2622)
    torch.save(raw, tmp_path / "vgg_face_dag.pth")
    model = create_model("vggface", 4, pretrained=True, weights_path=tmp_path / "vgg_face_dag.pth")
    state = model.state_dict()
    assert torch.equal(state["backbone.features.0.weight"], raw["conv1_1.weight"])
    assert torch.equal(state["backbone.classifier.3.weight"], raw["fc7.weight"])


def test_vggface2_pickle_of_numpy_arrays_loads(tmp_path):
    torch.manual_seed(3)
    arrays = {k: v.numpy().copy() for k, v in SENet50().state_dict().items()}
    arrays["fc.weight"] = np.zeros((8631, 2048), np.float32)  # the identity classifier
    path = tmp_path / "senet50_ft_weight.pkl"
    with open(path, "wb") as fh:
        pickle.dump(arrays, fh, protocol=2)
    model = create_model("senetlstm", 4, pretrained=True, weights_path=path)
    state = model.state_dict()
    assert np.array_equal(
        state["backbone.layer3.2.conv_up.weight"].numpy(), arrays["layer3.2.conv_up.weight"]
    )
    assert np.array_equal(state["backbone.bn1.running_mean"].numpy(), arrays["bn1.running_mean"])


def test_missing_weights_are_named_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-hub"))
    with pytest.raises(WeightsMissing, match=r"download https://download.pytorch.org/.*resnet50"):
        create_model("resnet50", 4, pretrained=True)
    with pytest.raises(WeightsMissing, match="vgg_face_dag.pth"):
        create_model("vggface", 4, pretrained=True)
    with pytest.raises(WeightsMissing, match="senet50_ft_weight.pkl"):
        create_model("senetlstm", 4, pretrained=True, weights_path=tmp_path / "nope.pkl")
    with pytest.raises(ValueError, match="trained from scratch"):
        create_model("3dcnn", 4, pretrained=True)
    with pytest.raises(ValueError, match="unknown architecture"):
        create_model("alexnet", 4)


def test_weights_of_another_model_do_not_fit(tmp_path):
    torch.save(vgg16(weights=None).state_dict(), tmp_path / "vgg.pth")
    with pytest.raises(ValueError, match="does not fit this model"):
        create_model("resnet50", 4, pretrained=True, weights_path=tmp_path / "vgg.pth")


def test_checkpoints_load_with_weights_only(tmp_path):
    model = create_model("3dcnn", 4, input_size=40)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    fresh = create_model("3dcnn", 4, input_size=40)
    fresh.load_state_dict(state)
    model.eval()
    fresh.eval()
    with torch.no_grad():
        assert torch.equal(model(CLIP), fresh(CLIP))


def test_the_registry_holds_the_six_trained_here_the_imported_model_and_the_formats():
    assert list(MODELS) == ["vgg16", "vggface", "resnet50", "senetlstm", "3dcnn", "resnet3d"]
    assert all(s.trainable for s in MODELS.values())
    assert [n for n, s in REGISTRY.items() if not s.trainable] == ["fermini", "onnx", "torchscript"]
    # a format's models are read from their file, never built
    for name in ("onnx", "torchscript"):
        spec = REGISTRY[name]
        assert spec.weights is None and spec.load is not None and spec.run_defaults() == {}
        with pytest.raises(ValueError, match="read from their file"):
            create_model(name, 4)
    for name in ("fermini", "onnx", "alexnet"):
        with pytest.raises(ValueError, match="choose one of vgg16, .*, resnet3d$"):
            get_spec(name, trainable=True)


@pytest.mark.parametrize("name", [n for n, s in REGISTRY.items() if s.weights is not None])
def test_every_registered_model_has_a_complete_weights_entry(name):
    spec = get_spec(name)
    weights = spec.weights
    assert isinstance(weights, Weights) and weights.name
    assert weights.source and weights.licence and weights.provenance and weights.scaling
    assert weights.input_size == spec.input_size > 0
    channels = 1 if weights.colour.startswith("gray") else 3
    assert weights.colour.startswith(("RGB", "gray"))
    assert len(weights.mean) == len(weights.std) == channels and min(weights.std) > 0
    # a file and the loader that reads it, or neither: an architecture from scratch
    assert (weights.file_name is None) == (weights.loader is None) == (name == "3dcnn")
    assert weights.file_name is None or weights.file_name in weights.source
    # the model reads its input as the entry says, with or without the weights
    model = spec.build(len(spec.classes) if spec.classes else 4)
    assert model.input.size == weights.input_size
    if not spec.trainable:  # an imported model fixes what its runs would record
        assert spec.preprocessing is not None and spec.classes
        assert set(spec.run_defaults()) == {"input_size", "classes", "emotions", "preprocessing"}
    else:
        assert spec.lr and spec.weight_decay and spec.run_defaults() == {}


@pytest.mark.parametrize(
    ("entry", "reference"),
    [
        (vgg.IMAGENET1K_V1, VGG16_Weights.IMAGENET1K_V1),
        (resnet.IMAGENET1K_V1, ResNet50_Weights.IMAGENET1K_V1),
        (r2plus1d.KINETICS400_V1, R2Plus1D_18_Weights.KINETICS400_V1),
    ],
)
def test_torchvision_entries_agree_with_torchvision(entry, reference):
    transforms = reference.transforms()
    assert entry.name == reference.name and reference.url.endswith("/" + entry.file_name)
    assert entry.mean == pytest.approx([255 * m for m in transforms.mean])
    assert entry.std == pytest.approx([255 * s for s in transforms.std])
    assert entry.input_size == transforms.crop_size[0]


def test_builders_take_a_weights_entry(tmp_path):
    torch.manual_seed(4)
    path = tmp_path / "weights.pth"
    torch.save(resnet50(weights=None).state_dict(), path)  # a sixth of VGG16's size
    model = resnet.build_resnet50(4, weights=resnet.IMAGENET1K_V1, weights_path=path)
    assert torch.equal(model.input.mean.flatten(), torch.tensor(resnet.IMAGENET1K_V1.mean))
    scratch = vgg.build_vggface(4)  # random weights, VGGFace's input all the same
    assert torch.equal(scratch.input.mean.flatten(), torch.tensor(vgg.VGGFACE.mean))
    assert torch.equal(scratch.input.std.flatten(), torch.ones(3))


def test_models_list_names_weights_provenance_and_licence(capsys, workspace, monkeypatch, tmp_path):
    from fer_audit.cli import main

    monkeypatch.setenv("FER_AUDIT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    assert main(["--workspace", str(workspace.root), "models", "list"]) == 0
    listed, imported = capsys.readouterr().out.split("\n\n")
    lines = listed.splitlines()
    assert [line.split()[0] for line in lines] == list(REGISTRY)  # fermini, the formats too
    architectures = [
        (line, s) for line, s in zip(lines, REGISTRY.values(), strict=True) if s.weights
    ]
    assert "not trained here" in architectures[-1][0] and "lr " not in architectures[-1][0]
    for line, spec in architectures:
        assert spec.weights.provenance in line and f"input {spec.input_size}px" in line
        if spec.weights.file_name:
            assert spec.weights.file_name in line and spec.weights.licence in line
    for line, spec in zip(lines, REGISTRY.values(), strict=True):
        if spec.weights is None:  # a format: each model's input is in its own spec
            assert f"--format {spec.name} --spec SPEC.json" in line
    assert imported.startswith("imported models in ") and imported.strip().endswith(": none")
