"""`scratchnet eval`: top-5 beside top-1, test-time crops, ensembles of different models,
and its user errors; `scratchnet --version`."""
import re
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import evaluation
from scratchnet.cli import main
from scratchnet.data import DataLoader, pipeline
from scratchnet.models import default_input_size
from scratchnet.train import load_checkpoint, load_model

SMOKE = ["--dataset", "synthetic", "--no-progress", "--no-curves", "--batch-size", "128",
         "--epochs", "1"]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("members")
    for model in ("lenet5", "resnet20"):
        assert main(["train", model, *SMOKE, "--out", str(root / model)]) == 0
    return root / "lenet5" / "last.npz", root / "resnet20" / "last.npz"


def _predictions(path, tta="none", resize=None):
    ckpt = load_checkpoint(str(path))
    input_size = default_input_size(ckpt["model_name"])
    _, held_out = pipeline.build("synthetic", input_size, resize=resize, augment=False)
    return evaluation.predict(load_model(ckpt, str(path)), DataLoader(held_out, 64), tta,
                              input_size[1:])


def _numbers(line):
    return [float(x) for x in re.findall(r"(\d+\.\d+)%?", line)]


def test_an_ensemble_of_two_different_models(two_models, capsys):
    lenet, resnet = two_models
    assert main(["eval", str(lenet), str(resnet)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "held-out set: synthetic, 128 images, 10 classes"
    assert out[1] == f"member 1: lenet5 after 1 epoch ({lenet})"
    assert out[3].startswith("member 2: resnet20")
    assert out[5] == "ensemble of 2 (softmax averaged over the members)"
    both = evaluation.ensemble([_predictions(lenet), _predictions(resnet)])
    top1 = evaluation.topk_error(both.probs, both.labels, 1)
    top5 = evaluation.topk_error(both.probs, both.labels, 5)
    loss, accuracy, *errors = _numbers(out[6])
    assert loss == pytest.approx(both.loss, abs=1e-4)
    assert errors == [pytest.approx(100 * top1, abs=0.005), pytest.approx(100 * top5, abs=0.005)]
    assert "top-5 error" in out[2] and "top-5 error" in out[6]


def test_test_time_crops_beside_the_centre_crop(two_models, capsys):
    lenet, _ = two_models
    assert main(["eval", str(lenet), "--tta", "flip", "--resize", "36"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("  centre crop 32x32") and out[3].startswith("  flip 32x32 (2 views)")
    p = _predictions(lenet, "flip", resize=36)
    assert _numbers(out[3])[0] == pytest.approx(p.loss, abs=1e-4)
    assert _numbers(out[2])[0] == pytest.approx(
        evaluation.Predictions(p.centre, p.centre, p.labels).loss, abs=1e-4)


def test_members_trained_on_other_data_are_refused(two_models, tmp_path, capsys):
    lenet, _ = two_models
    on_mnist = sn.load(lenet)
    on_mnist["config"]["dataset"] = "mnist"            # as if trained on the bundled digits
    sn.save(on_mnist, tmp_path / "mnist.npz")
    assert main(["eval", str(lenet), str(tmp_path / "mnist.npz")]) == 2
    err = capsys.readouterr().err
    assert "the members were trained on different data" in err and "--dataset" in err


@pytest.mark.parametrize("argv, message", [
    (["--crop", "0"], "--crop must be at least 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--num-workers", "-1"], "--num-workers must be at least 0, got -1"),
])
def test_bad_options(two_models, capsys, argv, message):
    assert main(["eval", str(two_models[0]), *argv]) == 2
    assert message in capsys.readouterr().err


def test_confusion_png_without_matplotlib(two_models, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["eval", str(two_models[0]), "--confusion-png", str(tmp_path / "c.png")]) == 2
    assert "draws with matplotlib, which is not installed" in capsys.readouterr().err


def test_many_classes_print_the_worst_recalls_only(capsys):
    from scratchnet.cli.evaluate import _print_classes
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(40), 3)
    probs = rng.random((120, 40))
    _print_classes(evaluation.Predictions(probs, probs, labels), [f"c{i}" for i in range(40)])
    out = capsys.readouterr().out
    assert "40 classes, too many to print (--confusion-png draws it)" in out
    assert "the 10 classes of lowest recall:" in out
    assert len(re.findall(r"^c\d+ ", out, re.MULTILINE)) == 10


def test_version():
    done = subprocess.run([sys.executable, "-m", "scratchnet", "--version"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().startswith(f"scratchnet {sn.__version__} (Python 3.")
