"""Your own images end to end: a tiny image folder written with Pillow, trained on with
worker processes, then evaluated with AlexNet's ten crops and a confusion matrix."""
import re
import sys

import pytest

import scratchnet as sn
from scratchnet.cli import main

from tests.data.files import write_image_folder

pytest.importorskip("PIL", reason="image folders decode with Pillow (the images extra)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    write_image_folder(root / "train", per_class=8)
    write_image_folder(root / "val", per_class=4, seed=1)
    out = root / "run"
    assert main(["train", "lenet5", "--dataset", "folder", "--data-dir", str(root),
                 "--epochs", "10", "--batch-size", "4", "--lr", "0.05", "--num-workers", "2",
                 "--no-progress", "--no-curves", "--out", str(out)]) == 0
    return root, out / "last.npz"


def test_a_small_net_learns_the_folder_with_workers(trained, capsys):
    root, ckpt = trained
    history = sn.load(ckpt)["history"]
    assert history[-1]["test_acc"] == 1.0              # 12 held-out images, 3 colours
    assert "test_top5" not in history[-1]              # 3 classes: no top-5
    assert sn.load(ckpt)["config"]["dataset"] == "folder"


def test_eval_with_ten_crops_and_the_confusion_matrix(trained, tmp_path, capsys):
    root, ckpt = trained
    png = tmp_path / "cm.png"
    argv = ["eval", str(ckpt), "--tta", "ten-crop", "--resize", "40", "--num-workers", "2"]
    has_matplotlib = "matplotlib" in sys.modules or _importable("matplotlib")
    assert main(argv + (["--confusion-png", str(png)] if has_matplotlib else [])) == 0
    out = capsys.readouterr().out
    assert "held-out set: images in" in out and "12 images, 3 classes" in out
    assert "centre crop 32x32" in out and "ten-crop 32x32 (10 views)" in out
    assert "top-5" not in out
    assert " cat    4    0    0\n dog    0    4    0\n fox    0    0    4" in out
    assert re.search(r"\nmean +100\.0% +100\.0%\n", out)
    if has_matplotlib:
        assert png.stat().st_size > 5000


def test_eval_refuses_a_crop_larger_than_the_images(trained, capsys):
    _, ckpt = trained
    assert main(["eval", str(ckpt), "--tta", "five-crop", "--crop", "48"]) == 2
    err = capsys.readouterr().err
    assert "crop 48x48 does not fit images of 37x37" in err and len(err.splitlines()) == 1


def _importable(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None
