"""Hostile files: weights and checkpoints that would run code when read, and labels that
would become formulas in a spreadsheet or links in the HTML report (issue #11, items
2 and 4). Each hostile payload is first shown to be live (plain pickle / torch.load
without the protection runs it), then shown to be refused without running."""

import io
import json
import os
import pathlib
import pickle
import re
import shlex
import struct
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from test_fairness import simulated

from conftest import REPO, TINY_TRAIN_ARGS
from fer_audit.cli import main
from fer_audit.fairness import AuditResult, audit
from fer_audit.models import create_model
from fer_audit.models.fermini import FER_CLASSES
from fer_audit.models.weights import vggface2_pickle
from fer_audit.report import comparison_figures, figures, live_figures
from fer_audit.report.export import export_zip
from fer_audit.report.html import render_report
from fer_audit.safe_csv import neutralise, read_people_csv, restore, to_people_csv
from fer_audit.safe_load import UnsafeFile, load_tensors, read_array_pickle
from fer_audit.train.inference import load_any_run

# ---------------------------------------------------------------- payloads


class Payload:
    """Unpickling this calls `function(*args)`: the marker file appears if it runs."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


PAYLOADS = {
    "os.system": lambda m: Payload(os.system, f"touch {shlex.quote(str(m))}"),
    "builtins.open": lambda m: Payload(open, str(m), "w"),
    "pathlib.Path.touch": lambda m: Payload(pathlib.Path.touch, pathlib.Path(m)),
    "builtins.exec": lambda m: Payload(exec, f"open({str(m)!r}, 'w').close()"),
}


def _weights_with(payload) -> dict:
    """A plausible weights dict with one hostile entry among real arrays."""
    return {"conv1.weight": np.ones((2, 3), np.float32), "fc.bias": payload}


def _live(tmp_path, make, load) -> None:
    """The payload does run when loaded without protection (so the test means it)."""
    control = tmp_path / "control-marker"
    load(make(control))
    assert control.exists(), "the payload is not live: the test would prove nothing"
    control.unlink()


def _one_line(message: str, path) -> None:
    assert str(path) in message and "\n" not in message
    assert "weights_only" not in message and "Traceback" not in message


# ---------------------------------------------------------------- VGGFace2 pickles


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_vggface2_pickle_that_runs_code_is_refused(tmp_path, name, protocol):
    make = PAYLOADS[name]

    def dumped(marker):
        return pickle.dumps(_weights_with(make(marker)), protocol=protocol)

    _live(tmp_path, dumped, pickle.loads)
    marker = tmp_path / "MARKER"
    path = tmp_path / "senet50_ft_weight.pkl"
    path.write_bytes(dumped(marker))
    with pytest.raises(UnsafeFile) as caught:
        create_model("senetlstm", 4, pretrained=True, weights_path=path)
    message = str(caught.value)
    _one_line(message, path)
    assert "is not a plain pickle of numpy arrays: it asks for the global" in message
    assert not marker.exists()


def test_cli_train_with_hostile_vggface2_weights_says_so_and_runs_nothing(
    tmp_path, capsys, tiny_workspace
):
    marker = tmp_path / "MARKER"
    path = tmp_path / "senet50_ft_weight.pkl"
    path.write_bytes(pickle.dumps(_weights_with(PAYLOADS["os.system"](marker)), protocol=2))
    code = main(
        [
            "--workspace",
            str(tiny_workspace.root),
            "train",
            "--dataset",
            "syn",
            "--arch",
            "senetlstm",
            "--pretrained",
            "--weights",
            str(path),
            "--epochs",
            "1",
            *TINY_TRAIN_ARGS,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {path} is not a plain pickle of numpy arrays")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not marker.exists()


#: never names a forbidden global, but calls numpy.ndarray((1,), "O", buffer): numpy then
#: reads raw bytes as pointers to Python objects (a crash at best) under plain pickle
FORGED_OBJECT = (
    b"\x80\x02}X\x01\x00\x00\x00wcnumpy\nndarray\n(K\x01\x85X\x01\x00\x00\x00OC\x08AAAAAAAAtRs."
)


def test_a_pickle_that_would_forge_numpy_objects_is_refused(tmp_path):
    path = tmp_path / "weights.pkl"
    path.write_bytes(FORGED_OBJECT)
    script = (
        "import sys\n"
        "from fer_audit.safe_load import UnsafeFile, read_array_pickle\n"
        "try:\n"
        "    read_array_pickle(sys.argv[1])\n"
        "except UnsafeFile as exc:\n"
        "    print(exc)\n"
    )
    # in a child: if numpy were reached, the crash must fail the test, not end pytest
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, f"crashed ({done.returncode}): {done.stderr[-500:]}"
    assert done.stdout.startswith(f"{path} is not a plain pickle of numpy arrays")
    assert "numpy.ndarray called directly" in done.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a pickle", "it cannot be read"),
        (pickle.dumps({"w": np.ones(3)}, protocol=4)[:-20], "it cannot be read"),
        (pickle.dumps([np.ones(3)], protocol=4), "it holds a list, not a {name: array} dict"),
        (pickle.dumps({"w": [1, 2]}, protocol=4), "entry 'w' is a list"),
        (pickle.dumps({"w": np.array(["x"])}, protocol=4), "the dtype 'U1'"),
        (pickle.dumps({"w": np.array([None])}, protocol=4), "the dtype 'O8'"),
        (pickle.dumps({"w": np.ones(2)}, protocol=0).replace(b"latin1", b"rot13"), "rot13"),
    ],
    ids=["garbage", "truncated", "a-list", "not-an-array", "text-array", "object-array", "rot13"],
)
def test_pickles_that_are_not_arrays_of_numbers_are_refused(tmp_path, content, expected):
    path = tmp_path / "weights.pkl"
    path.write_bytes(content)
    with pytest.raises(UnsafeFile) as caught:
        vggface2_pickle(path)
    _one_line(str(caught.value), path)
    assert expected in str(caught.value)


def _py2_str(data: bytes) -> bytes:
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data  # SHORT_BINSTRING
    return b"T" + struct.pack("<i", len(data)) + data  # BINSTRING


def python2_pickle(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes Python 2 and numpy 1.x wrote for {name: array} at protocol 2 (as in
    senet50_ft_weight.pkl): py2 `str` for names and data, numpy.core.multiarray."""
    out = b"\x80\x02}q\x00("
    for name, array in arrays.items():
        dtype = array.dtype
        shape = b"(" + b"".join(b"J" + struct.pack("<i", n) for n in array.shape) + b"t"
        out += _py2_str(name.encode())
        out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        out += _py2_str(b"b") + b"\x87R"
        out += b"(K\x01" + shape
        out += b"cnumpy\ndtype\n" + _py2_str(f"{dtype.kind}{dtype.itemsize}".encode())
        out += b"K\x00K\x01\x87R(K\x03" + _py2_str(dtype.byteorder.replace("=", "<").encode())
        out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        out += b"\x89" + _py2_str(array.tobytes()) + b"tb"
    return out + b"u."


ARRAYS = {
    "conv1.weight": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.7) * 1e3,
    "bn1.running_mean": np.linspace(-1, 1, 300).astype(np.float32),  # bytes >= 0x80
    "fc.bias": np.array([1, -2, 3], dtype=np.int64),
}


@pytest.mark.parametrize("protocol", ["python2", 2, 4, 5])
def test_genuine_pickles_of_numpy_arrays_still_load(tmp_path, protocol):
    path = tmp_path / "senet50_ft_weight.pkl"
    if protocol == "python2":
        path.write_bytes(python2_pickle(ARRAYS))
    else:
        path.write_bytes(pickle.dumps(ARRAYS, protocol=protocol))
    assert pickle.loads(path.read_bytes(), encoding="latin1").keys() == ARRAYS.keys()
    tensors = vggface2_pickle(path)
    assert tensors.keys() == ARRAYS.keys()
    for name, array in ARRAYS.items():
        assert tensors[name].dtype == torch.from_numpy(array).dtype
        assert np.array_equal(tensors[name].numpy(), array)
    fortran = {"w": np.asfortranarray(np.arange(6.0).reshape(2, 3))}
    path.write_bytes(pickle.dumps(fortran, protocol=2))
    assert np.array_equal(read_array_pickle(path)["w"], fortran["w"])


# ---------------------------------------------------------------- torch files


def _torch_payload(marker) -> dict:
    return {"weight": torch.zeros(2), "extra": PAYLOADS["os.system"](marker)}


def _live_torch(tmp_path) -> None:
    def load(obj):
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=False)

    _live(tmp_path, _torch_payload, load)


def _evil_torch_file(path, marker, *, legacy=False) -> None:
    torch.save(_torch_payload(marker), path, _use_new_zipfile_serialization=not legacy)


def _code_objects(message, path) -> None:
    assert message == f"{path} holds code objects; fer-audit loads plain tensors only"


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_weights_holding_code_are_refused_in_one_line(tmp_path, legacy):
    _live_torch(tmp_path)
    marker = tmp_path / "MARKER"
    path = tmp_path / "weights.pth"
    _evil_torch_file(path, marker, legacy=legacy)
    with pytest.raises(UnsafeFile) as caught:
        load_tensors(path)
    _code_objects(str(caught.value), path)
    for arch in ("resnet50", "vggface"):
        with pytest.raises(UnsafeFile) as caught:
            create_model(arch, 4, pretrained=True, weights_path=path)
        _code_objects(str(caught.value), path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's, about what it was given
def test_torchscript_archives_and_non_torch_files_are_refused(tmp_path):
    scripted = tmp_path / "scripted.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated, and still loadable
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), scripted)
    with pytest.raises(UnsafeFile) as caught:
        load_tensors(scripted)
    _code_objects(str(caught.value), scripted)
    for content in (b"not a torch file", pickle.dumps({"w": np.ones(2)}, protocol=4)):
        other = tmp_path / "other.pt"
        other.write_bytes(content)
        with pytest.raises(UnsafeFile, match="is not a torch file of plain tensors") as caught:
            load_tensors(other)
        _one_line(str(caught.value), other)


def test_run_folders_holding_code_are_refused(tmp_path, capsys):
    """An imported model folder (`fer-audit predict --run FOLDER`) and a training
    run's checkpoint.pt, each replaced by a file that would run code."""
    _live_torch(tmp_path)
    marker = tmp_path / "MARKER"
    folder = tmp_path / "imported"
    folder.mkdir()
    run = {"run_id": "imported", "arch": "fermini", "classes": list(FER_CLASSES)}
    (folder / "run.json").write_text(json.dumps(run))
    _evil_torch_file(folder / "model.pt", marker)
    with pytest.raises(UnsafeFile) as caught:
        load_any_run(None, folder)
    _code_objects(str(caught.value), folder / "model.pt")

    from fer_audit.train.loop import _resume

    model = torch.nn.Linear(2, 2)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    _evil_torch_file(tmp_path / "checkpoint.pt", marker)
    state, note = _resume(tmp_path, model, optimiser)
    assert state["epoch"] == 0  # nothing of it was loaded; the run starts again
    assert "holds code objects; fer-audit loads plain tensors only" in note
    assert "weights_only" not in note
    assert not marker.exists()


# ---------------------------------------------------------------- spreadsheets, links

EVIL_LINK = '<a href="http://evil.example">x</a>'
FORMULA = '=hyperlink("http://evil.example","click")'  # gender labels are read lower-cased


@pytest.fixture(scope="module")
def hostile_audit() -> AuditResult:
    frame = simulated(6, female_sad_tpr=0.3, seed=1)
    frame["gender"] = frame["gender"].map({"female": EVIL_LINK, "male": FORMULA})
    frame = frame.assign(run_id="-r<b>1</b>", arch="<i>net</i> & co", train_set="@set", seed=1)
    return audit(frame, n_boot=50)


def test_neutralise_rule_and_its_inverse():
    for text in ("=1+1", "+1", "-0.3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    for value in ("abc", "0.3", "", "'quoted", "a=b", -0.3, 3, None, True):
        assert neutralise(value) == value
    for value in ("=x", "'=x", "''-1", "'x", "'", "", "-", "plain", -1.5, None):
        assert restore(neutralise(value)) == value
    frame = pd.DataFrame(
        {"text": ["-0.3", "=1", "ok"], "number": [-0.3, 1.0, 2.0], "=name": ["+a", "b", "@c"]}
    )
    written = to_people_csv(frame, index=False)
    assert written.splitlines() == [
        "text,number,'=name",
        "'-0.3,-0.3,'+a",
        "'=1,1.0,b",
        "ok,2.0,'@c",
    ]
    back = read_people_csv(io.StringIO(written))
    assert back["number"].tolist() == [-0.3, 1.0, 2.0]  # numbers stay numbers
    assert back["text"].tolist() == ["-0.3", "=1", "ok"] and list(back.columns) == list(frame)


def test_audit_tables_are_safe_in_spreadsheets_and_load_back_unchanged(tmp_path, hostile_audit):
    folder = hostile_audit.save(tmp_path / "audit")
    gaps = pd.read_csv(folder / "gaps.csv", dtype=str, keep_default_na=False)
    assert set(gaps["run_id"]) == {"'-r<b>1</b>"} and set(gaps["train_set"]) == {"'@set"}
    metrics = pd.read_csv(folder / "group_metrics.csv", dtype=str)
    assert f"'{FORMULA}" in set(metrics["group"])
    assert pd.to_numeric(metrics["value"]).notna().all()  # numbers written as numbers
    assert not any(
        cell[:1] in ("=", "+", "-", "@", "\t", "\r")
        for name in ("confusion", "group_metrics", "gaps", "rankings", "summary", "variation")
        for row in pd.read_csv(folder / f"{name}.csv", dtype=str).fillna("").to_numpy()
        for cell in row
        if not re.fullmatch(r"-?[\d.e+-]+|-?inf", cell)
    )
    loaded = AuditResult.load(folder)
    for name in ("confusion", "group_metrics", "gaps", "rankings", "summary", "variation"):
        pd.testing.assert_frame_equal(
            getattr(loaded, name), getattr(hostile_audit, name), check_dtype=False
        )
    assert loaded.settings["groups"] == hostile_audit.settings["groups"]
    assert FORMULA in loaded.settings["groups"]


#: a link to evil.example as markup, in any spelling HTML or JSON text could give it
_LINK = re.compile(
    r"(?:<|\\u003c|\\x3c)\s*a\s+href\s*=\s*(?:\\?[\"']|&quot;)?"
    r"http(?::|\\u003a)(?:/|\\/|\\u002f){2}evil\.example",
    re.IGNORECASE,
)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def test_report_and_exports_show_hostile_labels_as_text(hostile_audit):
    page = render_report(hostile_audit)
    assert not _LINK.search(page)
    assert "&lt;a href=" in page  # the label is there, as text
    bundle = zipfile.ZipFile(io.BytesIO(export_zip(hostile_audit)))
    assert not _LINK.search(bundle.read("report.html").decode())
    metrics = pd.read_csv(bundle.open("group_metrics.csv"), dtype=str)
    assert {f"'{FORMULA}", EVIL_LINK} <= set(metrics["group"])
    gaps = pd.read_csv(bundle.open("gaps.csv"), dtype=str)
    assert set(gaps["run_id"]) == {"'-r<b>1</b>"}

    run = "-r<b>1</b>"
    built = [
        figures.confusion_matrices(hostile_audit, run_id=run),
        figures.metric_bars(hostile_audit, run_id=run, metric="tpr"),
        figures.gap_forest(hostile_audit, run_id=run),
        comparison_figures.train_set_comparison(hostile_audit, definition="eqop_paper"),
        comparison_figures.accuracy_boxplots(hostile_audit, train_set="@set"),
        comparison_figures.emotion_gender_comparison(hostile_audit, train_set="@set"),
    ]
    for fig in built:
        for text in _strings(json.loads(fig.to_json())):
            assert not re.search(r"<\s*(a|b|i)\b", text, re.IGNORECASE), text
    bars = figures.metric_bars(hostile_audit, run_id=run, metric="tpr")
    assert bars.data[0].name == '&lt;a href="http://evil.example"&gt;x&lt;/a&gt;'
    assert "&lt;b&gt;1&lt;/b&gt;" in bars.layout.title.text
    clip = {
        "classes": ["<a href='http://evil.example'>sad</a>", "happy"],
        "video_probabilities": {"<a href='http://evil.example'>sad</a>": 0.7, "happy": 0.3},
        "keyframe_probabilities": [[0.7, 0.3]],
        "times": [0.0],
        "prediction": "<a href='http://evil.example'>sad</a>",
    }
    for fig in (
        live_figures.video_probabilities(clip, label="<b>run</b>"),
        live_figures.keyframe_probabilities(clip, label="<b>run</b>"),
        live_figures.training_curves([], title="<a href='http://evil.example'>run</a>"),
    ):
        for text in _strings(json.loads(fig.to_json())):
            assert not re.search(r"<\s*(a|b)\b", text, re.IGNORECASE), text


def test_preprocessing_reports_are_safe_in_spreadsheets(workspace, monkeypatch):
    from fer_audit.video import batch
    from fer_audit.video.settings import PreprocessSettings

    row = {c: "ok" for c in batch.REPORT_COLUMNS}
    row.update(video_id="=cmd|' /C calc'!A0", subject="@evil", reason="-2+3", n_frames=-1)
    monkeypatch.setattr(batch, "build_report", lambda *args: pd.DataFrame([row]))
    path = batch.write_report(workspace, "syn", PreprocessSettings())
    written = pd.read_csv(path, dtype=str).iloc[0]
    assert written["video_id"] == "'=cmd|' /C calc'!A0"
    assert (written["subject"], written["reason"]) == ("'@evil", "'-2+3")
    assert written["n_frames"] == "-1" and written["status"] == "ok"  # a number stays one


@pytest.mark.parametrize(
    "builder, refusal",
    [("bytes", r"bytes\(\) of an argument"), ("bytearray", "__builtin__.bytearray")],
)
def test_a_tiny_pickle_cannot_make_the_reader_allocate_gigabytes(builder, refusal, tmp_path):
    from fer_audit.safe_load import UnsafeFile, read_array_pickle

    # {"w": bytearray(2**31 - 1)}: 40 bytes that would allocate 2 GB when unpickled
    payload = (
        b"\x80\x02}U\x01w" + f"c__builtin__\n{builder}\n".encode() + b"J\xff\xff\xff\x7f\x85Rs."
    )
    path = tmp_path / "bomb.pkl"
    path.write_bytes(payload)
    with pytest.raises(UnsafeFile, match=refusal):
        read_array_pickle(path)


def test_an_empty_array_pickled_at_protocol_2_still_loads(tmp_path):
    path = tmp_path / "empty.pkl"
    path.write_bytes(pickle.dumps({"w": np.zeros(0), "b": np.ones(2)}, protocol=2))
    arrays = read_array_pickle(path)
    assert arrays["w"].shape == (0,) and arrays["b"].tolist() == [1.0, 1.0]
