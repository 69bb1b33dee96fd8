"""viz.trace_backward: the Functions in the order the engine ran them, and their gradients.

The expected order is derived by hand from the engine's rule: a Function runs after every
Function that consumes its outputs, higher ``generation`` first (generation = longest path
from a leaf), ties in the order they were reached.
"""
import numpy as np
import pytest

import scratchnet as sn


def _unbalanced_diamond(rng):
    """a = exp(x); d = exp(tanh(a)) + a * w: the tanh branch is one op longer."""
    x = sn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = sn.tensor(rng.standard_normal(3), requires_grad=True)
    a = x.exp()            # generation 0
    t = a.tanh()           # 1
    e = t.exp()            # 2
    m = a * w              # 1
    d = e + m              # 3
    return x, w, (a, t, e, m, d)


def test_trace_lists_functions_in_the_order_backward_ran_them():
    rng = np.random.default_rng(1)
    x, w, (a, t, e, m, d) = _unbalanced_diamond(rng)
    with sn.viz.trace_backward() as trace:
        d.backward(rng.standard_normal(d.shape))
    # By hand: Add (gen 3) first; it reaches Exp(t) (gen 2) then Mul (gen 1). Exp(t) runs and
    # reaches Tanh (gen 1, after Mul in arrival order). Mul and Tanh both feed Exp(x), which
    # runs once, last, with both contributions summed.
    assert trace.names == ["AddFunction", "ExpFunction", "MulFunction", "TanhFunction",
                           "ExpFunction"]
    assert [s.function() for s in trace] == [d.grad_fn, e.grad_fn, m.grad_fn, t.grad_fn,
                                            a.grad_fn]


def test_trace_records_shapes_and_gradient_norms_computed_by_hand():
    rng = np.random.default_rng(2)
    x, w, (a, t, e, m, d) = _unbalanced_diamond(rng)
    g = rng.standard_normal(d.shape)
    with sn.viz.trace_backward() as trace:
        d.backward(g)
    xv, wv = x.detach().numpy(), w.detach().numpy()
    av = np.exp(xv)
    tv = np.tanh(av)
    g_t = g * np.exp(tv)                      # through e = exp(t)
    g_a = g_t * (1 - tv ** 2) + g * wv        # tanh branch + product branch
    g_w = (g * av).sum(axis=0)                # w broadcast over rows
    norm = np.linalg.norm
    add, exp_t, mul, tanh, exp_x = trace.steps
    assert add.input_shapes == [(2, 3), (2, 3)] and add.output_shapes == [(2, 3)]
    assert mul.input_shapes == [(2, 3), (3,)]
    np.testing.assert_allclose(add.grad_output_norms, [norm(g)])
    np.testing.assert_allclose(add.grad_input_norms, [norm(g), norm(g)])
    np.testing.assert_allclose(exp_t.grad_input_norms, [norm(g_t)])
    np.testing.assert_allclose(mul.grad_input_norms, [norm(g * wv), norm(g_w)])
    np.testing.assert_allclose(tanh.grad_input_norms, [norm(g_t * (1 - tv ** 2))])
    np.testing.assert_allclose(exp_x.grad_output_norms, [norm(g_a)])
    np.testing.assert_allclose(exp_x.grad_input_norms, [norm(g_a * av)])
    assert all(s.seconds >= 0 for s in trace)


def test_table_and_observer_removed_after_the_block():
    rng = np.random.default_rng(3)
    x, w, (a, t, e, m, d) = _unbalanced_diamond(rng)
    with sn.viz.trace_backward() as trace:
        d.backward(rng.standard_normal(d.shape), retain_graph=True)
    lines = str(trace).splitlines()
    assert lines[0].split()[:2] == ["step", "function"]
    assert [ln.split()[1] for ln in lines[2:7]] == trace.names
    assert lines[-1].startswith("5 Functions")
    d.backward(rng.standard_normal(d.shape))  # outside the block: not recorded
    assert len(trace) == 5


def test_empty_trace_says_so():
    with sn.viz.trace_backward() as trace:
        pass
    assert "no backward ran" in str(trace)


def test_missing_gradient_shows_as_dash():
    x = sn.tensor(np.ones(3), requires_grad=True)
    c = sn.tensor(np.full(3, 2.0))  # a constant: its gradient is never computed
    with sn.viz.trace_backward() as trace:
        (x * c).backward(np.array([1.0, 2.0, 2.0]))
    assert trace[0].grad_input_norms == [pytest.approx(6.0), None]
    assert "6, -" in str(trace)


def test_nested_backward_of_a_checkpoint_is_listed_before_its_function():
    from scratchnet.utils import checkpoint

    x = sn.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    y = checkpoint(lambda t: (t * 2).exp(), x)
    with sn.viz.trace_backward() as trace:
        y.backward(np.array([1.0, -2.0, 0.5]))
    # the recomputed segment's own backward (the sum of <y, g> that checkpoint builds, then
    # exp, then the product by 2) finishes before CheckpointFunction's row is written
    assert trace.names == ["SumFunction", "MulFunction", "ExpFunction", "MulFunction",
                           "CheckpointFunction"]
