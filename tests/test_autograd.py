"""The backward engine: order, depth, accumulation, freed graphs, grad mode, hooks, checkpoint,
gradcheck and device errors."""
import gc
import sys
import weakref

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.utils import checkpoint

torch = pytest.importorskip("torch")


class CountingIdentity(sn.Function):
    """y = x; counts its backward calls and records the gradients it receives."""

    def __init__(self, log):
        self.log = log

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        self.log.append(gy.copy())
        return gy


def test_diamond_runs_the_shared_node_once_with_the_summed_gradient():
    # x -> h -> (a = h·h, b = exp h) -> y = a·b: h's Function must wait for both branches.
    log = []
    x = sn.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    h = CountingIdentity(log)(x)
    y = (h * h) * h.exp() + h
    y.backward(sn.tensor(np.array([1.0, 2.0, 3.0])))

    tx = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (tx * tx * tx.exp() + tx).backward(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert len(log) == 1
    np.testing.assert_allclose(log[0], tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_wide_diamonds_of_unequal_depth():
    x = sn.tensor(np.array([1.5]), requires_grad=True)
    short, long = x * 2, x
    for _ in range(50):
        long = long * 1.01
    (short * long).backward()
    tx = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
    tl = tx
    for _ in range(50):
        tl = tl * 1.01
    ((tx * 2) * tl).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_a_10000_op_chain_does_not_hit_the_recursion_limit():
    limit = sys.getrecursionlimit()
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000] * 2, rtol=1e-9)
    assert sys.getrecursionlimit() == limit


def test_gradients_accumulate_across_backward_calls_until_cleared():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    for k in range(1, 4):
        (x * x).sum().backward()  # a fresh graph each time
        np.testing.assert_array_equal(x.grad.numpy(), k * 2 * x.data)
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_the_leaf_gradient_does_not_alias_the_seed_or_another_leaf():
    x, y = sn.ones(3, requires_grad=True), sn.ones(3, requires_grad=True)
    seed = sn.tensor([1.0, 2.0, 3.0])
    (x + y).backward(seed)
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.backward(seed)  # a leaf's own backward
    seed.data[:] = 0
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_second_backward_through_a_freed_graph_raises_as_torch():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*"
                                           "retain_graph=True"):
        y.backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tx * tx).exp().sum()
    ty.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        ty.backward()


def test_retain_graph_allows_a_second_backward():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_saved_arrays_are_freed_after_backward():
    x = sn.tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    y = x.var() * 2
    fn = y.grad_fn.inputs[0].grad_fn
    saved = weakref.ref(fn.saved_tensors[0])  # x - mean(x): an array only VarFunction holds
    gc.collect()
    assert saved() is not None
    y.backward()
    gc.collect()
    assert saved() is None


def test_no_grad_and_enable_grad_as_context_managers():
    x = sn.ones(2, requires_grad=True)
    assert sn.is_grad_enabled()
    with sn.no_grad():
        assert not sn.is_grad_enabled()
        y = x * 2
        with sn.enable_grad():
            z = x * 2
        assert not sn.is_grad_enabled()
    assert sn.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with sn.no_grad():
            1 / 0
    assert sn.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    @sn.no_grad()
    def frozen(t):
        """doc"""
        return t * 2

    @sn.enable_grad()
    def recorded(t):
        return t * 2

    x = sn.ones(2, requires_grad=True)
    assert not frozen(x).requires_grad and frozen.__doc__ == "doc"
    with sn.no_grad():
        assert recorded(x).requires_grad
    assert sn.is_grad_enabled()


def test_hooks_modify_and_observe_gradients_and_can_be_removed():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = []
    observer = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    doubler = x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])
    doubler.remove()
    observer.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert len(seen) == 1


def test_a_hook_on_an_intermediate_tensor_changes_what_flows_below_it_as_torch():
    a = np.array([0.5, -1.5, 2.0])
    x = sn.tensor(a, requires_grad=True)
    h = x * x
    h.register_hook(lambda g: g * 10)
    (h.exp() * x).sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    th = tx * tx
    th.register_hook(lambda g: g * 10)
    (th.exp() * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_register_hook_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require grad"):
        sn.ones(2).register_hook(lambda g: g)


def test_retain_grad_keeps_the_gradient_of_an_intermediate_tensor():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h, k = x * 3, x * 4
    h.retain_grad()
    (h * h + k).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.data)
    assert k.grad is None


def test_backward_on_a_non_scalar_without_gradient_raises_naming_the_shape():
    y = sn.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar "
                                           r"outputs.*\(2, 3\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the tensor has "
                                           r"shape \(2, 3\)"):
        y.backward(sn.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        sn.ones(1).backward()


@pytest.mark.parametrize("data", [[1, 2], [True, False]])
def test_integer_and_bool_tensors_refuse_requires_grad(data):
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require "
                                           "gradients, got (int64|bool)"):
        sn.tensor(data, requires_grad=True)
    t = sn.tensor(data)
    with pytest.raises(RuntimeError, match="floating point"):
        t.requires_grad = True


def test_integer_outputs_carry_no_gradient():
    x = sn.tensor(np.array([[1.0, 3.0], [4.0, 2.0]]), requires_grad=True)
    values, indices = x.max(1)
    assert values.requires_grad and not indices.requires_grad and indices.grad_fn is None
    assert not x.argmax().requires_grad and not (x > 2).requires_grad


def _block(w):
    """A small segment: a few ops whose intermediates torch would keep for backward."""
    def fn(x):
        h = (x @ w).tanh()
        return (h * h).exp().sum(1), h.sigmoid()
    return fn


def test_checkpoint_gives_the_same_gradients_as_the_plain_function():
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    grads = []
    for wrap in (lambda fn, x: fn(x), checkpoint):
        x, w = sn.tensor(xa, requires_grad=True), sn.tensor(wa, requires_grad=True)
        a, b = wrap(_block(w), x)
        ((a * 2).sum() + (b * b).sum()).backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)


def test_checkpoint_keeps_no_intermediate_arrays():
    rng = np.random.default_rng(1)
    made = []

    def fn(x):
        h = x.exp()
        made.append(weakref.ref(h.data))  # an intermediate array; ExpFunction would save it
        return (h * h).sum()

    x = sn.tensor(rng.standard_normal(5), requires_grad=True)
    plain = fn(x)
    gc.collect()
    assert made[0]() is not None  # without checkpoint the graph holds the intermediate
    del plain
    out = checkpoint(fn, x)
    gc.collect()
    assert made[1]() is None  # with checkpoint: freed right after forward
    out.backward()  # recomputes fn
    assert len(made) == 3
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * x.data), rtol=1e-12)


def test_checkpoint_replays_random_draws_in_its_recomputation():
    def fn(x):
        return x * (sn.rand(*x.shape, dtype=sn.float64) > 0.5)  # a dropout-like mask

    x = sn.tensor(np.arange(1.0, 9.0), requires_grad=True)
    sn.manual_seed(7)
    fn(x).sum().backward()
    expected, x.grad = x.grad.numpy(), None
    sn.manual_seed(7)
    checkpoint(fn, x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)


class WrongSquare(sn.Function):
    """y = x², with a backward that is off by one at element 1."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        gx = 2 * x * gy
        gx.reshape(-1)[1] += 1.0
        return gx


def test_gradcheck_names_input_index_and_values_of_a_wrong_backward():
    a = sn.tensor(np.array([[0.5, 1.0], [1.5, 2.0]]), requires_grad=True)
    b = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(sn.GradcheckError, match=r"input 1 at index \(1,\): analytic "
                                                r"-?[0-9.e+-]+, numeric -?[0-9.e+-]+"):
        sn.gradcheck(lambda a, b: a * 2 + WrongSquare()(b), [a, b])
    assert sn.gradcheck(lambda a, b: WrongSquare()(b), [a, b], raise_exception=False) is False
    assert sn.gradcheck(lambda a, b: a * b, [a, b]) is True


def test_gradcheck_refuses_float32_and_inputs_without_grad():
    with pytest.raises(ValueError, match="input 0 is float32.*float64"):
        sn.gradcheck(lambda x: x * 2, [sn.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        sn.gradcheck(lambda x: x * 2, [sn.ones(2, dtype=sn.float64)])


@pytest.mark.parametrize("make", [lambda: sn.tensor([1.0], device="tpu"),
                                  lambda: sn.zeros(2, device="tpu"),
                                  lambda: sn.ones(2).to("tpu")])
def test_unknown_device_raises_naming_it(make):
    with pytest.raises(ValueError, match=r"unknown device 'tpu'; expected one of \('cpu', "
                                         r"'cuda'\)"):
        make()


@pytest.mark.skipif(sn.cuda_is_available(), reason="CuPy and a GPU are present")
@pytest.mark.parametrize("make", [lambda: sn.tensor([1.0], device="cuda"),
                                  lambda: sn.ones(2).to("cuda"), lambda: sn.ones(2).cuda(),
                                  lambda: sn.set_default_device("cuda")])
def test_cuda_without_cupy_or_gpu_names_the_missing_piece(make):
    with pytest.raises(RuntimeError, match=r"device 'cuda' is not available: (CuPy is not "
                                           r"installed|CuPy is installed but)"):
        make()
    assert sn.get_default_device() == "cpu"


@pytest.mark.gpu
def test_mixing_devices_in_one_op_names_both():
    with pytest.raises(RuntimeError, match=r"same device.*cuda \(2,\), cpu \(2,\)"):
        sn.ones(2).cuda() + sn.ones(2)


@pytest.mark.gpu
def test_to_cuda_and_back_is_differentiable():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.to("cuda") * 3).to("cpu")
    assert y.device == "cpu"
    y.sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]
