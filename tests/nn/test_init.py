"""nn.init draws from the same distributions as torch.nn.init (compared by their moments and
ranges on large tensors, since the random streams differ)."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn

torch = pytest.importorskip("torch")

SHAPE = (128, 64, 3, 3)  # a conv weight: fan_in 576, fan_out 1152


def _both(init_name, **kwargs):
    sn.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(nn.init, init_name)(sn.zeros(SHAPE), **kwargs).numpy()
    theirs = getattr(torch.nn.init, init_name)(torch.zeros(SHAPE), **kwargs).numpy()
    return ours, theirs


@pytest.mark.parametrize("name, kwargs", [
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": 5 ** 0.5}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("uniform_", {"a": -0.3, "b": 0.1}), ("normal_", {"mean": 1.0, "std": 0.02}),
    ("trunc_normal_", {"std": 0.5, "a": -0.6, "b": 0.9}),
])
def test_init_matches_torch_distribution(name, kwargs):
    ours, theirs = _both(name, **kwargs)
    # 73,728 draws: the sample mean and std agree to well under 2% of the std
    scale = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 0.02 * scale
    assert abs(ours.std() - theirs.std()) < 0.02 * scale
    if "uniform" in name or name == "trunc_normal_":
        assert ours.min() >= theirs.min() - 0.01 * scale
        assert ours.max() <= theirs.max() + 0.01 * scale


def test_constant_zeros_ones():
    t = sn.zeros(3, 2)
    assert np.all(nn.init.constant_(t, 0.5).numpy() == 0.5)
    assert np.all(nn.init.ones_(t).numpy() == 1) and np.all(nn.init.zeros_(t).numpy() == 0)


@pytest.mark.parametrize("nonlinearity, param", [("relu", None), ("tanh", None),
                                                 ("leaky_relu", 0.2), ("linear", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def test_linear_default_init_matches_torch_range():
    sn.manual_seed(0)
    ours, theirs = nn.Linear(300, 200), torch.nn.Linear(300, 200)
    for a, b in [(ours.weight, theirs.weight), (ours.bias, theirs.bias)]:
        a, b = a.detach().numpy(), b.detach().numpy()
        bound = 1 / np.sqrt(300)
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.95 * bound
        assert abs(a.std() - b.std()) < 0.05 * b.std()


def test_init_is_reproducible_under_manual_seed():
    sn.manual_seed(7)
    a = nn.Linear(4, 4).weight.detach().numpy()
    sn.manual_seed(7)
    b = nn.Linear(4, 4).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_fan_of_a_vector_raises():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.kaiming_uniform_(sn.zeros(5))
