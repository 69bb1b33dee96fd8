"""Fine-tuning: --init-from (scratchnet checkpoints and state_dicts, torch files), a new
classifier with --num-classes, --freeze, and their user errors."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import io
from scratchnet.cli import main

SMOKE = ["--dataset", "synthetic", "--no-progress", "--no-curves", "--batch-size", "128",
         "--epochs", "1"]


def _weights(path):
    return sn.load(path)["model"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 1-epoch LeNet-5 with 12 outputs, trained on the 10 synthetic classes."""
    out = tmp_path_factory.mktemp("pretrained")
    assert main(["train", "lenet5", *SMOKE, "--num-classes", "12", "--out", str(out)]) == 0
    return out / "last.npz"


def test_init_from_replaces_the_classifier_and_freezes(tmp_path, pretrained, capsys):
    before = _weights(pretrained)
    assert main(["train", "lenet5", *SMOKE, "--init-from", str(pretrained), "--num-classes",
                 "10", "--freeze", "features.", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"weights from {pretrained}; new classifier.output for 10 classes" in out
    assert "frozen: features. (4 tensors, 2,572 parameters)" in out   # 156+6 + 2,400+16
    ckpt = sn.load(tmp_path / "last.npz")
    after = ckpt["model"]
    for key in ("features.c1.weight", "features.c1.bias", "features.c3.weight"):
        np.testing.assert_array_equal(after[key], before[key])        # frozen: untouched
    assert not np.array_equal(after["classifier.c5.weight"], before["classifier.c5.weight"])
    assert after["classifier.output.weight"].shape == (10, 84)
    assert ckpt["config"]["freeze"] == ["features."]
    assert ckpt["config"]["init_from"] == str(pretrained)
    assert ckpt["model_kwargs"] == {"num_classes": 10} and ckpt["epoch"] == 1
    assert len(ckpt["optimizer"]["state"]) == 6                       # trained tensors only
    assert main(["train", "lenet5", "--resume", str(tmp_path / "last.npz"), "--epochs", "2",
                 "--no-progress", "--no-curves"]) == 2                # epochs: a setting
    assert "--epochs 2 differs from the checkpoint's 1" in capsys.readouterr().err


def test_the_same_number_of_classes_loads_every_weight(tmp_path, pretrained):
    assert main(["train", "lenet5", *SMOKE, "--init-from", str(pretrained), "--num-classes",
                 "12", "--lr", "1e-9", "--momentum", "0", "--weight-decay", "0",
                 "--out", str(tmp_path)]) == 0
    for key, value in _weights(pretrained).items():
        np.testing.assert_allclose(_weights(tmp_path / "last.npz")[key], value, atol=1e-6)


def test_a_torch_file_under_a_prefix(tmp_path, pretrained):
    torch = pytest.importorskip("torch")
    state = {f"module.{k}": torch.from_numpy(v) for k, v in _weights(pretrained).items()}
    torch.save({"state_dict": state, "epoch": 1}, tmp_path / "lenet.pth")
    plain = tmp_path / "plain.npz"
    io.save(_weights(pretrained), plain)                               # a bare state_dict
    for source in (tmp_path / "lenet.pth", plain):
        out = tmp_path / source.stem
        assert main(["train", "lenet5", *SMOKE, "--init-from", str(source), "--num-classes",
                     "12", "--freeze", "features.c1", "--out", str(out)]) == 0
        np.testing.assert_array_equal(_weights(out / "last.npz")["features.c1.weight"],
                                      _weights(pretrained)["features.c1.weight"])


@pytest.mark.parametrize("extra, message", [
    (["--init-from", "{pretrained}"],
     "its classifier has 12 outputs and this run's data 10 classes; pass --num-classes 10"),
    (["--init-from", "{tmp}/nothing.npz"], "nothing.npz: no such file"),
    (["--init-from", "{pretrained}", "--resume", "{pretrained}"], "pass one of them"),
    (["--freeze", "conv1."], "--freeze conv1.: no parameter name starts with it; the model's "
                             "start features., classifier."),
    (["--freeze", "features.", "--freeze", "classifier."], "freezes every parameter"),
    (["--num-classes", "3"], "--num-classes 3 is fewer than the 10 classes of the data"),
    (["--num-classes", "0"], "--num-classes must be at least 1, got 0"),
])
def test_user_errors(tmp_path, pretrained, capsys, extra, message):
    extra = [e.format(pretrained=pretrained, tmp=tmp_path) for e in extra]
    assert main(["train", "lenet5", *SMOKE, *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_weights_of_another_model_do_not_fit(tmp_path, capsys):
    from scratchnet.models import get_model
    io.save(get_model("resnet20").state_dict(), tmp_path / "resnet20.npz")
    assert main(["train", "lenet5", *SMOKE, "--init-from", str(tmp_path / "resnet20.npz"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "none of its 116 arrays is a weight of this model" in err   # resnet20: 116 entries
