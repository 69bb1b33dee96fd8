"""Smoke runs of every script in examples/ with its tiny --smoke settings: each finishes,
prints its table, and returns rows whose figures are checked where they are exact."""
import importlib.util
import itertools
import os
import sys

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _run(name, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the no-plot path, even if installed
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--smoke", "--out", str(tmp_path)])


def test_param_chart(tmp_path, monkeypatch, capsys):
    rows = _run("param_chart", tmp_path, monkeypatch)
    assert [r[2] for r in rows] == [61_706, 269_722]  # LeNet-5 and ResNet-20 (REFERENCE.md)
    assert "no plot: param_chart.png draws with matplotlib" in capsys.readouterr().out


def test_small_kernels(tmp_path, monkeypatch):
    rows = _run("small_kernels", tmp_path, monkeypatch)
    C = 4
    # weights + biases by hand: 49C²+C, 27C²+3C, 25C²+C, 18C²+2C; fields 7, 7, 5, 5
    assert [r[2] for r in rows] == [49 * C * C + C, 27 * C * C + 3 * C, 25 * C * C + C,
                                    18 * C * C + 2 * C]
    assert [(r[4], r[5]) for r in rows] == [(7, "7x7"), (7, "7x7"), (5, "5x5"), (5, "5x5")]


def test_bottleneck_1x1(tmp_path, monkeypatch):
    inception, blocks = _run("bottleneck_1x1", tmp_path, monkeypatch)
    # 3a at a quarter width: in 48; 1x1 16; 3x3 24 -> 32; 5x5 4 -> 8; pool proj 8 (biases in)
    with_1x1 = (48 * 16 + 16) + (48 * 24 + 24) + (24 * 32 * 9 + 32) + (48 * 4 + 4) \
        + (4 * 8 * 25 + 8) + (48 * 8 + 8)
    naive = (48 * 16 + 16) + (48 * 32 * 9 + 32) + (48 * 8 * 25 + 8)
    assert inception[0][2:4] == (naive, with_1x1)
    # bottleneck 64 -> 16 -> 64: convs 64·16 + 16·16·9 + 16·64, BN 2·(16 + 16 + 64)
    assert blocks[0][2] == 64 * 16 + 16 * 16 * 9 + 16 * 64 + 2 * (16 + 16 + 64)


def test_degradation(tmp_path, monkeypatch):
    rows = _run("degradation", tmp_path, monkeypatch)
    assert [r[0] for r in rows] == ["plain20", "resnet20"]
    assert all(r[1] == 19 and r[2] > 0 for r in rows)


def test_alexnet_tricks(tmp_path, monkeypatch):
    rows = _run("alexnet_tricks", tmp_path, monkeypatch)
    assert [r[0] for r in rows][1] == "tanh instead of ReLU"


def test_filters(tmp_path, monkeypatch):
    rows = _run("filters", tmp_path, monkeypatch)
    assert len(rows) == 6


def test_densenet_growth(tmp_path, monkeypatch):
    rows, results = _run("densenet_growth", tmp_path, monkeypatch)
    # smoke net: 8 initial features, k = 4, blocks of 2 and 3 layers, transition halves
    assert [(r[1], r[3], r[4]) for r in rows] == [(2, "8 -> 12", 16), (3, "8 -> 16", 20)]
    assert [r[0] for r in results] == ["memory_efficient=False", "memory_efficient=True"]


@pytest.mark.parametrize("name", ["param_chart", "filters"])
def test_plot_is_saved_when_matplotlib_is_installed(name, tmp_path):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--smoke", "--out", str(tmp_path)])
    assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_train_mlp_takes_smoke_and_out(tmp_path, monkeypatch, capsys):
    history = _run("train_mlp", tmp_path, monkeypatch)
    assert [h[0] for h in history] == [1]                   # --smoke: one epoch
    assert history[0][2] > 0.7                              # 500 digits are enough for 70%
    out = capsys.readouterr().out
    assert "Sequential on input 1x784" in out and "Total params:          101,770" in out
    assert "no plot: train_mlp.png draws with matplotlib" in out


@pytest.mark.parametrize("name", ["train_cifar_vgg", "train_cifar_resnet"])
def test_cifar_examples_smoke_and_say_what_synthetic_data_shows(name, tmp_path, monkeypatch,
                                                               capsys):
    history = _run(name, tmp_path, monkeypatch)
    assert [r["epoch"] for r in history] == [1]
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 1
    assert "not a CIFAR-10 result" in capsys.readouterr().out


def test_higher_order(tmp_path, monkeypatch):
    newton, tanh, penalty = _run("higher_order", tmp_path, monkeypatch)
    # each iterate is the previous one minus H⁻¹∇f, with f's gradient and Hessian by hand
    for (_, x, y, _), (_, x1, y1, _) in itertools.pairwise(newton):
        gradient = [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
        hessian = [[2 - 400 * y + 1200 * x * x, -400 * x], [-400 * x, 200]]
        step = np.linalg.solve(hessian, gradient)
        assert (x1, y1) == pytest.approx((x - step[0], y - step[1]), rel=1e-9, abs=1e-12)
    assert newton[-1][1:3] == pytest.approx((1.0, 1.0), abs=1e-9)
    assert all(abs(a - b) < 1e-12 for _, _, a, b in tanh)       # the closed forms
    assert [r[0] for r in penalty] == ["conv1", "conv2", "fc", "fc_bias"]
    assert all(diff is None or diff < 1e-10 for *_, diff in penalty)   # torch's gradients
