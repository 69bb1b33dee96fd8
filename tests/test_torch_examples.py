"""The two torch-shaped examples: each runs under scratchnet (--smoke), and the very same file
runs under PyTorch once its marked import block is swapped for torch's, which shows that
everything else in it is plain torch code."""
import importlib.util
import multiprocessing
import os
import sys
import types

import numpy as np
import pytest

import scratchnet as sn

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
BEGIN, END = "# --- the lines that differ from the PyTorch script", "# ---\n"

# scratchnet import line -> the torch line it stands for
TORCH_LINES = {
    "import scratchnet as torch": "import torch",
    "import scratchnet.nn as nn": "import torch.nn as nn",
    "import scratchnet.nn.functional as F": "import torch.nn.functional as F",
    "import scratchnet.optim as optim": "import torch.optim as optim",
    "from scratchnet.data import transforms": "from torchvision import transforms",
    "from scratchnet.optim.lr_scheduler import StepLR":
        "from torch.optim.lr_scheduler import StepLR",
    "from scratchnet.nn import init": "from torch.nn import init",
    "from scratchnet.utils.data import Dataset": "from torch.utils.data import Dataset",
    "from scratchnet.utils.data import DataLoader, Dataset":
        "from torch.utils.data import DataLoader, Dataset",
}
# data sources (plain NumPy) that both versions read
DATA_LINES = {"from scratchnet.data import mnist_5k_split", "from scratchnet.data import synthetic"}


def _load(name, source=None):
    path = os.path.join(EXAMPLES, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    if source is None:
        spec.loader.exec_module(module)
    else:
        exec(compile(source, path, "exec"), module.__dict__)
    return module


def _torch_source(name):
    """The example with its import block swapped for torch's; fails if any line of the block
    is not a known import, or if scratchnet appears anywhere else outside the docstring."""
    with open(os.path.join(EXAMPLES, f"{name}.py")) as f:
        source = f.read()
    head, rest = source.split(BEGIN, 1)
    block, tail = rest.split(END, 1)
    lines = [ln for ln in block.splitlines()[1:] if ln.strip()]
    assert lines and all(ln in TORCH_LINES for ln in lines), lines
    docstring_end = head.index('"""', 3) + 3
    for ln in (head[docstring_end:] + tail).splitlines():
        assert "scratchnet" not in ln or ln in DATA_LINES, ln
    return head + "\n".join(TORCH_LINES[ln] for ln in lines) + "\n" + tail


def _torchvision_transforms(torch):
    """torchvision's ToTensor, Normalize and Compose (torchvision is not a dependency here)."""
    def to_tensor(pic):
        array = np.asarray(pic)
        array = array[:, :, None] if array.ndim == 2 else array
        return torch.from_numpy(array.transpose(2, 0, 1).copy()).float().div(255)

    def normalize(mean, std):
        m, s = torch.tensor(mean).view(-1, 1, 1), torch.tensor(std).view(-1, 1, 1)
        return lambda t: (t - m) / s

    def compose(steps):
        def run(x):
            for step in steps:
                x = step(x)
            return x
        return run

    return types.SimpleNamespace(ToTensor=lambda: to_tensor, Normalize=normalize,
                                 Compose=compose)


def test_mnist_example_trains_and_saves(tmp_path, capsys):
    # its worker process needs fork here: other start methods import the example by name
    workers = [] if multiprocessing.get_start_method() == "fork" else ["--num-workers", "0"]
    loss, correct = _load("torch_mnist").main(["--smoke", "--out", str(tmp_path)] + workers)
    assert np.isfinite(loss) and correct > 2 * 20     # chance: 20 of 200 held-out digits
    assert "Test set: Average loss" in capsys.readouterr().out
    state = sn.load(str(tmp_path / "mnist_cnn.pt"))
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        "conv1.weight": (32, 1, 3, 3), "conv1.bias": (32,), "conv2.weight": (64, 32, 3, 3),
        "conv2.bias": (64,), "fc1.weight": (128, 9216), "fc1.bias": (128,),
        "fc2.weight": (10, 128), "fc2.bias": (10,)}


def test_cifar_resnet_example_trains_saves_and_resumes(tmp_path, capsys):
    example = _load("torch_cifar_resnet")
    example.main(["--smoke", "--out", str(tmp_path)])
    checkpoint = sn.load(str(tmp_path / "checkpoint" / "ckpt.pth"))
    assert checkpoint["epoch"] == 0 and "layer3.2.bn2.running_var" in checkpoint["net"]
    example.main(["--smoke", "--out", str(tmp_path), "--resume"])
    out = capsys.readouterr().out
    assert "272474 parameters" in out and "Resuming from checkpoint" in out
    assert "Epoch: 1" in out                       # continued after the saved epoch 0


# the torch run skips the MNIST example's worker process: torch's DataLoader is not on trial
@pytest.mark.parametrize("name, extra", [("torch_mnist", ["--num-workers", "0"]),
                                         ("torch_cifar_resnet", [])])
def test_example_is_torch_code(name, extra, tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "torchvision",
                            types.SimpleNamespace(transforms=_torchvision_transforms(torch)))
    threads = torch.get_num_threads()
    try:
        _load(name, _torch_source(name)).main(["--smoke", "--out", str(tmp_path)] + extra)
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "Test set: Average loss" in out or "test   loss" in out
