"""where, maximum, minimum, clamp with tensor bounds, masked_fill, amax, amin against finite
differences and torch (ties and broadcasting included)."""
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
    seeds,
    shapes,
    shapes_and_dims,
    values,
)

torch = pytest.importorskip("torch")


def _pair(rng, shapes_pair):
    """Two arrays of broadcastable shapes, no two values within 0.06 of each other (away from
    the kinks of maximum, minimum and clamp)."""
    a_shape, b_shape = shapes_pair
    both = distinct_values(rng, (int(np.prod(a_shape)) + int(np.prod(b_shape)),))
    return both[:int(np.prod(a_shape))].reshape(a_shape), both[int(np.prod(a_shape)):].reshape(
        b_shape)


@given(shapes_pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_where_gradcheck(shapes_pair, seed):
    rng = np.random.default_rng(seed)
    a, b = (values(rng, s) for s in shapes_pair)
    cond = rng.random(np.broadcast_shapes(*shapes_pair)) < 0.5
    assert_gradcheck(lambda a, b: F.where(sn.tensor(cond), a, b), [a, b])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(shapes_pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_where_matches_torch(dtype, device, shapes_pair, seed):
    rng = np.random.default_rng(seed)
    a, b = (values(rng, s) for s in shapes_pair)
    cond = rng.random(shapes_pair[0][-1:] or ()) < 0.5          # broadcasts too
    assert_matches_torch(F.where, torch.where, [cond, a, b], dtype, seed=seed, device=device)


def test_where_with_a_scalar_and_the_one_argument_form():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    assert_matches_torch(lambda t: sn.where(t > 0, t, 0.0), lambda t: torch.where(t > 0, t, 0.0),
                         [x], np.float32)
    ours = sn.where(sn.tensor(x) > 0)
    theirs = torch.where(torch.tensor(x) > 0)
    assert [o.tolist() for o in ours] == [t.tolist() for t in theirs]
    assert ours[0].dtype == np.int64


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(shapes_pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_maximum_minimum_gradcheck(name, shapes_pair, seed):
    assert_gradcheck(getattr(F, name), list(_pair(np.random.default_rng(seed), shapes_pair)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
@given(shapes_pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_maximum_minimum_match_torch(name, dtype, shapes_pair, seed):
    arrays = list(_pair(np.random.default_rng(seed), shapes_pair))
    assert_matches_torch(getattr(F, name), getattr(torch, name), arrays, dtype, seed=seed)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_split_a_tie_and_propagate_nan_as_torch(name):
    a, b = np.array([1.0, 2.0, np.nan, 0.5]), np.array([1.0, 3.0, 1.0, 0.5])
    assert_matches_torch(getattr(F, name), getattr(torch, name), [a, b])


@st.composite
def clamp_cases(draw):
    """x, low, high (either bound may be None) of broadcastable shapes; high < low sometimes."""
    shape = draw(shapes(1, 3, 1, 4))
    bound_shapes = [None if draw(st.booleans()) else shape[draw(st.integers(0, len(shape))):]
                    for _ in range(2)]
    if bound_shapes == [None, None]:
        bound_shapes[0] = shape
    return shape, bound_shapes


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=clamp_cases(), seed=seeds)
def test_clamp_with_tensor_bounds_matches_torch(dtype, case, seed):
    shape, (low_shape, high_shape) = case
    sizes = [0 if s is None else int(np.prod(s)) for s in (shape, low_shape, high_shape)]
    flat = distinct_values(np.random.default_rng(seed), (sum(sizes),))
    x = flat[:sizes[0]].reshape(shape)
    low = None if low_shape is None else flat[sizes[0]:sizes[0] + sizes[1]].reshape(low_shape)
    high = None if high_shape is None else flat[sizes[0] + sizes[1]:].reshape(high_shape)
    assert_matches_torch(lambda x, lo, hi: sn.clamp(x, lo, hi),
                         lambda x, lo, hi: torch.clamp(x, lo, hi), [x, low, high], dtype,
                         seed=seed)
    assert_gradcheck(lambda x, lo, hi: sn.clamp(x, lo, hi), [x, low, high],
                     requires_grad=[True, low is not None, high is not None])


def test_clamp_refuses_a_tensor_bound_with_a_number_bound_as_torch():
    with pytest.raises(TypeError, match="min and max must both be Tensors"):
        sn.ones(3).clamp(min=sn.zeros(3), max=1.0)
    with pytest.raises(TypeError):
        torch.ones(3).clamp(min=torch.zeros(3), max=1.0)


@given(shape=shapes(0, 3), seed=seeds, fill=st.sampled_from([0.0, -1.5, 7.0]))
def test_masked_fill_gradcheck_and_torch(shape, seed, fill):
    rng = np.random.default_rng(seed)
    x = values(rng, shape)
    mask = rng.random(shape[1:]) < 0.5                         # broadcast over the first dim
    assert_gradcheck(lambda x: F.masked_fill(x, sn.tensor(mask), fill), [x])
    assert_matches_torch(lambda x, m: x.masked_fill(m, fill), lambda x, m: x.masked_fill(m, fill),
                         [x, mask], seed=seed)


def test_masked_fill_with_a_0d_tensor_value_gets_its_gradient():
    x, value = np.arange(6.0).reshape(2, 3), np.array(-2.5)
    mask = np.array([True, False, True])
    assert_matches_torch(lambda x, v, m: x.masked_fill(m, v), lambda x, v, m: x.masked_fill(m, v),
                         [x, value, mask])
    with pytest.raises(ValueError, match="0-dimensional value tensor"):
        sn.ones(3).masked_fill(sn.tensor(mask), sn.ones(1))
    with pytest.raises(TypeError, match="masked_fill: expected a bool tensor"):
        sn.ones(3).masked_fill(sn.tensor([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3\) does not broadcast"):
        sn.ones(3).masked_fill(sn.ones(2, 3) > 0, 0.0)


@pytest.mark.parametrize("name", ["amax", "amin"])
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_amax_amin_gradcheck(name, case, keepdim, seed):
    shape, dim = case
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda t: getattr(F, name)(t, dim, keepdim), [x])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["amax", "amin"])
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_amax_amin_match_torch_with_ties(name, dtype, case, keepdim, seed):
    shape, dim = case
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)   # many ties
    dims = () if dim is None else dim
    assert_matches_torch(lambda t: getattr(t, name)(dims, keepdim),
                         lambda t: getattr(torch, name)(t, dims, keepdim), [x], dtype, seed=seed)


def test_amax_of_an_empty_dim_raises():
    with pytest.raises(IndexError, match=r"amax\(\): expected reduction dim \(1,\) to have "
                                         "non-zero size"):
        sn.zeros(2, 0).amax(1)
