"""Settings declared once (issue #14): the dataclasses' fields are the commands' options,
and the command lines built for jobs read back as the same settings."""

import argparse
import dataclasses
import json

import pytest

from conftest import TINY_PREPROCESS
from fer_audit.cli import build_parser
from fer_audit.commands import audit_argv, preprocess_argv, train_argv
from fer_audit.errors import DamagedFile
from fer_audit.fairness.settings import AuditSettings
from fer_audit.options import option_fields, option_values
from fer_audit.overview import preprocessing_settings
from fer_audit.train.config import TrainConfig
from fer_audit.video.settings import PreprocessSettings

#: options of the commands that are not settings of a run (where, how, how many)
COMMAND_ONLY = {
    "preprocess": {"dataset", "workers", "shard", "device", "report_only", "help"},
    "train": {"seeds", "preprocess", "device", "help", "k", "margin", "size", "detector"},
    "audit": {"predictions", "reference", "out", "force", "help"},
}


def command_actions(name: str) -> dict[str, argparse.Action]:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {action.dest: action for action in commands.choices[name]._actions}


@pytest.mark.parametrize(
    "command, settings, not_options",
    [
        ("preprocess", PreprocessSettings, {"detect_width"}),
        ("train", TrainConfig, {"seed", "preprocess", "weight_decay", "momentum", "val_fraction"}),
        ("audit", AuditSettings, set()),
    ],
)
def test_the_command_options_are_the_settings_fields(command, settings, not_options):
    actions = command_actions(command)
    fields = {f.name: f for f in dataclasses.fields(settings)}
    options = {f.name for f in option_fields(settings)}
    assert set(actions) - COMMAND_ONLY[command] == options  # nothing declared by hand
    assert set(fields) - options == not_options
    for name in options:
        field, action = fields[name], actions[name]
        required = field.default is dataclasses.MISSING
        assert action.required == required, name
        if not required:
            assert action.default == field.default, name
        choices = field.metadata["option"].choices
        assert (tuple(action.choices) if action.choices else None) == choices, name


def parsed(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_an_audit_command_line_reads_back_as_its_settings():
    settings = AuditSettings(
        bootstrap=500,
        permutations=700,
        seed=3,
        group="gender,authenticity",
        groups="female & genuine,male & genuine",
        scheme="six",
        correction="bh",
        family="audit",
    )
    args = parsed(audit_argv(settings, out="/o", predictions="/p.parquet"))
    assert (str(args.predictions), str(args.out), args.reference) == ("/p.parquet", "/o", None)
    assert AuditSettings(**option_values(AuditSettings, args)) == settings
    args = parsed(audit_argv(AuditSettings(), out="/o", reference="domnich2021"))
    assert (args.predictions, args.reference) == (None, "domnich2021")


def test_a_preprocess_command_line_reads_back_as_its_settings():
    settings = PreprocessSettings(k=50, margin=65, size=48, detector="none", mode="paper", seed=7)
    args = parsed(preprocess_argv("d", settings, workers=3))
    assert (args.dataset, args.workers) == ("d", 3)
    assert PreprocessSettings(**option_values(PreprocessSettings, args)) == settings


def test_a_train_command_line_reads_back_as_its_config():
    config = TrainConfig(
        dataset="d",
        arch="resnet3d",
        train_set="female",
        epochs=3,
        patience=2,
        lr=0.01,
        batch_size=4,
        scheme="six",
        preprocess=TINY_PREPROCESS,
        input_size=64,
        pretrained=True,
        weights_path="/w.pth",
        augment=False,
        frozen_backbone=True,
        balanced_loss=True,
        lr_schedule="cosine",
    )
    args = parsed(train_argv(config, seeds=[3, 5], device="cpu"))
    assert (args.seeds, args.preprocess, args.device) == ([3, 5], TINY_PREPROCESS.key(), "cpu")
    back = TrainConfig(
        **option_values(TrainConfig, args, skip=("seed",)), preprocess=config.preprocess
    )
    assert back == config
    plain = TrainConfig(dataset="d", arch="3dcnn")  # defaults stay off the command line
    assert train_argv(plain)[:7] == [
        "train",
        "--dataset",
        "d",
        "--arch",
        "3dcnn",
        "--train-set",
        "regular",
    ]
    assert not {"--no-augment", "--pretrained", "--lr", "--weights"} & set(train_argv(plain))


def test_a_run_names_its_preprocessing_by_key(tiny_workspace):
    assert preprocessing_settings(tiny_workspace, "syn", None) == TINY_PREPROCESS  # the only one
    assert preprocessing_settings(tiny_workspace, "syn", TINY_PREPROCESS.key()) == TINY_PREPROCESS
    with pytest.raises(ValueError, match=rf"no preprocessing k20.*KEY \({TINY_PREPROCESS.key()}\)"):
        preprocessing_settings(tiny_workspace, "syn", PreprocessSettings().key())


def test_a_run_reads_only_the_settings_of_its_preprocessing(tiny_workspace):
    reports = tiny_workspace.cache_dir / "reports" / "syn"
    other = PreprocessSettings(k=20, margin=0, size=32, detector="none")
    (reports / f"{other.key()}.csv").write_text("not,a\nreport,\n")  # damaged
    (reports / f"{other.key()}.json").write_text(json.dumps(dataclasses.asdict(other)))
    try:  # the report's counts are the pages'; training needs only the settings
        assert preprocessing_settings(tiny_workspace, "syn", other.key()) == other
        named = preprocessing_settings(tiny_workspace, "syn", TINY_PREPROCESS.key())
        assert named == TINY_PREPROCESS
        with pytest.raises(ValueError, match=rf"more than one.*{other.key()}"):
            preprocessing_settings(tiny_workspace, "syn", None)
    finally:
        (reports / f"{other.key()}.csv").unlink()
        (reports / f"{other.key()}.json").unlink()
    settings_file = reports / f"{TINY_PREPROCESS.key()}.json"
    kept = settings_file.read_text()
    try:  # settings edited by hand: named, never a traceback
        settings_file.write_text(json.dumps({**json.loads(kept), "k": "ten", "extra": 1}))
        with pytest.raises(DamagedFile, match=rf"{settings_file.name}.*not fer-audit's"):
            preprocessing_settings(tiny_workspace, "syn", None)
    finally:
        settings_file.write_text(kept)


def test_a_train_option_of_older_versions_says_what_replaced_it(capsys):
    with pytest.raises(SystemExit):
        parsed(["train", "--dataset", "d", "--arch", "3dcnn", "--k", "10"])
    err = capsys.readouterr().err
    assert "--k is no longer a train option" in err and "--preprocess KEY" in err
