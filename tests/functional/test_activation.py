"""relu, leaky_relu, sigmoid, tanh, softmax, log_softmax against finite differences and torch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import distinct_values, seeds, shapes, shapes_and_dim, values

torch = pytest.importorskip("torch")
TF = torch.nn.functional


slopes = st.sampled_from([0.01, 0.2, 1.5, -0.3])


def wide(rng, shape, dtype=np.float64):
    return values(rng, shape, dtype, -6.0, 6.0)


def _plain():
    return shapes(0, 3).map(lambda s: (s, {}))


def _with_dim():
    return shapes_and_dim(max_dims=3).map(lambda c: (c[0], dict(dim=c[1])))


# name: (strategy of (shape, kwargs), scratchnet op, torch op, fill); relu and leaky_relu draw
# values at least 0.03 from their kink at 0
CASES = {
    "relu": (_plain(), F.relu, TF.relu, distinct_values),
    "leaky_relu": (st.tuples(shapes(0, 3), slopes.map(lambda a: dict(negative_slope=a))),
                   F.leaky_relu, TF.leaky_relu, distinct_values),
    "sigmoid": (_plain(), F.sigmoid, torch.sigmoid, wide),
    "tanh": (_plain(), F.tanh, torch.tanh, wide),
    "softmax": (_with_dim(), F.softmax, TF.softmax, wide),
    "log_softmax": (_with_dim(), F.log_softmax, TF.log_softmax, wide),
}


@pytest.mark.parametrize("name", CASES)
@given(data=st.data(), seed=seeds)
def test_activation_gradcheck(name, data, seed):
    strategy, op, _, fill = CASES[name]
    shape, kwargs = data.draw(strategy, label="shape, kwargs")
    assert_gradcheck(lambda x: op(x, **kwargs), [fill(np.random.default_rng(seed), shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", CASES)
@given(data=st.data(), seed=seeds)
def test_activation_matches_torch(name, dtype, device, data, seed):
    strategy, op, torch_op, fill = CASES[name]
    shape, kwargs = data.draw(strategy, label="shape, kwargs")
    assert_matches_torch(lambda x: op(x, **kwargs), lambda x: torch_op(x, **kwargs),
                         [fill(np.random.default_rng(seed), shape)], dtype, seed=seed,
                         device=device)


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_gradient_at_the_kink_is_torchs(name):
    x = np.array([-1.0, 0.0, 0.0, 2.0])
    assert_matches_torch(getattr(F, name), getattr(TF, name), [x])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_is_stable_for_huge_logits(name, dtype):
    x = np.array([[1000.0, 999.0, -1000.0], [-800.0, -801.0, -799.5]])
    out = assert_matches_torch(lambda t: getattr(F, name)(t, 1),
                               lambda t: getattr(TF, name)(t, 1), [x], dtype)
    assert np.all(np.isfinite(out[0].detach().numpy()))


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_and_tanh_saturate_without_overflow(dtype):
    x = np.array([-100.0, -30.0, 0.0, 30.0, 100.0])
    for op, torch_op in [(F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh)]:
        out = assert_matches_torch(op, torch_op, [x], dtype)
        assert np.all(np.isfinite(out[0].detach().numpy()))


def test_tensor_methods_match_functional():
    x = values(np.random.default_rng(0), (2, 5))
    assert_matches_torch(lambda t: t.relu() + t.sigmoid() * t.tanh() - t.log_softmax(-1)
                         + t.softmax(0),
                         lambda t: t.relu() + t.sigmoid() * t.tanh() - t.log_softmax(-1)
                         + t.softmax(0), [x])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_bad_input_raises_naming_op(name):
    with pytest.raises(IndexError, match=rf"{name}: dimension 2 out of range .* 2 dimensions"):
        getattr(F, name)(sn.ones(2, 3), 2)
    with pytest.raises(TypeError, match=rf"{name}: expected a floating point tensor, got int64"):
        getattr(F, name)(sn.tensor([1, 2]), 0)
