"""reshape, transpose, permute, flatten, squeeze, unsqueeze and indexing (basic and integer
array), against finite differences and torch. (cat, stack, split, chunk: test_concat.py.)"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, shapes_and_dim, values

torch = pytest.importorskip("torch")


@st.composite
def reshape_cases(draw):
    """A shape and a target with as many elements: its sides shuffled, neighbours merged,
    1s inserted, and one entry replaced by -1 half the time."""
    shape = draw(shapes(0, 4, 1, 4))
    sides = draw(st.permutations(shape))
    target = []
    for n in sides:
        if target and draw(st.booleans()):
            target[-1] *= n
        else:
            target.append(n)
    for _ in range(draw(st.integers(0, 2))):
        target.insert(draw(st.integers(0, len(target))), 1)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


# name: (strategy of (shape, args), scratchnet call, torch call)
def _transpose_case():
    return shapes_and_dim().flatmap(lambda c: st.tuples(
        st.just(c[0]), st.tuples(st.just(c[1]), st.integers(-len(c[0]), len(c[0]) - 1))))


def _permute_case():
    return shapes(1, 4).flatmap(lambda s: st.tuples(
        st.just(s), st.permutations(range(len(s))).map(lambda p: (tuple(p),))))


def _flatten_case():
    return shapes(1, 4).flatmap(lambda s: st.tuples(
        st.just(s), st.lists(st.integers(0, len(s) - 1), min_size=2, max_size=2)
        .map(sorted).map(lambda d: (d[0] - len(s) if d[0] % 2 else d[0], d[1]))))


def _squeeze_case():
    dims = lambda s: st.one_of(st.just(()), st.integers(-len(s), len(s) - 1).map(lambda d: (d,)),
                               st.lists(st.integers(0, len(s) - 1), min_size=1, unique=True)
                               .map(lambda d: (tuple(d),)))
    return shapes(1, 4, 1, 2).flatmap(lambda s: st.tuples(st.just(s), dims(s)))


def _unsqueeze_case():
    return shapes(0, 3).flatmap(lambda s: st.tuples(
        st.just(s), st.integers(-len(s) - 1, len(s)).map(lambda d: (d,))))


CASES = {
    "reshape": (reshape_cases().map(lambda c: (c[0], (c[1],))), F.reshape, torch.reshape),
    "transpose": (_transpose_case(), F.transpose, torch.transpose),
    "permute": (_permute_case(), F.permute, torch.permute),
    "flatten": (_flatten_case(), F.flatten, torch.flatten),
    "squeeze": (_squeeze_case(), F.squeeze, torch.squeeze),
    "unsqueeze": (_unsqueeze_case(), F.unsqueeze, torch.unsqueeze),
}


@pytest.mark.parametrize("name", CASES)
@given(data=st.data(), seed=seeds)
def test_shape_op_gradcheck(name, data, seed):
    strategy, op, _ = CASES[name]
    shape, args = data.draw(strategy, label="shape, args")
    assert_gradcheck(lambda x: op(x, *args), [values(np.random.default_rng(seed), shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", CASES)
@given(data=st.data(), seed=seeds)
def test_shape_op_matches_torch(name, dtype, device, data, seed):
    strategy, op, torch_op = CASES[name]
    shape, args = data.draw(strategy, label="shape, args")
    assert_matches_torch(lambda x: op(x, *args), lambda x: torch_op(x, *args),
                         [values(np.random.default_rng(seed), shape)], dtype, seed=seed,
                         device=device)


def test_tensor_methods_take_varargs_as_torch():
    x = values(np.random.default_rng(0), (2, 3, 4))
    assert_matches_torch(lambda t: t.reshape(4, -1).view(3, 8).permute(1, 0).T.flatten(),
                         lambda t: t.reshape(4, -1).view(3, 8).permute(1, 0).T.flatten(), [x])
    assert_matches_torch(lambda t: t.unsqueeze(1).squeeze().transpose(0, 2),
                         lambda t: t.unsqueeze(1).squeeze().transpose(0, 2), [x])


@st.composite
def basic_indices(draw, shape):
    """A basic index for ``shape``: per leading dim an int, a slice with a positive step (torch
    has no negative steps) or ``None``; sometimes an Ellipsis in the middle."""
    index, dim = [], 0                  # dim: the next dim of x an int or slice applies to
    for _ in range(draw(st.integers(0, len(shape) + 1))):
        kind = draw(st.sampled_from(["int", "slice", "none"] if dim < len(shape) else ["none"]))
        if kind == "none":              # a new axis: it uses up no dim of x
            index.append(None)
            continue
        n, dim = shape[dim], dim + 1
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        else:
            start, stop = draw(st.one_of(st.none(), st.integers(-n, n))), draw(
                st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            index.append(slice(start, stop, draw(st.integers(1, 3))))
    if draw(st.booleans()):
        index.append(Ellipsis)
    return tuple(index)


@st.composite
def array_indices(draw, shape):
    """Integer-array indexing of ``shape`` (at least 1-d): one index array (with repeats and
    negative entries) for dim 0, or two broadcasting arrays for dims 0 and 1, or an array after
    a slice; each an int64 array."""
    def ints(n, size):
        return np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=size)),
                        np.int64)
    kind = draw(st.sampled_from(["one", "two", "after_slice"] if len(shape) > 1 else ["one"]))
    if kind == "one":
        return ints(shape[0], 6)
    if kind == "two":
        rows = ints(shape[0], 3)
        return rows[:, None], ints(shape[1], 3)[None, :]
    return slice(None), ints(shape[1], 6)


def _torch_index(index):
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    return torch.as_tensor(index) if isinstance(index, np.ndarray) else index


INDEX_KINDS = {"basic": (basic_indices, 0), "array": (array_indices, 1)}


@pytest.mark.parametrize("kind", INDEX_KINDS)
@given(data=st.data(), seed=seeds)
def test_getitem_gradcheck(kind, data, seed):
    make, min_dims = INDEX_KINDS[kind]
    shape = data.draw(shapes(min_dims, 3), label="shape")
    index = data.draw(make(shape), label="index")
    assert_gradcheck(lambda x: x[index], [values(np.random.default_rng(seed), shape)])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", INDEX_KINDS)
@given(data=st.data(), seed=seeds)
def test_getitem_matches_torch(kind, dtype, data, seed):
    make, min_dims = INDEX_KINDS[kind]
    shape = data.draw(shapes(min_dims, 3), label="shape")
    index = data.draw(make(shape), label="index")
    assert_matches_torch(lambda x: x[index], lambda x: x[_torch_index(index)],
                         [values(np.random.default_rng(seed), shape)], dtype, seed=seed)


def test_getitem_negative_step_gradcheck():
    x = values(np.random.default_rng(3), (5, 4))
    assert_gradcheck(lambda t: t[::-2, 3:0:-1], [x])


def test_getitem_repeated_indices_accumulate_by_hand():
    x = sn.tensor(np.arange(5.0), requires_grad=True)
    x[sn.tensor([0, 3, 0, 0])].backward(sn.tensor(np.array([1.0, 2.0, 4.0, 8.0])))
    np.testing.assert_array_equal(x.grad.numpy(), [13.0, 0.0, 0.0, 2.0, 0.0])


def test_getitem_with_a_bool_mask_and_a_list_matches_torch():
    x = values(np.random.default_rng(4), (3, 4))
    mask = x > 0
    assert_matches_torch(lambda t: t[mask], lambda t: t[torch.as_tensor(mask)], [x])
    assert_matches_torch(lambda t: t[[2, 0, 2]], lambda t: t[[2, 0, 2]], [x])


@pytest.mark.parametrize("call, message", [
    (lambda x: F.reshape(x, (4, 2)), r"reshape: shape \(4, 2\) is invalid for input of shape "
                                     r"\(2, 3\) \(6 elements\)"),
    (lambda x: F.reshape(x, (-1, -1)), r"reshape: shape \(-1, -1\) is invalid"),
    (lambda x: F.reshape(x, (4, -1)), r"reshape: shape \(4, -1\) is invalid"),
    (lambda x: F.permute(x, (0, 0)), r"permute: dims \(0, 0\) are not a permutation .*\(2, 3\)"),
    (lambda x: F.permute(x, (1, 0, 2)), r"permute: dimension 2 out of range"),
    (lambda x: F.transpose(x, 0, 2), r"transpose: dimension 2 out of range"),
    (lambda x: F.flatten(x, 1, 0), r"flatten: start_dim 1 comes after end_dim 0 .*\(2, 3\)"),
    (lambda x: F.squeeze(x, 3), r"squeeze: dimension 3 out of range"),
    (lambda x: F.unsqueeze(x, 4), r"unsqueeze: dimension 4 out of range"),
])
def test_bad_shape_arguments_raise_naming_op_and_shapes(call, message):
    with pytest.raises((ValueError, IndexError), match=message):
        call(sn.ones(2, 3))
