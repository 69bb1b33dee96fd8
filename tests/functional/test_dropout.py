"""dropout and dropout2d: identity in eval, inverted scaling, statistics, reproducibility."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, assert_gradcheck


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_eval_is_the_identity(fn):
    x = sn.randn(4, 3, 5, 5, requires_grad=True)
    assert fn(x, p=0.5, training=False) is x


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_survivors_are_scaled_and_gradient_follows_the_mask(device, p):
    sn.manual_seed(0)
    x = sn.tensor(np.random.default_rng(1).uniform(1, 2, (50, 40)), device=device,
                  requires_grad=True)
    y = F.dropout(x, p)
    gy = np.random.default_rng(2).standard_normal((50, 40))
    y.backward(sn.tensor(gy, device=device))
    out, xv, gx = y.detach().numpy(), x.detach().numpy(), x.grad.numpy()
    kept = out != 0                                           # x >= 1, so zero means dropped
    np.testing.assert_allclose(out[kept], xv[kept] / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(gx[kept], gy[kept] / (1 - p), rtol=1e-15)
    assert not gx[~kept].any()


def test_training_keeps_the_mean():
    # 200,000 ones, p = 0.3: each output is 0 or 1/0.7, mean 1 and standard deviation
    # sqrt(p/(1−p)) ≈ 0.65, so the sample mean has standard error 0.65/√200000 ≈ 0.0015 and
    # the dropped fraction sqrt(p(1−p)/200000) ≈ 0.001. Tolerance 0.01: more than 6 standard
    # errors, with a fixed seed so the test is deterministic.
    sn.manual_seed(1234)
    y = F.dropout(sn.ones(200_000), p=0.3).numpy()
    assert abs(y.mean() - 1.0) < 0.01
    assert abs((y == 0).mean() - 0.3) < 0.01


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_manual_seed_reproduces_the_mask(fn):
    x = sn.ones(8, 6, 3, 3)
    sn.manual_seed(7)
    first = fn(x, 0.5).numpy()
    second = fn(x, 0.5).numpy()
    sn.manual_seed(7)
    again = fn(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert (first != second).any()                             # the generator moved on


def test_dropout_gradcheck_under_a_fixed_seed():
    def fn(x):
        sn.manual_seed(3)                                      # same mask on every call
        return F.dropout(x, 0.4)

    assert_gradcheck(fn, [np.random.default_rng(0).standard_normal((3, 4, 2))])


@pytest.mark.parametrize("shape", [(6, 5, 4, 4), (6, 5, 7), (6, 5)])
def test_dropout2d_drops_whole_channels(shape):
    sn.manual_seed(0)
    y = F.dropout2d(sn.ones(*shape), p=0.5).numpy()
    planes = y.reshape(shape[0], shape[1], -1)
    assert np.all((planes == 0) | (planes == 2.0))
    assert np.all(planes.min(axis=2) == planes.max(axis=2))     # one decision per (n, c)
    assert 0 < (planes[:, :, 0] == 0).sum() < shape[0] * shape[1]


def test_p_zero_and_one_match_torch():
    x = sn.randn(3, 4, requires_grad=True)
    np.testing.assert_array_equal(F.dropout(x, 0.0).detach().numpy(), x.detach().numpy())
    y = F.dropout(x, 1.0)
    y.backward(np.ones((3, 4), np.float32))
    assert not y.detach().numpy().any() and not np.isnan(y.detach().numpy()).any()
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probability_outside_unit_interval_raises(fn, p):
    with pytest.raises(ValueError, match=f"{fn.__name__}: dropout probability has to be "
                                         f"between 0 and 1, but got {p}"):
        fn(sn.ones(2, 3), p)


def test_dropout2d_needs_a_channel_dim():
    with pytest.raises(ValueError, match=r"dropout2d: .*at least 2 dimensions.*\(5,\)"):
        F.dropout2d(sn.ones(5), 0.5)
