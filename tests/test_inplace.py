"""In-place ops as torch 2.13 has them (functional/inplace.py): every op on a leaf that requires
grad (refused with torch's message), on the same leaf under no_grad (the same Tensor and array,
written, one version more) and on a non-leaf (recorded: gradients equal torch's)."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import nn
from tests.helpers import FLOATS, TOLERANCE
from tests.strategies import distinct_values, nonzero_values, seeds, shapes


def _other(rng, shape, dtype):
    return nonzero_values(rng, shape, dtype)


# name -> op(x, other, framework): the same call on a scratchnet and a torch tensor; other is
# that framework's tensor (broadcasting to x) or None for ops that take none
BINARY = {
    "+=": lambda x, o, fw: x.__iadd__(o),
    "-=": lambda x, o, fw: x.__isub__(o),
    "*=": lambda x, o, fw: x.__imul__(o),
    "/=": lambda x, o, fw: x.__itruediv__(o),
    "%=": lambda x, o, fw: x.__imod__(o),
    "**=": lambda x, o, fw: x.__ipow__(o),
    "add_(alpha=2)": lambda x, o, fw: x.add_(o, alpha=2),
    "sub_(alpha=0.5)": lambda x, o, fw: x.sub_(o, alpha=0.5),
    "mul_": lambda x, o, fw: x.mul_(o),
    "div_": lambda x, o, fw: x.div_(o),
    "div_(floor)": lambda x, o, fw: x.div_(o, rounding_mode="floor"),
    "div_(trunc)": lambda x, o, fw: x.div_(o, rounding_mode="trunc"),
    "copy_": lambda x, o, fw: x.copy_(o),
}
UNARY = {
    "zero_": lambda x, fw: x.zero_(),
    "fill_(2.5)": lambda x, fw: x.fill_(2.5),
    "fill_(0-d tensor)": lambda x, fw: x.fill_(fw.tensor(-1.5, dtype=x.dtype)),
    "clamp_(-0.5, 0.5)": lambda x, fw: x.clamp_(-0.5, 0.5),
    "clamp_(min=0.2)": lambda x, fw: x.clamp_(min=0.2),
    "relu_": lambda x, fw: x.relu_(),
    "F.relu(inplace=True)": lambda x, fw: _functional(fw).relu(x, inplace=True),
    "nn.ReLU(inplace=True)": lambda x, fw: _nn(fw).ReLU(inplace=True)(x),
    "F.leaky_relu(inplace=True)": lambda x, fw: _functional(fw).leaky_relu(x, 0.1,
                                                                           inplace=True),
    "[1] = 2.0": lambda x, fw: _set(x, 1, 2.0),
    "[:, 1:] = row": lambda x, fw: _set(x, (slice(None), slice(1, None)),
                                        fw.tensor([0.5, -0.25], dtype=x.dtype)),
    "[[0, 2, 0]] = 3.0": lambda x, fw: _set(x, fw.tensor([0, 2, 0]), 3.0),
    "[x > 0] = -1.0": lambda x, fw: _set(x, x > 0, -1.0),
    "[..., 0] = column": lambda x, fw: _set(x, (Ellipsis, 0), fw.tensor(
        [[1.0], [2.0], [3.0]], dtype=x.dtype)[:, 0]),
}
RANDOM = {
    "uniform_": lambda x, fw: x.uniform_(-1.0, 2.0),
    "normal_": lambda x, fw: x.normal_(1.0, 0.5),
}
SHAPE = (3, 3)  # the unary ops' indices assume it


def _set(x, index, value):
    x[index] = value
    return x


def _functional(fw):
    return F if fw is sn else torch.nn.functional


def _nn(fw):
    return nn if fw is sn else torch.nn


def _pair(array, requires_grad=False):
    return (sn.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def _error(call):
    with pytest.raises(Exception) as info:
        call()
    return info.value


def _apply_unary(name, x, fw):
    return (UNARY | RANDOM)[name](x, fw)


@pytest.mark.parametrize("name", list(BINARY) + list(UNARY) + list(RANDOM))
def test_a_leaf_that_requires_grad_is_refused_with_torchs_error(name):
    rng = np.random.default_rng(0)
    x, tx = _pair(distinct_values(rng, SHAPE), requires_grad=True)
    if name in BINARY:
        o, to = _pair(_other(rng, SHAPE, np.float64))
        ours, theirs = (_error(lambda: BINARY[name](x, o, sn)),
                        _error(lambda: BINARY[name](tx, to, torch)))
    else:
        ours, theirs = (_error(lambda: _apply_unary(name, x, sn)),
                        _error(lambda: _apply_unary(name, tx, torch)))
    assert type(ours) is type(theirs) is RuntimeError
    assert str(ours) == str(theirs)
    assert x._version == tx._version == 0


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", list(BINARY) + list(UNARY))
def test_under_no_grad_the_same_tensor_and_array_are_written_as_torch(name, dtype):
    rng = np.random.default_rng(1)
    x, tx = _pair(distinct_values(rng, SHAPE, dtype), requires_grad=True)
    array = x.data
    with sn.no_grad(), torch.no_grad():
        if name in BINARY:
            o, to = _pair(_other(rng, SHAPE, dtype))
            out, tout = BINARY[name](x, o, sn), BINARY[name](tx, to, torch)
        else:
            out, tout = _apply_unary(name, x, sn), _apply_unary(name, tx, torch)
    assert out is x and x.data is array and tout is tx
    np.testing.assert_allclose(x.data, tx.detach().numpy(), **TOLERANCE[dtype])
    assert x._version == tx._version >= 1
    assert x.is_leaf and x.requires_grad and x.grad_fn is None


def _inputs(rng, name, shape, other_shape, dtype, other_requires_grad):
    """x (a leaf that requires grad) and the op's other operand, in both frameworks."""
    x = _pair(distinct_values(rng, shape, dtype), requires_grad=True)
    if name not in BINARY:
        return x, (None, None)
    other = _other(rng, other_shape, dtype)
    if name == "**=":
        x = _pair(np.abs(x[0].data) + 0.5, requires_grad=True)
    return x, _pair(other, requires_grad=other_requires_grad)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", BINARY)
@given(shape=shapes(1, 3, 1, 4), seed=seeds, data=st.data())
def test_binary_ops_on_a_non_leaf_are_recorded_as_torch(name, dtype, shape, seed, data):
    rng = np.random.default_rng(seed)
    other_shape = shape[data.draw(st.integers(0, len(shape))):]
    other_requires_grad = data.draw(st.booleans())
    (x, tx), (o, to) = _inputs(rng, name, shape, other_shape, dtype, other_requires_grad)
    y, ty = x * 1.0, tx * 1.0
    out, tout = BINARY[name](y, o, sn), BINARY[name](ty, to, torch)
    assert out is y and tout is ty and y.grad_fn is not None
    _compare_backward(rng, y, ty, [(x, tx), (o, to)], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_and_setitem_on_a_non_leaf_are_recorded_as_torch(name, dtype):
    rng = np.random.default_rng(2)
    x, tx = _pair(distinct_values(rng, SHAPE, dtype), requires_grad=True)
    y, ty = x * 2.0 - 0.5, tx * 2.0 - 0.5
    out, tout = _apply_unary(name, y, sn), _apply_unary(name, ty, torch)
    assert out is y and tout is ty
    _compare_backward(rng, y, ty, [(x, tx)], dtype)


def _compare_backward(rng, y, ty, pairs, dtype):
    """y equals torch's, and so do the gradients a random upstream gives every input."""
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    upstream = rng.standard_normal(y.shape).astype(dtype)
    y.backward(sn.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    for ours, theirs in pairs:
        if theirs is not None and theirs.requires_grad:
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


@pytest.mark.parametrize("name", RANDOM)
def test_random_fills_replace_the_values_and_the_gradient_as_torch(name):
    x, tx = _pair(np.ones((200, 50)), requires_grad=True)
    y, ty = x * 2, tx * 2
    _apply_unary(name, y, sn)
    _apply_unary(name, ty, torch)
    mean, std = (0.5, 3 ** 0.5 / 2) if name == "uniform_" else (1.0, 0.5)
    assert abs(y.data.mean() - mean) < 0.03 and abs(y.data.std() - std) < 0.03
    if name == "uniform_":
        assert -1.0 <= y.data.min() and y.data.max() < 2.0
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # all zeros
    assert y._version == ty._version == 1


def test_floor_division_in_place_writes_as_torch_and_has_no_gradient():
    rng = np.random.default_rng(3)
    x, tx = _pair(distinct_values(rng, (4,)), requires_grad=True)
    y, ty = x * 3, tx * 3
    y //= 0.7
    ty //= 0.7
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    with pytest.raises(RuntimeError, match="derivative for floor_divide is not implemented"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide_ is not "
                                           "implemented"):
        ty.sum().backward()


def test_matmul_assignment_rebinds_the_name_as_torch():
    """torch has no in-place matmul: ``a @= b`` is ``a = a @ b``, a new tensor."""
    a, ta = sn.ones(2, 3), torch.ones(2, 3)
    alias, talias = a, ta
    a @= sn.ones(3, 4)
    ta @= torch.ones(3, 4)
    assert a is not alias and ta is not talias
    assert a.shape == tuple(ta.shape) == (2, 4)
    assert alias._version == talias._version == 0


def test_the_manual_sgd_loop_of_the_issue_updates_the_model():
    w = sn.tensor([1.0, -2.0], requires_grad=True)
    array = w.data
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with sn.no_grad():
            w -= 0.25 * w.grad
        w.grad = None
    assert w.data is array and w.is_leaf
    np.testing.assert_allclose(w.data, [0.125, -0.25])  # w·(1 − 2·0.25) three times


@pytest.mark.parametrize("module", [nn.ReLU(inplace=True), nn.LeakyReLU(0.2, inplace=True),
                                    nn.Dropout(0.5, inplace=True)])
def test_inplace_layers_return_their_input_and_keep_torchs_repr(module):
    x = sn.randn(4, 5) * 1
    assert module(x) is x and x._version == 1
    torch_module = getattr(torch.nn, type(module).__name__)(
        *([module.negative_slope] if hasattr(module, "negative_slope") else
          [module.p] if hasattr(module, "p") else []), inplace=True)
    assert repr(module) == repr(torch_module)


def test_inplace_dropout_writes_x_times_mask_and_backprops_through_it():
    x = sn.tensor(np.linspace(1, 2, 200), requires_grad=True)
    y = x * 1
    F.dropout(y, 0.25, inplace=True)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], x.data[kept] / 0.75)
    y.backward(sn.ones(200))
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)
    z = sn.ones(3)
    assert F.dropout(z, 0.5, training=False, inplace=True) is z and z._version == 0


@pytest.mark.parametrize("value, message", [
    ([1.0, 2.0], "can't assign a list"), (np.ones(2), "can't assign a numpy.ndarray")])
def test_setitem_takes_numbers_and_tensors_only_as_torch(value, message):
    with pytest.raises(TypeError, match=message):
        sn.zeros(2)[:] = value
    with pytest.raises(TypeError, match=message):
        torch.zeros(2)[:] = value


def test_setitem_accepts_a_value_with_extra_leading_ones_and_routes_its_gradient():
    w, tw = _pair(np.arange(4.0).reshape(1, 4), requires_grad=True)
    x, tx = sn.zeros(2, 4, dtype=sn.float64), torch.zeros(2, 4, dtype=torch.float64)
    x[0] = w
    tx[0] = tw
    (x * 3).sum().backward()
    (tx * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    assert not x.is_leaf and x.requires_grad


@pytest.mark.parametrize("call", [lambda t: t.__setitem__(0, sn.ones(3) if isinstance(
    t, sn.Tensor) else torch.ones(3)), lambda t: t.copy_(sn.ones(2, 2, 4) if isinstance(
        t, sn.Tensor) else torch.ones(2, 2, 4))])
def test_a_value_that_does_not_fit_is_a_runtime_error_as_torch(call):
    with pytest.raises(RuntimeError):
        call(torch.zeros(2, 4))
    with pytest.raises(RuntimeError, match=r"\[2, 4\]"):
        call(sn.zeros(2, 4))


def test_in_place_on_a_leaf_that_requires_no_grad_with_a_value_that_does_records_it():
    """``buf[1] = w`` and ``buf += w``: the buffer joins the graph, as in torch."""
    w, tw = _pair(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for op in (lambda b, v: b.__setitem__(1, v), lambda b, v: b.__iadd__(v)):
        buf, tbuf = sn.zeros(2, 3, dtype=sn.float64), torch.zeros(2, 3, dtype=torch.float64)
        op(buf, w)
        op(tbuf, tw)
        assert not buf.is_leaf and buf.requires_grad
        upstream = np.arange(6.0).reshape(2, 3)
        buf.backward(sn.tensor(upstream))
        tbuf.backward(torch.tensor(upstream))
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())
        w.grad, tw.grad = None, None


@pytest.mark.parametrize("call", [
    lambda x: x.add_(x[0]), lambda x: x.mul_(x.T), lambda x: x[1:].copy_(x[:-1]),
    lambda x: x.__setitem__(slice(1, None), x[:-1])])
def test_a_write_whose_operand_partly_overlaps_it_is_refused_as_torch(call):
    x, tx = sn.tensor(np.arange(9.0).reshape(3, 3)), torch.arange(9.0).reshape(3, 3)
    with pytest.raises(RuntimeError) as theirs:
        call(tx)
    with pytest.raises(RuntimeError) as ours:
        call(x)
    assert str(ours.value) == str(theirs.value)
    for fw_x in (x, tx):  # the very same memory, or disjoint parts, are fine
        fw_x.add_(fw_x)
        fw_x[:1].add_(fw_x[1:2])
        fw_x[:, 0] += 1
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


@st.composite
def _index_and_value_shape(draw):
    """A shape, an index into it (int, slice, integer array without repeats, boolean mask, or
    a tuple mixing int and slice) and the shape of a value that broadcasts to the region."""
    shape = draw(shapes(1, 3, 2, 4))
    kind = draw(st.sampled_from(["int", "slice", "array", "mask", "int, slice"]))
    if kind == "int":
        index = draw(st.integers(-shape[0], shape[0] - 1))
    elif kind == "slice":
        index = slice(draw(st.integers(0, shape[0] - 1)), None, draw(st.integers(1, 2)))
    elif kind == "array":
        index = np.array(draw(st.permutations(range(shape[0])))[:draw(st.integers(1, shape[0]))])
    elif kind == "mask":
        index = np.array(draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
    else:
        index = (draw(st.integers(0, shape[0] - 1)),) + (slice(1, None, 2),) * (len(shape) > 1)
    region = np.empty(shape)[index].shape
    drop = draw(st.integers(0, len(region)))
    value_shape = tuple(1 if draw(st.booleans()) else n for n in region[drop:])
    return shape, index, value_shape


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=_index_and_value_shape(), seed=seeds)
def test_setitem_routes_gradients_to_the_value_and_zeroes_the_written_region_as_torch(
        case, seed, dtype):
    shape, index, value_shape = case
    rng = np.random.default_rng(seed)
    (x, tx), (v, tv) = (_pair(rng.standard_normal(s).astype(dtype), requires_grad=True)
                        for s in (shape, value_shape))
    y, ty = x * 2, tx * 2
    y[sn.tensor(index) if isinstance(index, np.ndarray) else index] = v
    ty[torch.tensor(index) if isinstance(index, np.ndarray) else index] = tv
    assert y._version == ty._version == 1
    _compare_backward(rng, y, ty, [(x, tx), (v, tv)], dtype)
