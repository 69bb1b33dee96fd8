"""Elementwise arithmetic and matmul: finite differences, parity with torch, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import (
    broadcastable_shapes,
    distinct_values,
    nonzero_values,
    seeds,
    shapes,
    values,
)

torch = pytest.importorskip("torch")


def positive(rng, shape, dtype=np.float64):
    return values(rng, shape, dtype, 0.5, 2.0)


# name: (scratchnet op, torch op, fill of the first operand, fill of the second)
BINARY = {
    "add": (F.add, torch.add, values, values),
    "sub": (F.sub, torch.sub, values, values),
    "mul": (F.mul, torch.mul, values, values),
    "div": (F.div, torch.div, values, nonzero_values),
    "pow": (F.pow, torch.pow, positive, values),  # x^p for x > 0: both gradients are finite
}

# name: (scratchnet op, torch op, fill); abs draws values away from its kink at 0
UNARY = {
    "neg": (F.neg, torch.neg, values),
    "exp": (F.exp, torch.exp, values),
    "log": (F.log, torch.log, positive),
    "sqrt": (F.sqrt, torch.sqrt, positive),
    "abs": (F.abs, torch.abs, distinct_values),
}


@pytest.mark.parametrize("name", BINARY)
@given(pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_binary_gradcheck(name, pair, seed):
    op, _, fill_a, fill_b = BINARY[name]
    rng = np.random.default_rng(seed)
    assert_gradcheck(op, [fill_a(rng, pair[0]), fill_b(rng, pair[1])])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", BINARY)
@given(pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_binary_matches_torch(name, dtype, device, pair, seed):
    op, torch_op, fill_a, fill_b = BINARY[name]
    rng = np.random.default_rng(seed)
    assert_matches_torch(op, torch_op, [fill_a(rng, pair[0]), fill_b(rng, pair[1])], dtype,
                         seed=seed, device=device)


def test_add_alpha_matches_torch():
    rng = np.random.default_rng(0)
    a, b = values(rng, (3, 4)), values(rng, (4,))
    assert_matches_torch(lambda x, y: F.add(x, y, alpha=-2.5),
                         lambda x, y: torch.add(x, y, alpha=-2.5), [a, b])


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes(0, 3), seed=seeds)
def test_unary_gradcheck(name, shape, seed):
    op, _, fill = UNARY[name]
    assert_gradcheck(op, [fill(np.random.default_rng(seed), shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes(0, 3), seed=seeds)
def test_unary_matches_torch(name, dtype, device, shape, seed):
    op, torch_op, fill = UNARY[name]
    assert_matches_torch(op, torch_op, [fill(np.random.default_rng(seed), shape)], dtype,
                         seed=seed, device=device)


def test_abs_gradient_is_zero_at_zero_as_torch():
    assert_matches_torch(F.abs, torch.abs, [np.array([-1.0, 0.0, 2.0])])


@st.composite
def clamp_bounds(draw):
    """min/max on multiples of 0.1; distinct_values (gap 0.1) keep >= 0.03 away from them.
    Either bound may be None, and min may exceed max (torch then returns max everywhere)."""
    bound = st.one_of(st.none(), st.integers(-15, 15).map(lambda k: k * 0.1))
    low, high = draw(bound), draw(bound)
    if low is None and high is None:
        low = draw(st.integers(-15, 15)) * 0.1
    return low, high


@given(shape=shapes(0, 3), bounds=clamp_bounds(), seed=seeds)
def test_clamp_gradcheck(shape, bounds, seed):
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda t: F.clamp(t, *bounds), [x])


@pytest.mark.parametrize("dtype", FLOATS)
@given(shape=shapes(0, 3), bounds=clamp_bounds(), seed=seeds)
def test_clamp_matches_torch(dtype, shape, bounds, seed):
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: F.clamp(t, *bounds), lambda t: torch.clamp(t, *bounds), [x],
                         dtype, seed=seed)


def test_clamp_passes_the_gradient_at_the_bounds_as_torch():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert_matches_torch(lambda t: F.clamp(t, -0.5, 0.5), lambda t: torch.clamp(t, -0.5, 0.5),
                         [x])


@st.composite
def matmul_shapes(draw):
    """Operand shapes covering 1-d·1-d, 1-d·batched, batched·1-d and broadcast batch dims."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(max_dims=2, max_side=3))
    a = draw(st.sampled_from([(k,), batch_a + (n, k)]))
    b = draw(st.sampled_from([(k,), batch_b + (k, m)]))
    return a, b


@given(pair=matmul_shapes(), seed=seeds)
def test_matmul_gradcheck(pair, seed):
    rng = np.random.default_rng(seed)
    assert_gradcheck(F.matmul, [values(rng, pair[0]), values(rng, pair[1])])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(pair=matmul_shapes(), seed=seeds)
def test_matmul_matches_torch(dtype, device, pair, seed):
    rng = np.random.default_rng(seed)
    assert_matches_torch(F.matmul, torch.matmul, [values(rng, pair[0]), values(rng, pair[1])],
                         dtype, seed=seed, device=device)


def test_matmul_gradient_of_one_input_only():
    rng = np.random.default_rng(1)
    a, b = values(rng, (2, 3, 4)), values(rng, (4, 5))
    assert_matches_torch(F.matmul, torch.matmul, [a, b], requires_grad=[False, True])
    assert_matches_torch(F.matmul, torch.matmul, [a, b], requires_grad=[True, False])


@pytest.mark.parametrize("name", BINARY)
def test_binary_shapes_that_do_not_broadcast_raise_naming_op_and_shapes(name):
    op = BINARY[name][0]
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broad"):
        op(sn.ones(2, 3), sn.ones(4))


@pytest.mark.parametrize("a, b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 2, 3), (3, 3, 1)),
                                  ((2, 3), (2,))])
def test_matmul_incompatible_shapes_raise(a, b):
    with pytest.raises(ValueError, match=rf"matmul: shapes {a} and {b} cannot be multiplied"
                       .replace("(", r"\(").replace(")", r"\)")):
        F.matmul(sn.ones(*a), sn.ones(*b))


def test_matmul_of_a_0d_tensor_raises():
    with pytest.raises(ValueError, match=r"matmul: .*at least 1 dimension.*\(\) and \(3,\)"):
        F.matmul(sn.tensor(2.0), sn.ones(3))


def test_matmul_with_two_float_dtypes_raises_naming_both():
    with pytest.raises(TypeError, match=r"matmul: .*float32 \(2, 3\), float64 \(3, 4\)"):
        sn.ones(2, 3) @ sn.ones(3, 4, dtype=sn.float64)
    with pytest.raises(RuntimeError):  # torch refuses it too
        torch.ones(2, 3) @ torch.ones(3, 4, dtype=torch.float64)


def test_clamp_without_bounds_raises():
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        F.clamp(sn.ones(3))
