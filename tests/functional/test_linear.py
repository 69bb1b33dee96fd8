"""linear: y = x Wᵀ + b against finite differences and torch, and its bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")


@st.composite
def linear_cases(draw):
    """Shapes of x (*, in), W (out, in) and b (out,) or None; * may be empty."""
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    lead = draw(shapes(0, 2, 1, 4))
    bias = (n_out,) if draw(st.booleans()) else None
    return lead + (n_in,), (n_out, n_in), bias


def _arrays(case, seed):
    rng = np.random.default_rng(seed)
    return [None if s is None else values(rng, s) for s in case]


@given(case=linear_cases(), seed=seeds)
def test_linear_gradcheck(case, seed):
    assert_gradcheck(F.linear, _arrays(case, seed))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=linear_cases(), seed=seeds)
def test_linear_matches_torch(dtype, device, case, seed):
    assert_matches_torch(F.linear, torch.nn.functional.linear, _arrays(case, seed), dtype,
                         seed=seed, device=device)


def test_linear_gradient_of_weight_only_as_for_a_frozen_input():
    x, w, b = _arrays(((3, 4), (2, 4), (2,)), 5)
    assert_matches_torch(F.linear, torch.nn.functional.linear, [x, w, b],
                         requires_grad=[False, True, True])


@pytest.mark.parametrize("x, w, b, message", [
    ((3, 4), (2, 5), None, r"linear: input of shape \(3, 4\) does not match weight of shape "
                           r"\(2, 5\)"),
    ((3, 4), (4,), None, r"linear: input of shape \(3, 4\) does not match weight of shape \(4,\)"),
    ((3, 4), (2, 4), (3,), r"linear: bias of shape \(3,\) does not match weight of shape "
                           r"\(2, 4\)"),
])
def test_linear_shape_mismatch_raises_naming_shapes(x, w, b, message):
    with pytest.raises(ValueError, match=message):
        F.linear(sn.ones(*x), sn.ones(*w), None if b is None else sn.ones(*b))


def test_linear_with_two_float_dtypes_raises_as_torch():
    x, w = sn.ones(3, 4), sn.ones(2, 4, dtype=sn.float64)
    with pytest.raises(TypeError, match=r"linear: .*float32 \(3, 4\), float64 \(2, 4\)"):
        F.linear(x, w)
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.ones(3, 4), torch.ones(2, 4, dtype=torch.float64))
