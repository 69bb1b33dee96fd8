"""gather, scatter_add, index_select, embedding, one_hot against finite differences and
torch (repeated indices accumulate)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, shapes_and_dim, values

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@st.composite
def gather_cases(draw):
    """(input shape, dim, index shape): the index no larger than the input outside ``dim``,
    any size along it (indices repeat)."""
    shape, dim = draw(shapes_and_dim(max_dims=3, max_side=4))
    index_shape = tuple(draw(st.integers(1, 5)) if d == dim % len(shape) else
                        draw(st.integers(1, n)) for d, n in enumerate(shape))
    return shape, dim, index_shape


def _index(rng, size, shape):
    return rng.integers(0, size, shape)


@given(case=gather_cases(), seed=seeds)
def test_gather_gradcheck(case, seed):
    shape, dim, index_shape = case
    rng = np.random.default_rng(seed)
    index = sn.tensor(_index(rng, shape[dim], index_shape))
    assert_gradcheck(lambda x: F.gather(x, dim, index), [values(rng, shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=gather_cases(), seed=seeds)
def test_gather_matches_torch(dtype, device, case, seed):
    shape, dim, index_shape = case
    rng = np.random.default_rng(seed)
    index = _index(rng, shape[dim], index_shape)
    assert_matches_torch(lambda x, i: x.gather(dim, i), lambda x, i: x.gather(dim, i),
                         [values(rng, shape), index], dtype, seed=seed, device=device)


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=gather_cases(), seed=seeds)
def test_scatter_add_matches_torch(dtype, case, seed):
    shape, dim, index_shape = case
    rng = np.random.default_rng(seed)
    index = _index(rng, shape[dim], index_shape)
    assert_matches_torch(lambda x, i, s: x.scatter_add(dim, i, s),
                         lambda x, i, s: x.scatter_add(dim, i, s),
                         [values(rng, shape), index, values(rng, index_shape)], dtype, seed=seed)


@given(case=gather_cases(), seed=seeds, src_extra=st.integers(0, 1))
def test_scatter_add_gradcheck(case, seed, src_extra):
    """src may be larger than index (only its first index.shape elements are read; torch's
    own backward then returns a gradient of the wrong shape, so torch is no oracle here)."""
    shape, dim, index_shape = case
    rng = np.random.default_rng(seed)
    index = sn.tensor(_index(rng, shape[dim], index_shape))
    src = values(rng, tuple(n + src_extra for n in index_shape))
    assert_gradcheck(lambda x, s: F.scatter_add(x, dim, index, s), [values(rng, shape), src])


@given(case=shapes_and_dim(max_dims=3), seed=seeds, n=st.integers(0, 6))
def test_index_select_matches_torch_and_finite_differences(case, seed, n):
    shape, dim = case
    rng = np.random.default_rng(seed)
    index, x = rng.integers(0, shape[dim], n), values(rng, shape)
    assert_matches_torch(lambda x, i: x.index_select(dim, i),
                         lambda x, i: x.index_select(dim, i), [x, index], seed=seed)
    assert_gradcheck(lambda x: F.index_select(x, dim, sn.tensor(index)), [x])


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.gather(1, sn.tensor([[3]])), IndexError,
     r"gather\(\): index 3 is out of bounds for dimension 1 with size 3"),
    (lambda x: x.gather(1, sn.tensor([0, 1])), ValueError, "same number of dimensions"),
    (lambda x: x.gather(0, sn.tensor([[0, 1, 0, 1]])), ValueError,
     r"index \(1, 4\) is larger than input \(2, 3\) in dim 1"),
    (lambda x: x.gather(1, sn.tensor([[0.0]])), TypeError, "expected an int64 index tensor"),
    (lambda x: x.scatter_add(1, sn.tensor([[0, 1]]), sn.ones(1, 1)), ValueError,
     r"index \(1, 2\) to be no larger than src \(1, 1\)"),
    (lambda x: x.index_select(0, sn.tensor([2])), IndexError,
     r"index_select\(\): index 2 is out of bounds for dimension 0 with size 2"),
    (lambda x: x.index_select(0, sn.tensor([[0]])), TypeError, "1-d int64 index tensor"),
])
def test_index_ops_reject_bad_indices_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call(sn.ones(2, 3))


@given(data=st.data(), seed=seeds)
def test_embedding_matches_torch_with_padding_and_frequency_scaling(data, seed):
    rng = np.random.default_rng(seed)
    V, D = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    index_shape = data.draw(shapes(0, 2, 1, 5))
    padding_idx = data.draw(st.sampled_from([None, 0, -1]))
    scale = data.draw(st.booleans())
    index, weight = rng.integers(0, V, index_shape), values(rng, (V, D))
    kwargs = dict(padding_idx=padding_idx, scale_grad_by_freq=scale)
    assert_matches_torch(lambda i, w: F.embedding(i, w, **kwargs),
                         lambda i, w: TF.embedding(i, w, **kwargs), [index, weight], seed=seed)
    if padding_idx is None and not scale:    # both change the gradient on purpose
        assert_gradcheck(lambda w: F.embedding(sn.tensor(index), w), [weight])


def test_embedding_max_norm_renormalises_the_looked_up_rows_as_torch():
    weight = np.arange(12.0).reshape(4, 3) - 4
    index = np.array([[0, 2], [2, 3]])
    ours, theirs = sn.tensor(weight), torch.tensor(weight)
    y = F.embedding(sn.tensor(index), ours, max_norm=2.0, norm_type=1.0)
    ty = TF.embedding(torch.tensor(index), theirs, max_norm=2.0, norm_type=1.0)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)   # changed in place


@given(shape=shapes(0, 3), classes=st.integers(1, 5), seed=seeds)
def test_one_hot_matches_torch(shape, classes, seed):
    t = np.random.default_rng(seed).integers(0, classes, shape)
    for n in (-1, classes + 1):
        if n == -1 and t.size == 0:
            continue
        ours = F.one_hot(sn.tensor(t), n)
        theirs = TF.one_hot(torch.tensor(t), n)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_one_hot_errors_as_torch():
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(sn.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        F.one_hot(sn.tensor([-1]))
    with pytest.raises(TypeError, match="index tensor of type LongTensor"):
        F.one_hot(sn.tensor([0.0]))
