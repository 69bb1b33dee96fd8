"""The engine holds every Function to its contract when it is broken, naming the Function and
the input: what forward returns, what backward returns (count, type, shape, dtype, device);
state kept only through save_for_backward; next_functions and the forward observers."""
import gc
import types

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.distributed as dist
import scratchnet.functional as F
from scratchnet import function, higher_order, nn
from scratchnet.nn.sync_batchnorm import SyncBatchNormFunction
from scratchnet.utils import checkpoint
from tests.distributed.loopback import LoopbackGroup

torch = pytest.importorskip("torch")


class Returns(sn.Function):
    """y = a·b (or y = a when called on one input), whose backward returns ``make(gy, a, b)``
    as it is: a tuple, a single gradient, anything."""

    def __init__(self, make):
        self.make = make

    def forward(self, a, b=None):
        self.save_for_backward(a, b)
        return a * (1 if b is None else b)

    def backward(self, gy):
        return self.make(gy, *self.saved_tensors)


def _backward(make, a=(1.0, 2.0, 3.0), b=(4.0, 5.0, 6.0), dtype=np.float64):
    x = sn.tensor(np.array(a, dtype), requires_grad=True)
    y = sn.tensor(np.array(b, dtype), requires_grad=True)
    Returns(make)(x, y).sum().backward()
    return x, y


class TorchReturns(torch.autograd.Function):
    """torch's twin of Returns for the cases where the two are compared."""

    make = None

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, gy):
        return TorchReturns.make(gy, *ctx.saved_tensors)


def _torch_backward(make, dtype=torch.float64):
    x = torch.tensor([1.0, 2.0, 3.0], dtype=dtype, requires_grad=True)
    y = torch.tensor([4.0, 5.0, 6.0], dtype=dtype, requires_grad=True)
    TorchReturns.make = make
    TorchReturns.apply(x, y).sum().backward()
    return x, y


def test_the_right_gradients_pass_unchanged():
    x, y = _backward(lambda gy, a, b: (gy * b, gy * a))
    assert x.grad.tolist() == [4.0, 5.0, 6.0] and y.grad.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("make, count", [(lambda gy, a, b: (gy * b,), 1),
                                         (lambda gy, a, b: gy * b, 1),
                                         (lambda gy, a, b: (gy * b, gy * a, gy), 3)])
def test_a_wrong_number_of_gradients_raises_as_torch(make, count):
    with pytest.raises(RuntimeError, match=rf"Returns.backward returned {count} gradients for "
                                           r"2 inputs; return one per input of forward, None"):
        _backward(make)
    with pytest.raises(RuntimeError, match=rf"incorrect number of gradients \(expected 2, "
                                           rf"got {count}\)"):
        _torch_backward(make)


def test_extra_nones_after_the_last_input_are_dropped_as_torch():
    make = lambda gy, a, b: (gy * b, gy * a, None)
    x, y = _backward(make)
    tx, ty = _torch_backward(make)
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


def test_none_means_no_gradient_for_that_input():
    x, y = _backward(lambda gy, a, b: (None, gy * a))
    assert x.grad is None and y.grad.tolist() == [1.0, 2.0, 3.0]


def test_a_gradient_of_the_wrong_shape_raises_at_once_naming_function_and_input():
    # y feeds an exp: the bad gradient must be caught when Returns hands it over, not later
    x = sn.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x.exp()
    out = Returns(lambda gy, a, b: (gy * b, gy[:2]))(x, h)
    with pytest.raises(RuntimeError, match=r"Returns.backward returned a gradient of shape "
                                           r"\(2,\) for input 1, which has shape \(3,\)"):
        out.sum().backward()
    with pytest.raises(RuntimeError, match=r"invalid gradient at index 1 - got \[2\]"):
        _torch_backward(lambda gy, a, b: (gy * b, gy[:2]))


def test_a_broadcastable_gradient_is_refused_where_torch_sums_it():
    """A difference from torch (README): torch sums a gradient of shape (2, 3) down to an
    input of shape (3,); scratchnet asks the backward to do it (unbroadcast)."""
    make = lambda gy, a, b: (gy * b, (gy * a).expand(2, 3) if torch.is_tensor(gy)
                             else np.broadcast_to(gy * a, (2, 3)))
    _, ty = _torch_backward(make)
    assert ty.grad.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) for input 1, which has shape"):
        _backward(make)


def test_another_float_precision_is_cast_to_the_inputs_as_torch():
    make = lambda gy, a, b: (gy * b, (gy * a).astype(np.float64)
                             if isinstance(gy, np.ndarray) else (gy * a).double())
    x, y = _backward(make, dtype=np.float32)
    assert x.grad.dtype == y.grad.dtype == np.float32
    _, ty = _torch_backward(make, torch.float32)
    assert ty.grad.dtype == torch.float32
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


@pytest.mark.parametrize("bad", [lambda g: g > 0, lambda g: g.astype(np.int64)])
def test_a_gradient_that_is_not_a_float_raises(bad):
    """A difference from torch (README), which casts a bool or int gradient silently: in a
    hand-written backward it is a bug, such as returning the mask ``y > 0`` for ``gy * mask``."""
    with pytest.raises(RuntimeError, match=r"Returns.backward returned a (bool|int64) gradient "
                                           r"for input 0, which is float64"):
        _backward(lambda gy, a, b: (bad(gy), gy * a))


@pytest.mark.parametrize("bad, what", [(lambda g: sn.tensor(g), r"a Tensor .*return its .data\)"),
                                       (lambda g: g.tolist(), "a list"),
                                       (lambda g: 1.0, "a float")])
def test_a_gradient_that_is_not_an_array_raises(bad, what):
    with pytest.raises(RuntimeError, match=rf"Returns.backward returned {what} as the gradient "
                                           r"of input 1; expected an array"):
        _backward(lambda gy, a, b: (gy * b, bad(gy)))


class CudaLike(np.ndarray):
    """An array that scratchnet's backend takes for a CuPy array (by its module), on GPU 0."""

    __module__ = "cupy"
    device = types.SimpleNamespace(id=0)


def test_a_gradient_on_another_device_raises():
    with pytest.raises(RuntimeError, match=r"Returns.backward returned a gradient on cuda:0 for "
                                           r"input 1, which is on cpu"):
        _backward(lambda gy, a, b: (gy * b, (gy * a).view(CudaLike)))


def test_a_gradient_for_an_input_that_was_none_raises():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    out = Returns(lambda gy, a, b: (gy, gy))(x, None)
    with pytest.raises(RuntimeError, match=r"Returns.backward returned a gradient for input 1, "
                                           r"which was None"):
        out.sum().backward()


def test_numpy_scalars_from_0d_arithmetic_are_taken_as_0d_arrays():
    x = sn.tensor(np.array(3.0), requires_grad=True)
    out = Returns(lambda gy, a, b: gy * 2.0)(x)       # NumPy gives a float64 scalar here
    assert isinstance(out.data, np.ndarray) and out.data.shape == ()
    out.backward()
    assert isinstance(x.grad.data, np.ndarray) and x.grad.item() == 2.0


class Forward(sn.Function):
    def __init__(self, out):
        self.out = out

    def forward(self, x):
        return self.out(x)

    def backward(self, gy):
        return gy


@pytest.mark.parametrize("out, what, index", [
    (lambda x: sn.tensor(x), r"a Tensor .*return its .data\)", 0),
    (lambda x: [x, x], "a list", 0),
    (lambda x: 2.0, "a float", 0),
    (lambda x: (x.copy(), None), "a NoneType", 1)])
def test_forward_returning_anything_but_arrays_raises_naming_the_output(out, what, index):
    with pytest.raises(RuntimeError, match=rf"Forward.forward returned {what} as output "
                                           rf"{index}; forward must return an array"):
        Forward(out)(sn.ones(2, requires_grad=True))


def test_a_full_reduction_gives_a_0d_array_not_a_numpy_scalar():
    y = sn.ones(2, 3).sum()
    assert type(y.data) is np.ndarray and y.shape == ()


def test_gradcheck_refuses_an_analytic_gradient_of_the_wrong_shape():
    x = sn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    # `.grad = ` refuses a wrong shape (torch's rule); a hook that bypasses it still gets caught
    handle = x.register_post_accumulate_grad_hook(
        lambda t: setattr(t, "_grad", sn.tensor(t.grad.data.reshape(-1))))
    with pytest.raises(sn.GradcheckError, match=r"analytic gradient of input 0 has shape "
                                                r"\(6,\), but the input has shape \(2, 3\)"):
        sn.gradcheck(lambda x: x * 2, [x])
    handle.remove()
    assert sn.gradcheck(lambda x: x * 2, [x])


def test_a_hook_may_not_change_the_gradients_shape_as_torch():
    x = sn.ones(2, 3, requires_grad=True)
    x.register_hook(lambda g: g.reshape(-1))
    with pytest.raises(RuntimeError, match=r"has changed the gradient's shape from \(2, 3\) "
                                           r"to \(6,\)"):
        (x * 2).sum().backward()
    tx = torch.ones(2, 3, requires_grad=True)
    tx.register_hook(lambda g: g.reshape(-1))
    with pytest.raises(RuntimeError, match="changed the size"):
        (tx * 2).sum().backward()


def _every_op(x4, x2, w_conv, w_lin, running):
    """One call of every Function class in scratchnet (ToDeviceFunction needs a GPU)."""
    labels = sn.tensor([1, 0])
    pieces = x2.split(2, dim=1)
    ys = [x2 + 1, x2 - 1, x2 * 2, x2 / 2, -x2, x2 ** 2, x2.exp(), x2.abs().log(),
          x2.abs().sqrt(), x2.clamp(-0.5, 0.5), x2 @ x2.T, x2.reshape(8), x2.T, x2[:, 1:],
          sn.cat(pieces, 1), x2.sum(1), x2.var(1), x2.max(), x2.max(1).values, x2.float(),
          F.relu(x2), F.leaky_relu(x2), F.sigmoid(x2), F.tanh(x2), F.softmax(x2, 1),
          F.log_softmax(x2, 1), F.linear(x2, w_lin), F.pad(x2, (1, 1), mode="reflect"),
          F.cross_entropy(x2, labels), F.nll_loss(F.log_softmax(x2, 1), labels),
          F.dropout(x2, 0.5), F.conv2d(x4, w_conv, padding=1), F.max_pool2d(x4, 2),
          F.avg_pool2d(x4, 3, 1, 1, count_include_pad=False), F.adaptive_avg_pool2d(x4, 3),
          F.adaptive_max_pool2d(x4, 3), F.local_response_norm(x4, 3, 1.0, 0.75, 2.0),
          F.batch_norm(x4, *running, training=True),
          checkpoint(lambda t: t.tanh(), x2), x2 % 1.5, F.div(x2, 2, rounding_mode="floor"),
          _written_in_place(x2)]
    x2.detach() // 2  # floor_divide has no derivative (torch's neither): forward only
    # the ops of issue 15
    index = sn.tensor([[0, 1, 1, 0], [1, 0, 0, 1]])
    hooked = nn.Linear(4, 4).double()
    hooked.register_full_backward_hook(lambda module, grad_input, grad_output: None)
    ys += [sn.where(x2 > 0, x2, x2 * 2), sn.maximum(x2, x2.T.reshape(2, 4)),
           x2.clamp(min=x2[0]), x2.masked_fill(x2 > 0, 0.0), x2.amax(1), x2.gather(1, index),
           x2.scatter_add(0, index, x2), x2.index_select(1, sn.tensor([0, 2])),
           F.embedding(labels, x2), x2.sort(1).values, x2.prod(1), x2.cumsum(0),
           x2.logsumexp(1), x2.norm(), x2.clone(), x2[:1].expand(3, 4), x2.repeat(2, 1),
           F.softplus(x2), F.logsigmoid(x2), F.gelu(x2),
           F.binary_cross_entropy(x2.sigmoid(), (x2 > 0).double()),
           F.binary_cross_entropy_with_logits(x2, (x2 > 0).double()), F.layer_norm(x2, (4,)),
           F.conv_transpose2d(x4, w_conv.transpose(0, 1), stride=2), sn.einsum("ij,kj", x2, x2),
           hooked(x2), Cube.apply(x2)]
    group = LoopbackGroup()     # a process group of one: the distributed Functions, on rank 0
    ys += [dist.gather_along(x2, 1, group), dist.sum_gradients(x2, group),
           SyncBatchNormFunction(group, 1e-5, (*running, 0.1))(x4, None, None)]
    return sum(y.double().sum() for y in ys)


class Cube(sn.autograd.Function):
    """A torch-style Function (it makes one node class per class: CubeBackward)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 3 * x ** 2


def _written_in_place(x):
    """x·2 with a row set (SetItemFunction), doubled in place (SnapshotFunction), seen
    through a view taken before (ViewFunction)."""
    y = x * 2
    row = y[0]
    y[1] = 0.5
    y.mul_(2)
    return y + row.sum()


def test_no_function_keeps_an_array_it_made_past_backward():
    """Arrays a backward needs go through save_for_backward, which backward frees: after it,
    a Function holds no array except those its caller handed in (batch norm's running
    statistics). Dropout's mask and the adaptive pools' winners used to stay on ``self``."""
    rng = np.random.default_rng(0)
    x4 = sn.tensor(rng.standard_normal((2, 3, 5, 5)), requires_grad=True)
    x2 = sn.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    w_conv = sn.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    w_lin = sn.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    running = [np.zeros(3), np.ones(3)]
    made = []
    function.forward_observers.append(lambda fn, inputs, outputs: made.append(fn))
    try:
        total = _every_op(x4, x2, w_conv, w_lin, running)
    finally:
        function.forward_observers.pop()
    total.backward()
    gc.collect()

    covered = {type(fn) for fn in made}
    # the torch-style Functions' node base is used through its per-class subclasses only
    every = set(_subclasses(sn.Function)) - {function.Function, sn.autograd.function._Node}
    # the Functions only double backward makes are tested in test_higher_order.py
    double_backward_only = {higher_order.Adjoint, higher_order.Tangent, higher_order.Capture,
                            higher_order.NotDifferentiableTwice,
                            F.conv_weight_grad.Conv2dWeightGradFunction,
                            F.smooth_activation.NormalCDFFunction}
    assert every - covered == {F.conversion.ToDeviceFunction} | double_backward_only
    callers = {id(a) for a in running}
    kept = [f"{type(fn).__name__}.{name}" for fn in made for name, value in vars(fn).items()
            if any(id(a) not in callers for a in _arrays(value))]
    assert kept == []


def _subclasses(cls):
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("scratchnet."):
            yield sub
        yield from _subclasses(sub)


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    return []


def test_next_functions_has_torchs_structure():
    x = sn.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w = sn.tensor(np.array([0.5, 0.5, 0.5]))                       # a constant
    y = (x * w + x.exp()).sum()
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ty = (tx * torch.tensor([0.5, 0.5, 0.5]) + tx.exp()).sum()

    def shape(node):     # names without the framework's suffixes, recursively
        if node is None:
            return None
        name = type(node).__name__.replace("Backward0", "").replace("Function", "")
        return name, tuple((shape(n), i) for n, i in node.next_functions)

    assert shape(y.grad_fn) == shape(ty.grad_fn) == (
        "Sum", ((("Add", ((("Mul", ((("AccumulateGrad", ()), 0), (None, 0))), 0),
                          (("Exp", ((("AccumulateGrad", ()), 0),)), 0))), 0),))
    mul, exp = (n for n, _ in y.grad_fn.next_functions[0][0].next_functions)
    leaf = mul.next_functions[0][0]
    assert leaf.variable is x and exp.next_functions[0][0] is leaf   # one node per leaf


def test_next_functions_names_which_output_of_a_multi_output_function():
    x = sn.tensor(np.arange(4.0), requires_grad=True)
    a, b = x.split(2)
    (split0, i), (split1, j) = (a * b).grad_fn.next_functions
    assert split0 is split1 is a.grad_fn and (i, j) == (0, 1)


def test_forward_observers_see_every_function_with_its_inputs_and_outputs():
    seen = []

    def observe(fn, inputs, outputs):
        seen.append((type(fn).__name__, inputs, outputs))

    x = sn.ones(2, 3, requires_grad=True)
    function.forward_observers.append(observe)
    try:
        y = x.relu()
        with sn.no_grad():                     # observed with or without a graph
            a, b = x.split([1, 1])
        F.linear(x, sn.ones(4, 3))
    finally:
        function.forward_observers.remove(observe)
    x * 2
    assert [name for name, _, _ in seen] == ["ReLUFunction", "SplitFunction", "LinearFunction"]
    assert seen[0][1][0] is x and seen[0][2] == (y,)
    assert seen[1][2] == (a, b)
    assert seen[2][1][2] is None                    # the missing bias


def test_summary_observes_instead_of_patching_function_call():
    call = sn.Function.__call__
    inside = []
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    model.register_forward_hook(lambda m, i, o: inside.append(
        (sn.Function.__call__ is call, len(function.forward_observers))))
    sn.summary(model, (1, 8, 8))
    assert inside == [(True, 1)] and function.forward_observers == []
