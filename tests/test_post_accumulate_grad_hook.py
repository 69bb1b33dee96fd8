"""Tensor.register_post_accumulate_grad_hook: torch's semantics, and the hook runs as soon as
its leaf's gradient is final, while backward still runs."""
import gc

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.tensor import post_hooked_leaves

torch = pytest.importorskip("torch")


def _pair(values):
    return (sn.tensor(np.array(values), requires_grad=True),
            torch.tensor(values, dtype=torch.float64, requires_grad=True))


def test_the_hook_sees_the_accumulated_grad_as_torch():
    x, tx = _pair([1.0, -2.0, 3.0])
    seen, torch_seen = [], []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.tolist())))
    tx.register_post_accumulate_grad_hook(
        lambda t: torch_seen.append((t is tx, t.grad.tolist())))
    for _ in range(2):                  # the second backward adds into the existing .grad
        (x * x + x).sum().backward()    # x feeds two Functions: one call, after both
        (tx * tx + tx).sum().backward()
    assert seen == torch_seen == [(True, [3.0, -3.0, 7.0]), (True, [6.0, -6.0, 14.0])]


def test_a_tensor_hook_runs_first_and_the_post_hook_may_change_grad_in_place_as_torch():
    x, tx = _pair([1.0, 2.0])
    seen = []

    def halve(t):
        seen.append(t.grad.tolist())
        if torch.is_tensor(t):
            t.grad.mul_(0.5)
        else:
            t.grad.data *= 0.5

    for t in (x, tx):
        t.register_hook(lambda g: g * 10)
        t.register_post_accumulate_grad_hook(halve)
    (x * 3).sum().backward()
    (tx * 3).sum().backward()
    assert seen == [[30.0, 30.0]] * 2
    assert x.grad.tolist() == tx.grad.tolist() == [15.0, 15.0]


def test_hooks_run_in_order_with_grad_mode_off_and_can_be_removed():
    x, tx = _pair([1.0, 2.0])
    calls = {"ours": [], "torch": []}
    handles = {}
    for name, t, grad_mode in (("ours", x, sn.is_grad_enabled),
                               ("torch", tx, torch.is_grad_enabled)):
        handles[name] = [t.register_post_accumulate_grad_hook(
            lambda t, k=k, log=calls[name], mode=grad_mode: log.append((k, mode())))
            for k in range(2)]
    (x * 2).sum().backward()
    (tx * 2).sum().backward()
    for name in calls:
        handles[name][0].remove()
        handles[name][0].remove()      # removing twice is harmless
    (x * 2).sum().backward()
    (tx * 2).sum().backward()
    assert calls["ours"] == calls["torch"] == [(0, False), (1, False), (1, False)]


def test_no_call_for_a_leaf_backward_did_not_reach():
    x, y = sn.ones(2, requires_grad=True), sn.ones(2, requires_grad=True)
    calls = []
    y.register_post_accumulate_grad_hook(calls.append)
    (x * 2).sum().backward()
    assert calls == [] and y.grad is None


def test_refused_where_torch_refuses_them():
    x = sn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered "
                                           "on non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require grad"):
        sn.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    x.register_post_accumulate_grad_hook(lambda t: 1)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks should return None"):
        (x * 2).sum().backward()
    tx = torch.ones(2, requires_grad=True)
    tx.register_post_accumulate_grad_hook(lambda t: 1)
    with pytest.raises((RuntimeError, TypeError)):
        (tx * 2).sum().backward()


class Logged(sn.Function):
    """y = x, logging its backward."""

    def __init__(self, log):
        self.log = log

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        self.log.append("Logged backward")
        return gy


class TorchLogged(torch.autograd.Function):
    log = None

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, gy):
        TorchLogged.log.append("Logged backward")
        return gy


def test_the_hook_of_an_early_finished_leaf_runs_before_later_functions_backward():
    """loss = sum(Logged(Logged(x)) · w): w's only Function (the product) runs second, so w's
    gradient is final before either Logged backward runs. The same order as torch."""
    ours, theirs = [], []
    (x, tx), (w, tw) = _pair([1.0, 2.0]), _pair([3.0, 4.0])
    w.register_post_accumulate_grad_hook(lambda t: ours.append(f"w hook {t.grad.tolist()}"))
    x.register_post_accumulate_grad_hook(lambda t: ours.append(f"x hook {t.grad.tolist()}"))
    tw.register_post_accumulate_grad_hook(lambda t: theirs.append(f"w hook {t.grad.tolist()}"))
    tx.register_post_accumulate_grad_hook(lambda t: theirs.append(f"x hook {t.grad.tolist()}"))
    (Logged(ours)(Logged(ours)(x)) * w).sum().backward()
    TorchLogged.log = theirs
    (TorchLogged.apply(TorchLogged.apply(tx)) * tw).sum().backward()
    assert ours == theirs == ["w hook [1.0, 2.0]", "Logged backward", "Logged backward",
                              "x hook [3.0, 4.0]"]


def test_a_leaf_used_at_two_depths_waits_for_its_last_function():
    log = []
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(f"x hook {t.grad.tolist()}"))
    (Logged(log)(Logged(log)(x)) + x).sum().backward()
    assert log == ["Logged backward", "Logged backward", "x hook [2.0, 2.0]"]


def test_a_hook_writing_into_grad_during_backward_leaves_other_gradients_alone():
    """w + h returns the same upstream array for w and for h; w's hook, run before h's
    Function, zeroes w.grad in place. The engine gives w its own copy."""
    log = []
    x, w = sn.ones(3, requires_grad=True), sn.ones(3, requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: t.grad.data.fill(0))
    (w + Logged(log)(x)).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 0.0] and x.grad.tolist() == [1.0, 1.0, 1.0]


class NoGradient(sn.Function):
    """y = x whose backward returns None: the Functions below it never run."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return None


def test_a_leaf_whose_functions_do_not_all_run_gets_its_hook_at_the_end():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    (NoGradient()(x * 5) + x * 2).sum().backward()   # the x * 5 edge is never walked
    assert calls == [[2.0, 2.0]]


def test_hooks_on_the_root_leaf_run():
    x, tx = _pair([2.0])
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    tx.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    x.backward()
    tx.backward(torch.ones(1, dtype=torch.float64))
    assert calls == [[1.0], [1.0]]


def test_the_registry_forgets_leaves_whose_hooks_are_gone():
    """Backward does extra work only while some leaf has a post-accumulate hook."""
    x = sn.ones(2, requires_grad=True)
    handle = x.register_post_accumulate_grad_hook(lambda t: None)
    assert id(x) in post_hooked_leaves
    handle.remove()
    assert id(x) not in post_hooked_leaves
    y = sn.ones(2, requires_grad=True)
    y.register_post_accumulate_grad_hook(lambda t: None)
    del y
    gc.collect()
    assert len(post_hooked_leaves) == 0
