import json
import subprocess
import sys
from pathlib import Path

from conftest import TINY_TRAIN_ARGS, make_sasefe, write_csv
from fer_audit.cli import main


def run(capsys, workspace, *args):
    code = main(["--workspace", str(workspace.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_datasets_add_list_show_split(capsys, workspace, tmp_path, sasefe_genders):
    root = make_sasefe(tmp_path / "sase", sasefe_genders)
    code, out, _ = run(capsys, workspace, "datasets", "add", "sase", str(root), "--kind", "sasefe")
    assert code == 0
    assert "sase (sasefe): 240 videos, 20 subjects (8 female, 12 male)" in out
    code, out, _ = run(capsys, workspace, "datasets", "list", "--json")
    assert code == 0 and json.loads(out)[0]["name"] == "sase"
    code, out, _ = run(capsys, workspace, "datasets", "split", "sase", "--seed", "7")
    assert code == 0 and "test subjects (seed 7, 5 per group)" in out
    code, out, _ = run(capsys, workspace, "datasets", "split", "sase", "--seed", "8")
    assert "seed 7" in out and "existing split kept" in out
    code, out, _ = run(capsys, workspace, "datasets", "show", "sase")
    assert code == 0 and "videos per emotion: anger 40" in out and "seed 7" in out


def test_bad_subject_table_is_a_clear_error_and_writes_nothing(capsys, workspace, tmp_path):
    root = make_sasefe(tmp_path / "sase", {"S1": "f", "S2": "m"}, table=False)
    table = write_csv(tmp_path / "t.csv", "subject,gender", ["S1,female", "S1,female"])
    code, out, err = run(
        capsys,
        workspace,
        "datasets",
        "add",
        "sase",
        str(root),
        "--kind",
        "sasefe",
        "--subjects",
        str(table),
    )
    assert code == 2 and out == ""
    assert err.startswith("error: subject table") and "duplicate row for subject 'S1'" in err
    assert not workspace.datasets_dir.exists()


def test_synth_registers_a_synthetic_dataset(capsys, workspace, tmp_path):
    code, out, _ = run(
        capsys,
        workspace,
        "synth",
        str(tmp_path / "syn"),
        "--per-group",
        "2",
        "--size",
        "48",
        "--fps",
        "8",
        "--duration",
        "0.5",
        "--register",
        "syn",
    )
    assert code == 0
    assert "planted bias: for female subjects 75% of sadness videos show one of" in out
    assert "syn (sasefe): 48 videos, 4 subjects (2 female, 2 male)  [SYNTHETIC]" in out


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "fer-audit"
    assert exe.is_file(), f"the fer-audit console script is not installed beside {sys.executable}"
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "datasets" in done.stdout


def test_synth_never_overwrites_a_folder_it_did_not_make(capsys, workspace, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    code, _, err = run(capsys, workspace, "synth", str(precious), "--overwrite")
    assert code == 2 and "is not a synthetic dataset" in err
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_synth_checks_the_registration_name_before_generating(capsys, workspace, tmp_path):
    code, _, err = run(capsys, workspace, "synth", str(tmp_path / "s"), "--register", "../bad")
    assert code == 2 and "is not allowed" in err
    assert not (tmp_path / "s").exists()


def test_synth_bad_settings_are_clear_errors(capsys, workspace, tmp_path):
    code, _, err = run(capsys, workspace, "synth", str(tmp_path / "s"), "--size", "33")
    assert code == 2 and "size must be even and at least 32" in err
    code, _, err = run(capsys, workspace, "synth", str(tmp_path / "s"), "--groups", ",")
    assert code == 2 and "at least one group" in err
    assert not (tmp_path / "s").exists()


def test_datasets_without_subcommand_shows_its_help(capsys, workspace):
    code, out, _ = run(capsys, workspace, "datasets")
    assert code == 2 and "datasets commands" in out


def test_train_queues_the_study_and_goes_on_past_a_failing_run(
    capsys, workspace, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-weights-here"))
    from fer_audit.data.registry import load_dataset
    from fer_audit.data.splits import draw_test_split, save_split
    from fer_audit.video.batch import preprocess_dataset
    from fer_audit.video.settings import PreprocessSettings

    run(
        capsys,
        workspace,
        "synth",
        str(tmp_path / "s"),
        "--per-group",
        "3",
        "--size",
        "32",
        "--fps",
        "8",
        "--duration",
        "1.5",
        "--register",
        "s",
    )
    dataset = load_dataset(workspace, "s")
    save_split(workspace.dataset_dir("s"), draw_test_split(dataset.subjects(), per_group=1))
    preprocess_dataset(workspace, "s", PreprocessSettings(k=10, margin=0, size=32, detector="none"))
    common = ["--dataset", "s", "--epochs", "1", *TINY_TRAIN_ARGS]
    code, out, err = run(
        capsys,
        workspace,
        "train",
        "--arch",
        "3dcnn",
        "--train-set",
        "all",
        "--seeds",
        "1",
        *common,
    )
    assert code == 0 and "[3/3] 3dcnn male seed 1" in out  # every training set in turn
    assert len(list(workspace.runs_dir.glob("*/model.pt"))) == 3
    code, out, err = run(
        capsys,
        workspace,
        "train",
        "--arch",
        "all",
        "--train-set",
        "female",
        "--pretrained",
        *common,
    )
    assert code == 1 and "failed: vgg16 female seed 0" in err  # no weights here: said, not faked


def test_demo_options_default_to_the_demo_settings():
    import re

    from fer_audit.cli import build_parser
    from fer_audit.cli.demo import demo_settings
    from fer_audit.demo import DemoSettings

    parser = build_parser()
    defaults = DemoSettings()
    assert demo_settings(parser.parse_args(["demo"])) == defaults
    chosen = demo_settings(parser.parse_args(["demo", "--epochs", "5", "--seeds", "3"]))
    assert (chosen.epochs, chosen.patience, chosen.seeds) == (5, 5, (3,))
    assert chosen.train_sets == defaults.train_sets
    helps = {
        a.dest: a.help
        for a in parser._subparsers._group_actions[0].choices["demo"]._actions  # noqa: SLF001
    }
    for dest, value in {
        "per_group": defaults.per_group,
        "test_per_group": defaults.test_per_group,
        "seeds": ",".join(map(str, defaults.seeds)),
        "train_sets": ",".join(defaults.train_sets),
        "epochs": defaults.epochs,
    }.items():
        assert re.search(rf"default {value}\b", helps[dest]), (dest, helps[dest])


def test_the_compare_command_prints_the_difference(capsys, tmp_path):
    from test_paired import N_BOOT, compare, correlated_runs

    from fer_audit.commands import compare_argv
    from fer_audit.fairness.settings import AuditSettings

    table = correlated_runs(changed=0.3)
    path = tmp_path / "predictions.parquet"
    table.to_parquet(path)
    found = compare(table)
    argv = ["--workspace", str(tmp_path / "ws")]
    argv += compare_argv(  # the command line the Audit page shows
        AuditSettings(bootstrap=N_BOOT, seed=3),
        predictions=path,
        first="a",
        second="b",
        definition="equal_opportunity",
        cls="sad",
    )
    assert main([*argv, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(found.to_dict()))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"difference {found.difference:+.3f}, 95% interval [{found.ci_low:+.3f}," in out
    assert "subjects: female 6, male 6" in out and "positives female 12 | male 12" in out
    assert main([*argv, "--first", "b"]) == 2  # the same run twice
    assert "needs two different runs" in capsys.readouterr().err
