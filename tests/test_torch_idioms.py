"""The names torch users type, each checked against torch 2.13: dtypes and their spellings,
sn.device, the factories, tensor conversions and flags, grad-mode switches, np.asarray, the
module paths, and the error an op gives a NumPy array."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import assert_matches_torch
from tests.strategies import values

torch = pytest.importorskip("torch")


def _torch_dtype(dtype):
    return getattr(torch, np.dtype(dtype).name)


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "int64", "int32", "int16",
                                  "int8", "uint8", "bool", "long", "half", "double", "short",
                                  "float", "int"])
def test_dtype_names_are_torchs(name):
    ours, theirs = getattr(sn, name), getattr(torch, name)
    assert _torch_dtype(ours) == theirs
    assert sn.tensor([1, 0], dtype=ours).dtype == ours
    assert sn.zeros(2, dtype=name if name not in ("float", "int") else ours).dtype == ours


@pytest.mark.parametrize("spec, expected", [
    ("float32", np.float32), ("torch.float64", np.float64), ("long", np.int64),
    ("torch.FloatTensor", np.float32), ("scratchnet.ByteTensor", np.uint8),
    (np.float16, np.float16), (np.dtype("int32"), np.int32)])
def test_every_dtype_spelling(spec, expected):
    assert sn.tensor([1, 2], dtype=spec).dtype == expected
    assert sn.ones(2).type(spec).dtype == expected


@pytest.mark.parametrize("python_type", [float, int, bool])
def test_python_types_as_dtypes_are_torchs(python_type):
    ours = sn.tensor([1, 0], dtype=python_type)
    assert _torch_dtype(ours.dtype) == torch.tensor([1, 0], dtype=python_type).dtype


def test_an_unknown_dtype_raises_listing_the_known_ones():
    with pytest.raises(TypeError, match="unknown dtype 'complex'; expected one of sn.float32"):
        sn.tensor([1], dtype="complex")


@pytest.mark.parametrize("items, torch_items", [
    ([sn.tensor(1.0), sn.tensor(2.0)], [torch.tensor(1.0), torch.tensor(2.0)]),
    ([sn.tensor(1), sn.tensor(2)], [torch.tensor(1), torch.tensor(2)]),
    ([[sn.tensor(1.0, dtype=sn.float64)], [sn.tensor(2.0, dtype=sn.float64)]],
     [[torch.tensor(1.0, dtype=torch.float64)], [torch.tensor(2.0, dtype=torch.float64)]]),
    ([sn.tensor(1.0, requires_grad=True), 2.0], [torch.tensor(1.0), 2.0]),
])
def test_tensor_of_zero_d_tensors_as_torch(items, torch_items):
    ours, theirs = sn.tensor(items), torch.tensor(torch_items)
    assert _torch_dtype(ours.dtype) == theirs.dtype and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_device_is_torchs():
    d = sn.device("cuda:0")
    assert (d.type, d.index, str(d), repr(d)) == ("cuda", 0, "cuda:0",
                                                   "device(type='cuda', index=0)")
    assert repr(sn.device("cpu")) == repr(torch.device("cpu")) == "device(type='cpu')"
    assert sn.device("cuda", 1).index == 1 and sn.device("cpu") == "cpu"
    x = sn.ones(2)
    assert x.device == sn.device("cpu") and x.device.type == "cpu"
    assert x.to(sn.device("cpu")) is x
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        sn.device("tpu")
    assert sn.cuda.is_available() == sn.accelerator.is_available() == sn.cuda_is_available()
    if not sn.cuda.is_available():
        assert sn.accelerator.current_accelerator() is None and sn.cuda.device_count() == 0


def test_factories_match_torch():
    for ours, theirs in [(sn.eye(3), torch.eye(3)), (sn.eye(2, 4), torch.eye(2, 4)),
                         (sn.linspace(-1, 2, 7), torch.linspace(-1, 2, 7)),
                         (sn.linspace(0, 1, 1), torch.linspace(0, 1, 1)),
                         (sn.full_like(sn.ones(2, 3), 7), torch.full_like(torch.ones(2, 3), 7)),
                         (sn.zeros_like(sn.ones(2, dtype=sn.int32)),
                          torch.zeros_like(torch.ones(2, dtype=torch.int32)))]:
        assert ours.shape == tuple(theirs.shape) and _torch_dtype(ours.dtype) == theirs.dtype
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    for make in (sn.empty, sn.rand, sn.randn):
        assert make(2, 3).shape == (2, 3) and make((2, 3), dtype=sn.float64).dtype == np.float64
    for make in (sn.empty_like, sn.rand_like, sn.randn_like):
        assert make(sn.ones(2, dtype=sn.float64)).dtype == np.float64


def test_randint_forms_and_ranges():
    sn.manual_seed(0)
    a = sn.randint(5, (1000,))
    b = sn.randint(-3, 3, (10, 10), dtype=sn.int32)
    c = sn.randint_like(sn.ones(4, dtype=sn.int16), 2, 4)
    assert a.dtype == np.int64 and set(a.tolist()) == set(range(5))
    assert b.dtype == np.int32 and -3 <= b.numpy().min() and b.numpy().max() < 3
    assert c.dtype == np.int16 and set(c.tolist()) <= {2, 3}
    with pytest.raises(ValueError, match="expected low < high"):
        sn.randint(3, 3, (2,))


def test_generators_give_their_own_reproducible_streams():
    g1, g2 = sn.Generator().manual_seed(42), sn.Generator().manual_seed(42)
    assert sn.randn(3, generator=g1).tolist() == sn.randn(3, generator=g2).tolist()
    state = g1.get_state()
    first = sn.randint(0, 100, (5,), generator=g1).tolist()
    g1.set_state(state)
    assert sn.randint(0, 100, (5,), generator=g1).tolist() == first
    assert g1.initial_seed() == 42


def test_from_numpy_shares_memory_and_as_tensor_copies_only_when_needed():
    a = np.arange(3.0)
    t = sn.from_numpy(a)
    a[0] = 7
    assert t.dtype == np.float64 and t.tolist() == [7.0, 1.0, 2.0]
    assert sn.as_tensor(a).data is a and sn.as_tensor(t) is t
    assert sn.as_tensor(a, dtype=sn.float32).dtype == np.float32
    assert sn.as_tensor([1, 2]).dtype == np.int64
    with pytest.raises(TypeError, match="from_numpy: expected np.ndarray"):
        sn.from_numpy([1, 2])
    with pytest.raises(TypeError, match="can't convert np.ndarray of type complex128"):
        sn.from_numpy(np.zeros(2, complex))


def test_conversions_and_type_names_match_torch():
    x, tx = sn.tensor([1.5, -2.0]), torch.tensor([1.5, -2.0])
    for name in ("int", "bool", "half", "long", "float", "double"):
        ours, theirs = getattr(x, name)(), getattr(tx, name)()
        assert _torch_dtype(ours.dtype) == theirs.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert x.type() == "scratchnet.FloatTensor" and tx.type() == "torch.FloatTensor"
    assert x.type(sn.float64).dtype == x.type("torch.DoubleTensor").dtype == np.float64
    assert x.long().type() == "scratchnet.LongTensor"
    assert x.type_as(sn.ones(1, dtype=sn.int32)).dtype == np.int32


def test_to_takes_torchs_call_forms():
    x = sn.ones(2, requires_grad=True)
    for call in (lambda t: t.to(sn.float64), lambda t: t.to("cpu", sn.float64),
                 lambda t: t.to(dtype=sn.float64), lambda t: t.to(device="cpu", dtype="double"),
                 lambda t: t.to(sn.ones(1, dtype=sn.float64)),
                 lambda t: t.to(sn.float64, non_blocking=True)):
        y = call(x)
        assert y.dtype == np.float64 and y.grad_fn is not None      # differentiable
    assert x.to("cpu") is x and x.to(copy=True) is not x
    y = x.to(copy=True)
    assert not np.shares_memory(y.data, x.data)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        x.to("tpu")


def test_requires_grad_and_detach_in_place():
    x = sn.ones(2)
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        sn.ones(2, dtype=sn.int64).requires_grad_()


def test_arithmetic_and_comparison_methods_match_torch():
    a, b = values(np.random.default_rng(0), (2, 3)), values(np.random.default_rng(1), (3,))
    for op in (lambda x, y: x.add(y, alpha=2), lambda x, y: x.sub(y, alpha=0.5),
               lambda x, y: x.mul(y), lambda x, y: x.div(y), lambda x, y: x.maximum(y),
               lambda x, y: x.max(y) + x.min(y),
               lambda x, y: x.where(x > 0, y), lambda x, y: x.new_zeros(2, 3) + x,
               lambda x, y: x.new_ones((2, 3)) * x, lambda x, y: x.new_full((2, 3), 2.0) * x):
        assert_matches_torch(op, op, [a, b])
    x, tx = sn.tensor(a), torch.tensor(a)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(x, name)(0.5).numpy(),
                                      getattr(tx, name)(0.5).numpy())
    assert x.new_tensor([1, 2]).dtype == np.float64 and x.new_empty(2).shape == (2,)


def test_numpy_asarray_of_a_tensor_as_torch():
    x = sn.tensor([[1.0, 2.0]])
    assert np.asarray(x) is x.data
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.array(x).base is None or not np.shares_memory(np.array(x), x.data)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        np.asarray(sn.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(torch.ones(2, requires_grad=True))
    assert isinstance(np.float32(2) * x, sn.Tensor)              # NumPy scalars still defer
    assert isinstance(np.ones(2) + x, sn.Tensor)


def test_grad_mode_switches_as_torch():
    x = sn.ones(2, requires_grad=True)

    @sn.no_grad
    def bare():
        return x * 2

    @sn.no_grad()
    def called():
        return x * 2

    @sn.inference_mode
    def inferred():
        return x * 2

    assert not bare().requires_grad and not called().requires_grad
    assert not inferred().requires_grad and bare.__name__ == "bare"
    with sn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with sn.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad
    sn.set_grad_enabled(False)                         # a plain call switches at once
    try:
        assert not sn.is_grad_enabled()
    finally:
        sn.set_grad_enabled(True)
    with sn.inference_mode(False):
        assert sn.is_grad_enabled()

    @sn.set_grad_enabled(False)
    def decorated():
        return sn.is_grad_enabled()

    assert sn.is_grad_enabled() and decorated() is False and sn.is_grad_enabled()


def test_torchs_module_paths_and_small_names():
    import scratchnet.nn.functional as nnF
    from scratchnet.utils.data import DataLoader, Dataset, TensorDataset  # noqa: F401
    assert nnF is F and sn.nn.functional is F
    assert sn.utils.data.DataLoader is DataLoader
    assert sn.flatten(sn.ones(2, 3, 4), 1).shape == (2, 12)
    assert sn.cat([sn.ones(2), sn.zeros(1)]).shape == (3,)
    assert sn.stack([sn.ones(2), sn.zeros(2)], 1).shape == (2, 2)
    assert sn.is_tensor(sn.ones(1)) and not sn.is_tensor(np.ones(1))
    assert sn.numel(sn.ones(2, 3)) == 6
    assert sn.optim.lr_scheduler.StepLR is not None and sn.nn.init.kaiming_normal_ is not None


def _calls():
    """An op (and its name in the message) given a NumPy array where a Tensor belongs."""
    a2, a4 = np.ones((2, 3), np.float32), np.ones((1, 3, 4, 4), np.float32)
    return {
        "ReLUFunction": lambda: F.relu(a2), "SoftmaxFunction": lambda: F.softmax(a2, 1),
        "Conv2dFunction": lambda: F.conv2d(a4, sn.ones(2, 3, 3, 3)),
        "LinearFunction": lambda: F.linear(sn.ones(2, 3), np.ones((4, 3), np.float32)),
        "cross_entropy": lambda: F.cross_entropy(sn.ones(2, 3), np.array([0, 1])),
        "nll_loss": lambda: F.nll_loss(a2, sn.tensor([0, 1])),
        "mse_loss": lambda: F.mse_loss(a2, sn.ones(2, 3)), "add": lambda: F.add(a2, a2),
        "SumFunction": lambda: F.sum(a2), "reshape": lambda: F.reshape(a2, (6,)),
        "max": lambda: F.max(a2), "argmax": lambda: F.argmax(a2),
        "MaxPool": lambda: F.max_pool2d(a4, 2), "einsum": lambda: sn.einsum("ij->", a2),
        "maximum": lambda: sn.maximum(sn.ones(2, 3), a2), "amax": lambda: sn.amax(a2),
        "embedding": lambda: F.embedding(np.array([0]), sn.ones(2, 3)),
        "matmul": lambda: F.matmul(sn.ones(2, 3), np.ones((3, 2), np.float32)),
        "binary_cross_entropy_with_logits":
            lambda: F.binary_cross_entropy_with_logits(a2, sn.ones(2, 3)),
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_an_op_given_a_numpy_array_says_to_wrap_it(name):
    with pytest.raises(TypeError, match=rf"{name}.*: expected a Tensor as input \d+, got a "
                                        r"numpy\.ndarray of shape \(.*\); wrap it with "
                                        r"sn\.tensor\(\.\.\.\)"):
        _calls()[name]()
