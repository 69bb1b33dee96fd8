"""Reductions: sum, mean, var, max, min, argmax, argmin against finite differences and torch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import distinct_values, seeds, shapes, shapes_and_dim, shapes_and_dims, values

torch = pytest.importorskip("torch")


def _dim_kwargs(dim, keepdim):
    return {} if dim is None else dict(dim=dim, keepdim=keepdim)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_sum_mean_gradcheck(name, case, keepdim, seed):
    shape, dim = case
    op = getattr(F, name)
    assert_gradcheck(lambda x: op(x, dim, keepdim),
                     [values(np.random.default_rng(seed), shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_sum_mean_match_torch(name, dtype, device, case, keepdim, seed):
    shape, dim = case
    op, torch_op = getattr(F, name), getattr(torch, name)
    kwargs = _dim_kwargs(dim, keepdim)
    assert_matches_torch(lambda x: op(x, **kwargs), lambda x: torch_op(x, **kwargs),
                         [values(np.random.default_rng(seed), shape)], dtype, seed=seed,
                         device=device)


@st.composite
def var_cases(draw):
    """A shape, a dim and a correction smaller than the number of reduced elements."""
    shape, dim = draw(shapes_and_dims(max_dims=3))
    axes = range(len(shape)) if dim is None else np.atleast_1d(dim)
    n = int(np.prod([shape[a] for a in axes]))
    return shape, dim, draw(st.integers(0, min(n - 1, 2)))


@given(case=var_cases(), keepdim=st.booleans(), seed=seeds)
def test_var_gradcheck(case, keepdim, seed):
    shape, dim, correction = case
    assert_gradcheck(lambda x: F.var(x, dim, correction=correction, keepdim=keepdim),
                     [values(np.random.default_rng(seed), shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=var_cases(), keepdim=st.booleans(), seed=seeds)
def test_var_matches_torch(dtype, device, case, keepdim, seed):
    shape, dim, correction = case
    assert_matches_torch(lambda x: F.var(x, dim, correction=correction, keepdim=keepdim),
                         lambda x: torch.var(x, dim, correction=correction, keepdim=keepdim),
                         [values(np.random.default_rng(seed), shape)], dtype, seed=seed,
                         device=device)


def test_var_unbiased_flag_and_method():
    x = values(np.random.default_rng(2), (3, 4))
    assert_matches_torch(lambda t: F.var(t, 1, unbiased=False),
                         lambda t: torch.var(t, 1, unbiased=False), [x])
    assert_matches_torch(lambda t: t.var(0, keepdim=True), lambda t: t.var(0, keepdim=True), [x])


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes(0, 3), seed=seeds)
def test_full_max_min_gradcheck(name, shape, seed):
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_gradcheck(getattr(F, name), [x])


@pytest.mark.parametrize("name", ["max", "min"])
@given(case=shapes_and_dim(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_dim_max_min_gradcheck(name, case, keepdim, seed):
    shape, dim = case
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda t: getattr(F, name)(t, dim, keepdim), [x])


def tied_values(rng, shape, dtype=np.float64):
    """Values from {-1, 0, 1}: small tensors are full of ties."""
    return rng.integers(-1, 2, shape).astype(dtype)


@pytest.mark.parametrize("fill", [distinct_values, tied_values])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes(0, 3), seed=seeds)
def test_full_max_min_match_torch_ties_split_evenly(name, dtype, fill, shape, seed):
    x = fill(np.random.default_rng(seed), shape)
    assert_matches_torch(getattr(F, name), getattr(torch, name), [x], dtype, seed=seed)


@pytest.mark.parametrize("fill", [distinct_values, tied_values])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["max", "min"])
@given(case=shapes_and_dim(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_dim_max_min_match_torch_ties_go_to_the_index(name, dtype, fill, case, keepdim, seed):
    shape, dim = case
    x = fill(np.random.default_rng(seed), shape)
    out = assert_matches_torch(lambda t: getattr(F, name)(t, dim, keepdim),
                               lambda t: getattr(torch, name)(t, dim, keepdim), [x], dtype,
                               seed=seed)
    assert out[1].dtype == np.int64 and not out[1].requires_grad


def test_max_dim_returns_named_values_and_indices():
    x = sn.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]])
    values_, indices = F.max(x, 1)
    assert F.max(x, 1).values.tolist() == values_.tolist() == [5.0, 7.0]
    assert indices.tolist() == [1, 0]  # the first of tied maxima, as torch
    assert x.min(dim=0).indices.tolist() == [0, 1, 0]


def test_full_max_splits_the_gradient_among_ties_by_hand():
    x = sn.tensor([3.0, 1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 0, 1 / 3, 1 / 3], rtol=1e-6)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=shapes(0, 3), keepdim=st.booleans(), use_dim=st.booleans(), seed=seeds,
       data=st.data())
def test_argmax_argmin_match_torch(name, shape, keepdim, use_dim, seed, data):
    x = tied_values(np.random.default_rng(seed), shape)
    kwargs = dict(keepdim=keepdim)
    if use_dim and shape:
        kwargs["dim"] = data.draw(st.integers(-len(shape), len(shape) - 1))
    ours = getattr(F, name)(sn.tensor(x, requires_grad=True), **kwargs)
    theirs = getattr(torch, name)(torch.tensor(x), **kwargs)
    assert ours.dtype == np.int64 and not ours.requires_grad
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "min", "argmax", "argmin"])
def test_dim_out_of_range_raises_naming_op_and_ndim(name):
    with pytest.raises(IndexError, match=rf"{name}: dimension 2 out of range .* 2 dimensions"):
        getattr(F, name)(sn.ones(2, 3), 2)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_of_an_empty_tensor_raise_naming_shape(name):
    with pytest.raises(RuntimeError, match=rf"{name}\(\): .*non-empty.*\(0, 3\)"):
        getattr(F, name)(sn.zeros(0, 3))
