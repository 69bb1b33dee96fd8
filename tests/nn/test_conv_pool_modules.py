"""nn.Conv2d and the pooling layers: torch's parameter names, shapes, init, reprs and outputs."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from tests.helpers import assert_matches_torch

torch = pytest.importorskip("torch")

CONVS = [dict(in_channels=3, out_channels=8, kernel_size=3),
         dict(in_channels=4, out_channels=6, kernel_size=(5, 3), stride=(2, 1), padding=(2, 1),
              dilation=(1, 2), groups=2, bias=False),
         dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", groups=4)]


@pytest.mark.parametrize("kwargs", CONVS)
def test_conv2d_parameters_and_repr_match_torch(kwargs):
    ours, theirs = nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    assert ours.weight.dtype == np.float32


def test_conv2d_default_init_bounds_match_torch():
    """Weight and bias uniform in ±1/√fan_in, fan_in = C/G·KH·KW = 2·5·3 = 30."""
    sn.manual_seed(0)
    layer = nn.Conv2d(4, 64, (5, 3), groups=2)
    bound = 1 / np.sqrt(30)
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound      # fills the range (960 weights, 64 biases)
    assert abs(layer.weight.detach().numpy().std() - bound / np.sqrt(3)) < 0.1 * bound


@pytest.mark.parametrize("kwargs", CONVS)
def test_conv2d_forward_matches_torch_with_the_same_weights(kwargs):
    ours, theirs = nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        if ours.bias is not None:
            theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    ours.double()
    x = np.random.default_rng(0).standard_normal((2, kwargs["in_channels"], 9, 8))
    assert_matches_torch(ours, theirs, [x])


def test_conv2d_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\): in_channels=3 .* divisible by "
                                         r"groups=2"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match=r"padding_mode must be one of \('zeros', 'reflect', "
                                         r"'replicate', 'circular'\), got 'mirror'"):
        nn.Conv2d(3, 8, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*expected input \(N, 3, H, W\).*"
                                         r"got \(1, 4, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(sn.zeros(1, 4, 5, 5))


POOLS = [("MaxPool2d", dict(kernel_size=3, stride=2)),
         ("MaxPool2d", dict(kernel_size=(2, 3), padding=1, dilation=(2, 1), ceil_mode=True)),
         ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                            count_include_pad=False)),
         ("AvgPool2d", dict(kernel_size=2)),
         ("AdaptiveAvgPool2d", dict(output_size=(3, 2))),
         ("AdaptiveMaxPool2d", dict(output_size=4))]


@pytest.mark.parametrize("name, kwargs", POOLS)
def test_pooling_layers_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == []
    x = np.random.default_rng(1).permutation(2 * 3 * 9 * 10).reshape(2, 3, 9, 10) * 0.1
    assert_matches_torch(ours, theirs, [x])


def test_max_pool_layer_returns_indices():
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 6))
    y, idx = nn.MaxPool2d(2, return_indices=True)(sn.tensor(x))
    _, ref = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), ref.numpy())
