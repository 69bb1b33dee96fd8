"""viz.GradientFlow: per-layer statistics equal those computed by hand with NumPy."""
import sys

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


def _mlp(rng):
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    return model


def _stats(v):
    return v.mean(), v.std(), np.linalg.norm(v.ravel())


def test_statistics_equal_those_computed_by_hand():
    rng = np.random.default_rng(0)
    model = _mlp(rng)
    x = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 3))
    flow = sn.viz.GradientFlow(model)
    model(sn.tensor(x)).backward(g)

    W1, b1 = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    W2, b2 = model[2].weight.detach().numpy(), model[2].bias.detach().numpy()
    h = x @ W1.T + b1
    r = np.maximum(h, 0)
    o = r @ W2.T + b2
    g_o = g                      # dL/do: the upstream gradient
    g_r = g_o @ W2               # dL/dr
    g_h = g_r * (h > 0)          # dL/dh: ReLU passes the gradient where h > 0
    param_grad_1 = np.sqrt(np.sum((g_h.T @ x) ** 2) + np.sum(g_h.sum(0) ** 2))
    param_grad_2 = np.sqrt(np.sum((g_o.T @ r) ** 2) + np.sum(g_o.sum(0) ** 2))

    stats = flow.stats
    assert [(s.name, s.type, s.shape) for s in stats] == [
        ("0", "Linear", (5, 6)), ("1", "ReLU", (5, 6)), ("2", "Linear", (5, 3))]
    for s, act, grad, pgrad in zip(stats, (h, r, o), (g_h, g_r, g_o),
                                   (param_grad_1, None, param_grad_2)):
        np.testing.assert_allclose((s.act_mean, s.act_std, s.act_norm), _stats(act), rtol=1e-12)
        np.testing.assert_allclose((s.grad_mean, s.grad_std, s.grad_norm), _stats(grad),
                                   rtol=1e-12)
        assert s.zeros == np.mean(act == 0)
        if pgrad is None:
            assert s.param_grad_norm is None
        else:
            np.testing.assert_allclose(s.param_grad_norm, pgrad, rtol=1e-12)
    assert 0 < stats[1].zeros < 1  # the case exercises dead units


class _SharedReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.relu = nn.Linear(3, 3), nn.Linear(3, 2), nn.ReLU()

    def forward(self, x):
        return self.relu(self.fc2(self.relu(self.fc1(x))))


def test_a_module_called_twice_gets_a_row_per_call_and_a_new_forward_starts_afresh():
    model = _SharedReLU()
    with sn.viz.GradientFlow(model) as flow:
        for _ in range(2):
            model(sn.randn(4, 3)).sum().backward()
            assert [s.name for s in flow.stats] == ["fc1", "relu", "fc2", "relu#2"]
            assert all(s.grad_norm is not None for s in flow.stats)
    model(sn.randn(4, 3))  # hooks removed: nothing recorded
    assert len(flow.stats) == 4


def test_table_lists_every_layer():
    rng = np.random.default_rng(1)
    model = _mlp(rng)
    flow = sn.viz.GradientFlow(model, layers=["1"])
    assert "no forward pass seen yet" in str(flow)
    model(sn.tensor(rng.standard_normal((2, 4)))).backward(rng.standard_normal((2, 3)))
    lines = str(flow).splitlines()
    assert lines[0].split()[:3] == ["layer", "type", "output"]
    assert [ln.split()[:2] for ln in lines[2:]] == [["1", "ReLU"]]


def test_unknown_layer_name_lists_the_known_ones():
    model = _SharedReLU()
    with pytest.raises(ValueError, match=r"no layer named 'fc3'\. Did you mean 'fc2', 'fc1'"
                                         r".*Its layers .*: fc1, fc2, relu"):
        sn.viz.GradientFlow(model, layers=["fc3"])


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch):
    model = _SharedReLU()
    flow = sn.viz.GradientFlow(model)
    model(sn.randn(2, 3)).sum().backward()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match="GradientFlow.plot draws with matplotlib.*"
                                          "pip install matplotlib"):
        flow.plot()


def test_plot_saves_a_figure(tmp_path):
    pytest.importorskip("matplotlib")
    model = _SharedReLU()
    flow = sn.viz.GradientFlow(model)
    model(sn.randn(2, 3)).sum().backward()
    flow.plot(str(tmp_path / "flow.png"))
    assert (tmp_path / "flow.png").stat().st_size > 1000
