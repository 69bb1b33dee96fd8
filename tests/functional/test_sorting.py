"""sort, argsort, topk against finite differences and torch (stable on ties, NaN last)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import distinct_values, seeds, shapes_and_dim

torch = pytest.importorskip("torch")


@given(case=shapes_and_dim(max_dims=3), descending=st.booleans(), seed=seeds)
def test_sort_gradcheck(case, descending, seed):
    shape, dim = case
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda t: F.sort(t, dim, descending).values, [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=shapes_and_dim(max_dims=3), descending=st.booleans(), seed=seeds)
def test_sort_matches_torchs_stable_sort_with_ties(dtype, device, case, descending, seed):
    shape, dim = case
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)    # ties
    out = assert_matches_torch(lambda t: tuple(t.sort(dim, descending)),
                               lambda t: tuple(t.sort(dim=dim, descending=descending,
                                                      stable=True)),
                               [x], dtype, seed=seed, device=device)
    expected = torch.tensor(x).sort(dim=dim, descending=descending, stable=True).indices
    np.testing.assert_array_equal(out[1].numpy(), expected.numpy())
    np.testing.assert_array_equal(sn.tensor(x).argsort(dim, descending).numpy(),
                                  expected.numpy())


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data(), largest=st.booleans(), seed=seeds)
def test_topk_matches_torch_and_finite_differences(dtype, data, largest, seed):
    shape, dim = data.draw(shapes_and_dim(max_dims=3), label="shape, dim")
    k = data.draw(st.integers(0, shape[dim]), label="k")
    x = distinct_values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: tuple(t.topk(k, dim, largest)),
                         lambda t: tuple(t.topk(k, dim, largest)), [x], dtype, seed=seed)
    assert_gradcheck(lambda t: F.topk(t, k, dim, largest).values, [x])


def test_sort_puts_nan_last_and_handles_0d_as_torch():
    x = np.array([2.0, np.nan, -1.0, 0.5])
    for descending in (False, True):
        ours = sn.tensor(x).sort(descending=descending)
        theirs = torch.tensor(x).sort(descending=descending)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    values, indices = sn.tensor(5.0).sort()
    assert values.item() == 5.0 and indices.item() == 0 and indices.dtype == np.int64


def test_topk_rejects_k_larger_than_the_dim():
    with pytest.raises(IndexError, match=r"topk: k \(4\) must be in \[0, 3\]"):
        sn.ones(2, 3).topk(4)
