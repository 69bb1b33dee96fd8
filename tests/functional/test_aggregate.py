"""prod, cumsum, logsumexp, norm, std, any, all against finite differences and torch,
including zeros (prod), infinities (logsumexp), zero vectors (norm) and torch's call forms."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import (
    distinct_values,
    nonzero_values,
    seeds,
    shapes,
    shapes_and_dim,
    shapes_and_dims,
    values,
)

torch = pytest.importorskip("torch")


def _with_zeros(rng, shape):
    """Values in ±[0.5, 2] with about a quarter of them exactly 0 (prod's hard case)."""
    x = nonzero_values(rng, shape)
    return np.where(rng.random(shape) < 0.25, 0.0, x)


@given(case=shapes_and_dim(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_prod_gradcheck_with_zeros(case, keepdim, seed):
    shape, dim = case
    x = _with_zeros(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda t: F.prod(t, dim, keepdim), [x])
    assert_gradcheck(F.prod, [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=shapes_and_dim(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_prod_matches_torch(dtype, device, case, keepdim, seed):
    shape, dim = case
    x = _with_zeros(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: t.prod(dim, keepdim), lambda t: t.prod(dim, keepdim), [x],
                         dtype, seed=seed, device=device)
    assert_matches_torch(lambda t: t.prod(), lambda t: t.prod(), [x], dtype, seed=seed,
                         device=device)


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=shapes_and_dim(max_dims=3), seed=seeds)
def test_cumsum_matches_torch_and_finite_differences(dtype, case, seed):
    shape, dim = case
    x = values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: t.cumsum(dim), lambda t: t.cumsum(dim), [x], dtype, seed=seed)
    assert_gradcheck(lambda t: F.cumsum(t, dim), [x])


def test_cumsum_of_ints_gives_int64_as_torch():
    assert sn.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert sn.tensor(np.array([1, 2], np.int32)).cumsum(0).dtype == np.int64


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_logsumexp_matches_torch_and_finite_differences(dtype, case, keepdim, seed):
    shape, dim = case
    dim = tuple(range(len(shape))) if dim is None else dim
    x = values(np.random.default_rng(seed), shape, low=-30, high=30)
    assert_matches_torch(lambda t: t.logsumexp(dim, keepdim),
                         lambda t: t.logsumexp(dim, keepdim), [x], dtype, seed=seed)
    assert_gradcheck(lambda t: F.logsumexp(t, dim, keepdim), [x])


def test_logsumexp_follows_torchs_rule_for_infinities():
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [1000.0, 1000.0], [-np.inf, 0.0]])
    ours, theirs = sn.tensor(x).logsumexp(1), torch.tensor(x).logsumexp(1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


NORM_PS = [2, "fro", 1, 3, 0.5, math.inf, -math.inf, 0]


@pytest.mark.parametrize("p", NORM_PS)
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_norm_gradcheck(p, case, keepdim, seed):
    shape, dim = case
    x = distinct_values(np.random.default_rng(seed), shape)       # |x| > 0, no ties
    if p != 0:
        assert_gradcheck(lambda t: F.norm(t, p, dim, keepdim), [x])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("p", NORM_PS)
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_norm_matches_torch(dtype, p, case, keepdim, seed):
    shape, dim = case
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: t.norm(p, dim, keepdim), lambda t: t.norm(p, dim, keepdim),
                         [x], dtype, seed=seed)


@pytest.mark.parametrize("p", [2, 1, 3, math.inf])
def test_norm_of_a_zero_vector_has_torchs_gradient(p):
    assert_matches_torch(lambda t: t.norm(p), lambda t: t.norm(p), [np.zeros((2, 3))])


@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds,
       unbiased=st.booleans())
def test_std_matches_torch_in_every_call_form(case, keepdim, seed, unbiased):
    shape, dim = case
    axes = range(len(shape)) if dim is None else np.atleast_1d(dim)
    if int(np.prod([shape[a] for a in axes])) < 2:
        return
    x = values(np.random.default_rng(seed), shape)
    if dim is None:
        forms = [(lambda t: t.std(), lambda t: t.std()),
                 (lambda t: t.std(unbiased), lambda t: t.std(unbiased))]
    else:
        forms = [(lambda t: t.std(dim, unbiased, keepdim), lambda t: t.std(dim, unbiased, keepdim)),
                 (lambda t: t.std(dim=dim, correction=0, keepdim=keepdim),
                  lambda t: t.std(dim=dim, correction=0, keepdim=keepdim)),
                 (lambda t: sn.std(t, axis=dim, keepdims=keepdim),
                  lambda t: torch.std(t, axis=dim, keepdims=keepdim))]
    for ours, theirs in forms:
        assert_matches_torch(ours, theirs, [x], seed=seed)
    assert_gradcheck(lambda t: F.std(t, dim), [x])


def test_var_takes_torchs_positional_forms():
    x = values(np.random.default_rng(0), (3, 4))
    for ours, theirs in [(lambda t: t.var(0, False), lambda t: t.var(0, False)),
                         (lambda t: t.var(1, True, True), lambda t: t.var(1, True, True)),
                         (lambda t: t.var(False), lambda t: t.var(False)),
                         (lambda t: t.var(axis=1), lambda t: t.var(axis=1))]:
        assert_matches_torch(ours, theirs, [x])
    with pytest.raises(TypeError, match="either unbiased or correction"):
        sn.ones(3).var(0, True, correction=0)


@pytest.mark.parametrize("name", ["any", "all"])
@given(case=shapes_and_dims(max_dims=3), keepdim=st.booleans(), seed=seeds)
def test_any_all_match_torch(name, case, keepdim, seed):
    shape, dim = case
    x = np.random.default_rng(seed).integers(0, 2, shape).astype(np.float32)
    kwargs = {} if dim is None or isinstance(dim, tuple) else dict(dim=dim, keepdim=keepdim)
    ours = getattr(sn.tensor(x), name)(**kwargs)
    theirs = getattr(torch.tensor(x), name)(**kwargs)
    assert ours.dtype == np.bool_
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@given(shape=shapes(1, 3))
def test_reductions_take_numpys_keyword_names_as_torch(shape):
    x = values(np.random.default_rng(1), shape)
    for name in ("sum", "mean", "amax", "logsumexp", "norm"):
        ours = getattr(sn.tensor(x), name)(axis=0, keepdims=True)
        theirs = getattr(torch.tensor(x), name)(axis=0, keepdims=True) if name != "norm" else \
            torch.tensor(x).norm(dim=0, keepdim=True)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="both 'dim' and its alias 'axis'"):
        sn.tensor(x).sum(dim=0, axis=0)
