"""Custom autograd Functions the torch way (sn.autograd.Function: static forward/backward
with ctx, apply), beside the array-level sn.Function; gradcheck on each, the same class run
under torch, and the engine's checks reaching these Functions too."""
import numpy as np
import pytest
from hypothesis import given

import scratchnet as sn
from tests.helpers import assert_gradcheck
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")


def _exp_class(base):
    """y = eˣ written once as torch writes it, for sn.autograd.Function or
    torch.autograd.Function."""

    class Exp(base):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    return Exp


def _scaled_max_class(base):
    """(k·max(x, dim), argmax): a non-Tensor argument, a non-differentiable output,
    ctx.needs_input_grad and attributes on ctx."""

    class ScaledMax(base):
        @staticmethod
        def forward(ctx, x, k, dim):
            values, indices = x.max(dim)
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(indices)
            ctx.k, ctx.dim, ctx.shape = k, dim, x.shape
            return values * k, indices

        @staticmethod
        def backward(ctx, g_values, g_indices):
            assert ctx.needs_input_grad == (True, False, False)
            (indices,) = ctx.saved_tensors
            gx = g_values.new_zeros(ctx.shape).scatter_add(
                ctx.dim, indices.unsqueeze(ctx.dim), g_values.unsqueeze(ctx.dim) * ctx.k)
            return gx, None, None

    return ScaledMax


Exp, TorchExp = _exp_class(sn.autograd.Function), _exp_class(torch.autograd.Function)
ScaledMax, TorchScaledMax = (_scaled_max_class(sn.autograd.Function),
                             _scaled_max_class(torch.autograd.Function))


@given(shape=shapes(0, 3), seed=seeds)
def test_torch_style_function_gradcheck(shape, seed):
    assert_gradcheck(Exp.apply, [values(np.random.default_rng(seed), shape)])


def test_the_same_class_gives_torchs_values_and_gradients():
    x = values(np.random.default_rng(0), (3, 4))
    ours, theirs = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = ScaledMax.apply(Exp.apply(ours), 2.5, 1)
    ty, tidx = TorchScaledMax.apply(TorchExp.apply(theirs), 2.5, 1)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert not idx.requires_grad and not tidx.requires_grad and y.requires_grad
    upstream = np.random.default_rng(1).standard_normal(3)
    y.backward(sn.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    assert type(y.grad_fn).__name__ == "ScaledMaxBackward"


def test_both_custom_function_styles_pass_gradcheck():
    class Cube(sn.Function):                                   # arrays in, arrays out
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, gy):
            (x,) = self.saved_tensors
            return gy * 3 * x ** 2

    class TorchStyleCube(sn.autograd.Function):                # Tensors in, Tensors out
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return gy * 3 * x ** 2

    x = sn.randn(4, 5, dtype=sn.float64, requires_grad=True)
    assert sn.gradcheck(lambda t: Cube()(t), [x]) and sn.gradcheck(TorchStyleCube.apply, [x])


def test_setup_context_form():
    class Square(sn.autograd.Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return 2 * x * gy

    assert_gradcheck(Square.apply, [values(np.random.default_rng(2), (3,))])


def test_forward_runs_without_grad_and_outside_grad_mode_nothing_is_recorded():
    seen = []

    class Probe(sn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(sn.is_grad_enabled())
            return x * 2

        @staticmethod
        def backward(ctx, gy):
            seen.append(sn.is_grad_enabled())
            return gy * 2

    x = sn.ones(2, requires_grad=True)
    Probe.apply(x).sum().backward()
    with sn.no_grad():
        y = Probe.apply(x)
    assert seen == [False, False, False] and y.grad_fn is None and not y.requires_grad


def test_saved_tensors_are_freed_after_backward():
    x = sn.ones(3, requires_grad=True)
    y = Exp.apply(x)
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _ = node.ctx.saved_tensors


@pytest.mark.parametrize("backward, error, message", [
    (lambda ctx, gy: (gy, gy), RuntimeError,
     r"function BadBackward returned an incorrect number of gradients \(expected 1, got 2\)"),
    (lambda ctx, gy: gy.sum(), RuntimeError, r"gradient of shape \(\) for input 0"),
    (lambda ctx, gy: gy.numpy(), TypeError,
     "must return Tensors or None, but gradient 0 is ndarray"),
])
def test_a_bad_backward_is_named_when_it_returns(backward, error, message):
    Bad = type("Bad", (sn.autograd.Function,), {
        "forward": staticmethod(lambda ctx, x: x * 2), "backward": staticmethod(backward)})
    y = Bad.apply(sn.ones(3, requires_grad=True))
    with pytest.raises(error, match=message):
        y.sum().backward()


def test_a_gradient_for_a_non_tensor_argument_raises_as_torch():
    class Scale(sn.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, gy):
            return gy, gy

    with pytest.raises(RuntimeError, match="returned a gradient different than None at "
                                           "position 2, but the corresponding forward input "
                                           "was not a Tensor"):
        Scale.apply(sn.ones(2, requires_grad=True), 3.0).sum().backward()


def test_forward_must_return_tensors():
    class Numbers(sn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return 3

    with pytest.raises(TypeError, match="Numbers.forward must return Tensors"):
        Numbers.apply(sn.ones(2, requires_grad=True))
