"""The graph ops of classic CNNs: cat (Inception, DenseNet), stack, split, chunk and residual
addition through ``+`` (ResNet), against finite differences and torch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")


@st.composite
def cat_cases(draw):
    """(shapes, dim): 1 to 4 tensors agreeing except in ``dim``, where sizes run 0 to 3."""
    base = draw(shapes(1, 4, 1, 3))
    dim = draw(st.integers(-len(base), len(base) - 1))
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4).filter(any))
    d = dim % len(base)
    return [base[:d] + (n,) + base[d + 1:] for n in sizes], dim


def _arrays(seed, shapes_):
    rng = np.random.default_rng(seed)
    return [values(rng, s) for s in shapes_]


@given(case=cat_cases(), seed=seeds)
def test_cat_gradcheck(case, seed):
    shapes_, dim = case
    assert_gradcheck(lambda *xs: sn.cat(xs, dim), _arrays(seed, shapes_))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("device", DEVICES)
@given(case=cat_cases(), seed=seeds)
def test_cat_matches_torch(dtype, device, case, seed):
    shapes_, dim = case
    assert_matches_torch(lambda *xs: sn.cat(xs, dim), lambda *xs: torch.cat(xs, dim),
                         _arrays(seed, shapes_), dtype=dtype, device=device, seed=seed)


def test_cat_backward_hands_out_views_of_the_upstream_gradient():
    """The only copy is the forward's concatenation: each input's gradient is a slice of gy."""
    a, b = sn.randn(2, 3, requires_grad=True), sn.randn(2, 5, requires_grad=True)
    y = sn.cat([a, b], dim=1)
    seen = []
    y.register_hook(lambda g: seen.append(g))
    (y * sn.randn(2, 8)).sum().backward()
    assert np.shares_memory(a.grad.data, seen[0].data)
    assert np.shares_memory(b.grad.data, seen[0].data)


def test_cat_promotes_dtypes_as_torch():
    x32, x64 = np.ones((2, 3), np.float32), np.ones((1, 3))
    ints = np.arange(3).reshape(1, 3)
    for arrays in ([x32, x64], [x32, ints], [ints, ints]):
        ours = sn.cat([sn.tensor(a) for a in arrays])
        theirs = torch.cat([torch.tensor(a) for a in arrays])
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("dtype", FLOATS)
def test_inception_branches_of_one_input_accumulate(dtype):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((1, 3, 1, 1))
    assert_matches_torch(lambda x, w: sn.cat([x * w, x.relu(), x.tanh() * 2], dim=1),
                         lambda x, w: torch.cat([x * w, x.relu(), x.tanh() * 2], dim=1),
                         [x, w], dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_densenet_growing_concatenation(dtype):
    """Each layer reads the concatenation of every earlier feature map (three layers)."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((4, 2))] + [rng.standard_normal((2 * (i + 1), 2)) * 0.5
                                              for i in range(3)]

    def dense(cat, tanh):
        def run(x, *ws):
            features = [x]
            for w in ws:
                features.append(tanh(cat(features, 1) @ w))
            return cat(features, 1)
        return run

    assert_matches_torch(dense(sn.cat, lambda t: t.tanh()), dense(torch.cat, torch.tanh),
                         arrays, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data(), n=st.integers(1, 4), seed=seeds)
def test_stack_matches_torch(dtype, data, n, seed):
    shape = data.draw(shapes(0, 3, 1, 3), label="shape")
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    assert_matches_torch(lambda *xs: sn.stack(xs, dim), lambda *xs: torch.stack(xs, dim),
                         _arrays(seed, [shape] * n), dtype=dtype, seed=seed)


@st.composite
def split_cases(draw):
    """(shape, dim, split_size_or_sections): an int (any size, even larger than the dim) or a
    list of non-negative sizes summing to the dim (zeros included)."""
    shape = draw(shapes(1, 3, 1, 5))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    if draw(st.booleans()):
        return shape, dim, draw(st.integers(1, n + 1))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    return shape, dim, list(np.diff([0] + cuts + [n]))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("device", DEVICES)
@given(case=split_cases(), seed=seeds)
def test_split_matches_torch(dtype, device, case, seed):
    shape, dim, how = case
    assert_matches_torch(lambda x: sn.split(x, how, dim), lambda x: torch.split(x, how, dim),
                         _arrays(seed, [shape]), dtype=dtype, device=device, seed=seed)


@given(case=split_cases(), seed=seeds)
def test_split_gradcheck_when_only_one_piece_is_used(case, seed):
    shape, dim, how = case
    assert_gradcheck(lambda x: x.split(how, dim)[-1] * 3, _arrays(seed, [shape]))


@pytest.mark.parametrize("dtype", FLOATS)
@given(shape_dim=st.data(), chunks=st.integers(1, 6), seed=seeds)
def test_chunk_matches_torch(dtype, shape_dim, chunks, seed):
    shape = shape_dim.draw(shapes(1, 3, 0, 5), label="shape")
    dim = shape_dim.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    out = assert_matches_torch(lambda x: x.chunk(chunks, dim),
                               lambda x: torch.chunk(x, chunks, dim),
                               _arrays(seed, [shape]), dtype=dtype, seed=seed)
    assert len(out) == len(torch.chunk(torch.zeros(shape), chunks, dim))


@pytest.mark.parametrize("dtype", FLOATS)
def test_residual_addition(dtype):
    """y = relu(x + f(x)) with f a small linear map: x reaches y along two paths (a diamond),
    so its gradient is the sum of both, plus a broadcast bias added by ``+``."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), rng.standard_normal(4)]
    assert_matches_torch(lambda x, w, b: (x + (x @ w + b).relu()).relu(),
                         lambda x, w, b: (x + (x @ w + b).relu()).relu(), arrays, dtype=dtype)


@pytest.mark.parametrize("call, message", [
    (lambda: sn.cat([sn.ones(2, 3), sn.ones(3, 3)], dim=1),
     r"cat: tensors must have the same shape except in dim 1, got \(2, 3\), \(3, 3\)"),
    (lambda: sn.cat([sn.ones(2, 3), sn.ones(2)]), r"cat: .*got \(2, 3\), \(2,\)"),
    (lambda: sn.cat([]), "cat: expected a non-empty list"),
    (lambda: sn.cat([sn.tensor(1.0), sn.tensor(2.0)]),
     r"cat: zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    (lambda: sn.stack([sn.ones(2), sn.ones(3)]),
     r"stack: expects each tensor to be equal size, got \(2,\), \(3,\)"),
    (lambda: sn.split(sn.ones(4), [1, 2]),
     r"split: sizes \[1, 2\] must be non-negative and sum to 4.*shape \(4,\)"),
    (lambda: sn.split(sn.ones(4), [5, -1]), r"split: sizes \[5, -1\] must be non-negative"),
    (lambda: sn.split(sn.ones(4), 0), "split: split_size must be positive, got 0"),
    (lambda: sn.chunk(sn.ones(4), 0), "chunk: chunks must be positive, got 0"),
])
def test_bad_graph_op_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
