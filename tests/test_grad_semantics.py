"""Gradients as torch 2.13 keeps them: a leaf's .grad accumulated in place, a retained grad
summed over backward calls, .grad and requires_grad assignments checked, and
sn.autograd.detect_anomaly naming the op and forward call behind a bad backward."""
import warnings

import numpy as np
import pytest
import torch

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import function, nn, optim
from tests.helpers import assert_matches_torch


def _pair(array, requires_grad=False):
    return (sn.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def test_a_leaf_grad_is_accumulated_in_place_as_torch():
    x, tx = _pair(np.array([1.0, 2.0]), requires_grad=True)
    for t, memory in ((x, lambda g: id(g.data)), (tx, lambda g: g.data_ptr())):
        (t * 3).sum().backward()
        first, where = t.grad, memory(t.grad)
        (t * t).sum().backward()
        assert t.grad is first and memory(t.grad) == where
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # 3 + 2x


def test_in_place_accumulation_never_writes_into_another_gradient_or_the_seed():
    a = sn.randn(2, 3, requires_grad=True)
    b = sn.randn(2, 5, requires_grad=True)
    seed = sn.ones(6)
    for _ in range(2):
        y = sn.cat([a.reshape(6), (b[:, :3] * 1).reshape(6)])  # a's grad: a view of the seed
        y.backward(sn.ones(12))
        a.reshape(6).backward(seed)
    np.testing.assert_array_equal(seed.numpy(), np.ones(6))
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 4.0))
    np.testing.assert_array_equal(b.grad.numpy()[:, :3], np.full((2, 3), 2.0))
    assert not np.shares_memory(a.grad.data, b.grad.data)


def test_a_retained_grad_is_summed_over_backward_calls_as_torch():
    a, ta = _pair(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    grads = []
    for t in (a, ta):
        y = t * 2
        y.retain_grad()
        loss = (y * y).sum()
        loss.backward(retain_graph=True)
        first = y.grad
        loss.backward()
        assert y.grad is not first  # torch: a new tensor, old + new
        grads.append(y.grad.detach().numpy())
    np.testing.assert_array_equal(*grads)
    np.testing.assert_array_equal(grads[0], 2 * 2 * np.array([2.0, -4.0, 6.0]))


def test_a_retained_grad_shares_no_memory_with_a_leaf_grad():
    a = sn.ones(3, requires_grad=True)
    y = a + 0
    y.retain_grad()
    y.sum().backward()
    assert not np.shares_memory(y.grad.data, a.grad.data)


@pytest.mark.parametrize("value, error, message", [
    (lambda: sn.zeros(4), RuntimeError,
     r"attempting to assign a gradient of size '\[4\]' to a tensor of size '\[3\]'"),
    (lambda: sn.zeros(3, dtype=sn.float64), RuntimeError,
     "attempting to assign a gradient with dtype"),
    (lambda: sn.zeros(3, dtype=sn.int64), RuntimeError,
     "attempting to assign a gradient with dtype"),
    (lambda: np.zeros(3), TypeError,
     "assigned grad expected to be a Tensor or None but got grad of type numpy.ndarray"),
    (lambda: [0.0, 0.0, 0.0], TypeError,
     "assigned grad expected to be a Tensor or None but got grad of type list"),
])
def test_assigning_a_grad_that_does_not_fit_raises_as_torch(value, error, message):
    x = sn.ones(3, requires_grad=True)
    with pytest.raises(error, match=message):
        x.grad = value()
    tx = torch.ones(3, requires_grad=True)
    torch_value = value()
    if isinstance(torch_value, sn.Tensor):
        torch_value = torch.tensor(torch_value.numpy())
    with pytest.raises(error, match=message.split(" '")[0]):
        tx.grad = torch_value
    assert x.grad is None


def test_assigning_a_fitting_grad_or_none_works_as_torch():
    x = sn.ones(3, requires_grad=True)
    g = sn.full((3,), 2.0)
    x.grad = g
    assert x.grad is g
    (x * 1).sum().backward()
    assert x.grad is g and g.numpy().tolist() == [3.0, 3.0, 3.0]
    x.grad = None
    assert x.grad is None
    with pytest.raises(RuntimeError, match="can't assign Variable as its own grad"):
        x.grad = x
    y = sn.ones(3)  # a tensor that requires no grad takes one too, as in torch
    y.grad = sn.zeros(3)


@pytest.mark.parametrize("flag", [False, True])
def test_requires_grad_of_a_non_leaf_cannot_be_changed_as_torch(flag):
    y = sn.ones(2, requires_grad=True) * 2
    ty = torch.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError) as theirs:
        ty.requires_grad = flag
    with pytest.raises(RuntimeError) as ours:
        y.requires_grad = flag
    assert str(ours.value) == str(theirs.value)


def test_zero_grad_without_set_to_none_zeroes_the_same_tensor_as_torch():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for zero in (model.zero_grad, opt.zero_grad):
        model(sn.ones(4, 3)).sum().backward()
        grad = model.weight.grad
        zero(set_to_none=False)
        assert model.weight.grad is grad and not grad.numpy().any()


@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"reduction": "sum"},
                                    {"reduction": "none"}])
def test_cross_entropy_gives_probability_targets_their_gradient_as_torch(kwargs):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 5))
    target = rng.dirichlet(np.ones(5), 4)
    weight = rng.uniform(0.5, 2, 5)
    assert_matches_torch(
        lambda x, t, w: F.cross_entropy(x, t, weight=w, **kwargs),
        lambda x, t, w: torch.nn.functional.cross_entropy(x, t, weight=w, **kwargs),
        [logits, target, weight], requires_grad=[True, True, False])


def _bad_log():
    """A forward whose backward makes a NaN: d/dx log(x) at x = 0 times a zero upstream."""
    x = sn.tensor([0.0, 1.0], requires_grad=True)
    return (x.log() * 0).sum()  # the line that made LogFunction


def test_detect_anomaly_names_the_function_and_the_forward_call_that_made_it():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"), \
            sn.autograd.detect_anomaly():
        assert sn.autograd.is_anomaly_enabled()
        loss = _bad_log()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("Function 'LogFunction' returned nan values in its 0th output.")
    assert "test_grad_semantics.py" in message and "x.log() * 0" in message
    assert not sn.autograd.is_anomaly_enabled()
    loss = _bad_log()
    loss.backward()  # without anomaly mode the NaN goes through, as in torch


def test_detect_anomaly_notes_where_a_backward_error_came_from():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with sn.autograd.detect_anomaly(check_nan=False):
            x = sn.tensor([1.0, 2.0], requires_grad=True)
            y = x.exp()  # the forward call the note names
            y.add_(1)
            with pytest.raises(RuntimeError, match="modified by an inplace") as info:
                y.sum().backward()
            loss = _bad_log()
            loss.backward()  # check_nan=False: NaN gradients pass
    notes = getattr(info.value, "__notes__", [])
    if hasattr(info.value, "add_note"):
        assert any("ExpFunction was made by the forward call" in n and "y = x.exp()" in n
                   for n in notes)
    assert not function.forward_observers and not function.backward_observers


def test_set_detect_anomaly_and_the_decorator():
    with sn.autograd.set_detect_anomaly(True):
        assert sn.autograd.is_anomaly_enabled()
    assert not sn.autograd.is_anomaly_enabled()

    @sn.autograd.detect_anomaly()
    def run():
        return sn.autograd.is_anomaly_enabled()

    with pytest.warns(UserWarning):
        assert run()
    assert not sn.autograd.is_anomaly_enabled()


def test_a_gradient_a_hook_returned_is_never_added_into_later():
    kept = sn.ones(3)
    x = sn.zeros(3, requires_grad=True)
    for _ in range(2):
        y = x + 0
        y.register_hook(lambda g: kept)
        y.sum().backward()
    np.testing.assert_array_equal(kept.numpy(), np.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0))
