"""The scratchnet command: subcommands, output and exit statuses for user errors."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scratchnet import cli, models

ROOT = Path(__file__).resolve().parents[1]


def test_models_lists_every_model_with_its_input_size(capsys):
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == models.list_models()
    assert lines[0].split()[:2] == ["lenet5", "1x32x32"]
    assert "alexnet_v1   3x227x227" in lines


def test_summary_prints_the_table_and_totals(capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "features.c1" in out and "Conv2d" in out
    assert "Total params:          61,706" in out  # the count from REFERENCE.md
    assert "Total MACs per image:  416,520" in out  # 117,600 + 240,000 + 48,000 + 10,080 + 840


def test_summary_takes_an_input_size_and_constructor_arguments(capsys):
    assert cli.main(["summary", "resnet20", "--input-size", "3", "16", "16",
                     "-k", "num_classes=5"]) == 0
    out = capsys.readouterr().out
    assert "on input 1x3x16x16" in out
    assert "64x4x4" in out  # the last stage's map at a quarter of the input size
    fc = next(line.split() for line in out.splitlines() if line.startswith("fc "))
    assert fc[:3] == ["fc", "Linear", "5"]  # the classifier's output: num_classes


def test_unknown_model_lists_the_known_ones_and_exits_2(capsys):
    assert cli.main(["summary", "resnet19"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scratchnet summary: error: unknown model 'resnet19'; known models:")
    assert "resnet18" in err and "lenet5" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["summary", "lenet5", "-k", "activation=sigmoid"], "activation must be one of"),
    (["summary", "lenet5", "-k", "colour=1"], "lenet5: "),
    (["summary", "lenet5", "-k", "oops"], "-k expects KEY=VALUE, got 'oops'"),
    (["summary", "lenet5", "--input-size", "1", "4", "4"], "LeNet5"),
    (["summary", "lenet5", "--input-size", "1", "0", "32"], "input_size must be"),
])
def test_user_errors_exit_2_with_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["summary"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["summary", "lenet5", "--input-size", "3", "32"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2


def test_runs_as_a_program_without_traceback_on_user_error():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "scratchnet", "summary", "nope"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 2
    assert "unknown model 'nope'" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "scratchnet", "models"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.startswith("lenet5")


def test_an_internal_error_exits_1_with_its_traceback(tmp_path):
    """Only the command line's own error types become one-line messages: a bug (here a
    ValueError planted in the training step) keeps its traceback, and the status is 1."""
    child = f"""
import sys
from scratchnet.train import trainer
def planted(self, x, y):
    raise ValueError("planted internal error")
trainer.Trainer._step = planted
from scratchnet.cli import main
sys.exit(main(["train", "lenet5", "--dataset", "synthetic", "--epochs", "1", "--no-progress",
               "--out", {str(tmp_path)!r}]))
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ValueError: planted internal error" in done.stderr
    assert "in planted" in done.stderr


def test_io_is_an_attribute_of_the_package_and_save_load_are_its_nested_pair():
    done = subprocess.run([sys.executable, "-c", "import scratchnet as sn; "
                           "print(sn.io.__name__, sn.save is sn.io.save_nested, "
                           "sn.load is sn.io.load_nested)"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == ["scratchnet.io", "True", "True"]
