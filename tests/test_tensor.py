"""Tensor: construction and dtype rules, attributes, conversions, factories, comparisons,
indexing, operators and dtype promotion, each checked against torch or by hand."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import FLOATS, assert_matches_torch
from tests.strategies import broadcastable_shapes, nonzero_values, seeds, shapes, values

torch = pytest.importorskip("torch")

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
               np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32,
               np.dtype(np.uint8): torch.uint8, np.dtype(np.bool_): torch.bool}


def same_dtype(ours, theirs):
    return TORCH_DTYPE[np.dtype(ours.dtype)] == theirs.dtype


@pytest.mark.parametrize("data", [1.5, 2, True, [1.0, 2.0], [[1, 2], [3, 4]], [True, False],
                                  [1, 2.5], np.array([1.0, 2.0]), np.array([1, 2], np.int32),
                                  np.array([1.0], np.float32), np.arange(3, dtype=np.uint8),
                                  np.float64(3.0), np.array([True])])
def test_tensor_dtype_rules_match_torch(data):
    ours, theirs = sn.tensor(data), torch.tensor(data)
    assert same_dtype(ours, theirs), f"{ours.dtype} vs {theirs.dtype}"
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_python_floats_give_float32_and_arrays_keep_float64():
    assert sn.tensor(0.1).dtype == sn.float32 == np.float32
    assert sn.tensor(np.array(0.1)).dtype == sn.float64
    assert sn.tensor(7).dtype == sn.int64 and sn.tensor(False).dtype == np.bool_
    assert sn.tensor([1, 2], dtype=sn.float64).dtype == np.float64


def test_tensor_copies_its_data():
    a = np.zeros(3)
    t = sn.tensor(a)
    a[0] = 5
    assert t.tolist() == [0.0, 0.0, 0.0]
    u = sn.tensor(t)
    u.data[1] = 2
    assert t.tolist() == [0.0, 0.0, 0.0]


def test_tensor_from_unsupported_data_raises():
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from str"):
        sn.tensor("abc")


def test_attributes():
    x = sn.tensor(np.ones((2, 3)), requires_grad=True)
    assert isinstance(x.data, np.ndarray) and x.grad is None
    assert isinstance(x.dtype, np.dtype) and x.dtype == np.float64
    assert x.shape == (2, 3) and x.ndim == 2 and x.device == "cpu"
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x.size() == (2, 3) and x.size(1) == 3 and x.numel() == 6 and len(x) == 2
    y = x * 2
    assert y.requires_grad and not y.is_leaf and type(y.grad_fn).__name__ == "MulFunction"
    assert not sn.zeros(2).requires_grad


def test_numpy_item_tolist():
    x = sn.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x[1, 0].item() == 3.0 and isinstance(x[1, 0].item(), float)
    assert sn.tensor([7]).item() == 7 and isinstance(sn.tensor([7]).item(), int)
    with pytest.raises(ValueError, match="item\\(\\): a Tensor with 4 elements"):
        x.item()
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on a Tensor that requires"):
        sn.ones(2, requires_grad=True).numpy()


def test_detach_shares_data_and_leaves_the_graph():
    x = sn.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.data, y.data)


@pytest.mark.parametrize("convert, dtype", [(lambda t: t.to(sn.float64), np.float64),
                                            (lambda t: t.double(), np.float64),
                                            (lambda t: t.to(np.float32), np.float32),
                                            (lambda t: t.float(), np.float32)])
def test_dtype_conversion_is_differentiable(convert, dtype):
    for source in FLOATS:
        x = sn.tensor(np.array([1.0, -2.0], source), requires_grad=True)
        y = convert(x)
        assert y.dtype == dtype
        (y * y).sum().backward()
        assert x.grad.dtype == source  # the gradient comes back in the input's dtype
        np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])


def test_long_casts_to_int64():
    assert sn.tensor([1.7, -2.2]).long().tolist() == torch.tensor([1.7, -2.2]).long().tolist()


@pytest.mark.parametrize("make, torch_make", [
    (lambda: sn.zeros(2, 3), lambda: torch.zeros(2, 3)),
    (lambda: sn.ones((2, 3)), lambda: torch.ones((2, 3))),
    (lambda: sn.zeros(4, dtype=sn.float64), lambda: torch.zeros(4, dtype=torch.float64)),
    (lambda: sn.full((2, 2), 1.5), lambda: torch.full((2, 2), 1.5)),
    (lambda: sn.full((2,), 3), lambda: torch.full((2,), 3)),
    (lambda: sn.full((2,), True), lambda: torch.full((2,), True)),
    (lambda: sn.zeros_like(sn.tensor([1, 2])), lambda: torch.zeros_like(torch.tensor([1, 2]))),
    (lambda: sn.ones_like(sn.ones(2, dtype=sn.float64)),
     lambda: torch.ones_like(torch.ones(2, dtype=torch.float64))),
    (lambda: sn.arange(5), lambda: torch.arange(5)),
    (lambda: sn.arange(1, 7, 2), lambda: torch.arange(1, 7, 2)),
    (lambda: sn.arange(0, 1, 0.25), lambda: torch.arange(0, 1, 0.25)),
    (lambda: sn.arange(3.0), lambda: torch.arange(3.0)),
])
def test_factories_match_torch(make, torch_make):
    ours, theirs = make(), torch_make()
    assert same_dtype(ours, theirs) and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_factories_requires_grad():
    assert sn.zeros(2, requires_grad=True).requires_grad
    assert sn.randn(2, 2, requires_grad=True).is_leaf


@pytest.mark.parametrize("factory", [sn.rand, sn.randn])
def test_manual_seed_makes_random_factories_reproducible(factory):
    sn.manual_seed(123)
    a, b = factory(3, 4), factory(3, 4)
    sn.manual_seed(123)
    c = factory(3, 4)
    assert a.dtype == np.float32 and a.shape == (3, 4)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())
    sn.manual_seed(124)
    assert not np.array_equal(factory(3, 4).numpy(), a.numpy())
    assert factory(2, dtype=sn.float64).dtype == np.float64


def test_rand_and_randn_have_the_right_distribution():
    sn.manual_seed(0)
    u, n = sn.rand(20000).numpy(), sn.randn(20000).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1.0) < 0.03


COMPARISONS = ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]


@pytest.mark.parametrize("op", COMPARISONS)
@given(pair=broadcastable_shapes(max_dims=3), seed=seeds, scalar=st.booleans())
def test_comparisons_give_bool_without_grad(op, pair, seed, scalar):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, pair[0]).astype(np.float32)  # small integers: equal pairs happen
    b = 1.0 if scalar else rng.integers(-2, 3, pair[1]).astype(np.float32)
    ours = getattr(sn.tensor(a, requires_grad=True), op)(b if scalar else sn.tensor(b))
    theirs = getattr(torch.tensor(a), op)(b if scalar else torch.tensor(b))
    assert ours.dtype == np.bool_ and not ours.requires_grad and ours.grad_fn is None
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_getitem_basic_and_integer_array_gradients_by_hand():
    x = sn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x[1, ::2].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [1, 0, 1]])
    x.grad = None
    x[sn.tensor([1, 1, 0]), sn.tensor([2, 2, 0])].backward(sn.tensor(np.array([1.0, 2.0, 5.0])))
    np.testing.assert_array_equal(x.grad.numpy(), [[5, 0, 0], [0, 0, 3]])  # repeats add up


SCALAR_OPS = {
    "add": lambda x, s: x + s, "radd": lambda x, s: s + x,
    "sub": lambda x, s: x - s, "rsub": lambda x, s: s - x,
    "mul": lambda x, s: x * s, "rmul": lambda x, s: s * x,
    "div": lambda x, s: x / s, "rdiv": lambda x, s: s / x,
    "pow": lambda x, s: x ** s, "rpow": lambda x, s: abs(s) ** x,
    "neg_pos": lambda x, s: -x + (+x) * s,
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", SCALAR_OPS)
@given(shape=shapes(0, 3), seed=seeds, scalar=st.sampled_from([-1.5, 0.5, 2.0, 3]))
def test_operators_with_python_scalars_match_torch(name, dtype, shape, seed, scalar):
    op = SCALAR_OPS[name]
    rng = np.random.default_rng(seed)
    # positive bases for x ** s, nonzero denominators for s / x
    x = values(rng, shape, low=0.5) if name == "pow" else nonzero_values(rng, shape)
    out = assert_matches_torch(lambda t: op(t, scalar), lambda t: op(t, scalar), [x], dtype,
                               seed=seed)
    assert out[0].dtype == dtype  # a Python scalar never widens the tensor


OPERATORS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
             "/": lambda a, b: a / b}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", OPERATORS)
@given(pair=broadcastable_shapes(max_dims=3), seed=seeds)
def test_binary_operators_broadcast_as_torch(name, dtype, pair, seed):
    rng = np.random.default_rng(seed)
    assert_matches_torch(OPERATORS[name], OPERATORS[name],
                         [values(rng, pair[0]), nonzero_values(rng, pair[1])], dtype, seed=seed)


def test_operators_with_numpy_arrays_on_the_left():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.array([1.0, 1.0])
    assert isinstance(y, sn.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


@pytest.mark.parametrize("a, b", [
    (np.ones(3, np.float32), np.ones(3, np.float64)),
    (np.ones((2, 3), np.float64), np.ones(3, np.float32)),
    (np.ones(3, np.float32), np.array(2.0)),                # a 0-d float64 does not widen
    (np.array(2.0, np.float32), np.ones(3, np.float64)),
    (np.ones(3, np.int64), np.ones(3, np.float32)),
    (np.ones(3, np.int32), np.array(2, np.int64)),
    (np.ones(3, np.uint8), np.ones(3, np.int32)),
])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_dtype_promotion_of_two_tensors_matches_torch(op, a, b):
    ours = getattr(F, op)(sn.tensor(a), sn.tensor(b))
    theirs = getattr(torch, op)(torch.tensor(a), torch.tensor(b))
    assert same_dtype(ours, theirs), f"{a.dtype} {op} {b.dtype}: {ours.dtype} vs {theirs.dtype}"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("op", ["add", "mul"])  # torch refuses sub with a bool operand
def test_bool_with_int_promotes_to_int_as_torch(op):
    a, b = np.array([True, False]), np.array([3, 4], np.int32)
    ours, theirs = getattr(F, op)(sn.tensor(a), sn.tensor(b)), getattr(torch, op)(
        torch.tensor(a), torch.tensor(b))
    assert same_dtype(ours, theirs) and ours.tolist() == theirs.tolist()


def test_float32_input_of_a_float64_op_gets_a_float32_gradient():
    a32, b64 = np.array([1.0, 2.0], np.float32), np.array([3.0, 5.0])
    x, y = sn.tensor(a32, requires_grad=True), sn.tensor(b64, requires_grad=True)
    tx, ty = torch.tensor(a32, requires_grad=True), torch.tensor(b64, requires_grad=True)
    out, ref = x * y, tx * ty
    assert same_dtype(out, ref) and out.dtype == np.float64
    out.backward(sn.tensor(np.array([1.0, -1.0])))
    ref.backward(torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


@pytest.mark.parametrize("scalar, expected", [(0.5, np.float32), (2, np.int64)])
def test_int_tensor_with_python_scalar_follows_torch(scalar, expected):
    ours, theirs = sn.tensor([1, 2]) * scalar, torch.tensor([1, 2]) * scalar
    assert ours.dtype == expected and same_dtype(ours, theirs)
    assert ours.tolist() == theirs.tolist()


def test_true_division_of_ints_gives_float32():
    ours = sn.tensor([1, 3]) / sn.tensor([2, 2])
    theirs = torch.tensor([1, 3]) / torch.tensor([2, 2])
    assert same_dtype(ours, theirs) and ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("call", [lambda a, b: a @ b, lambda a, b: F.linear(a, b)])
def test_matmul_and_linear_with_two_float_dtypes_raise(call):
    with pytest.raises(TypeError, match=r"float32 \(2, 3\), float64 \(3, 3\)"):
        call(sn.ones(2, 3), sn.ones(3, 3, dtype=sn.float64))


def test_repr_is_torch_like():
    assert repr(sn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(sn.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "dtype=float64" in repr(sn.tensor(np.zeros(1)))
    assert "grad_fn=<MulFunction>" in repr(sn.ones(1, requires_grad=True) * 2)


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sigmoid", "tanh"])
@pytest.mark.parametrize("data", [[1, 4], [True, False]])
def test_float_valued_ops_on_integer_tensors_give_float32_as_torch(op, data):
    ours, theirs = getattr(F, op)(sn.tensor(data)), getattr(torch, op)(torch.tensor(data))
    assert same_dtype(ours, theirs), f"{op}({data}): {ours.dtype} vs {theirs.dtype}"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
