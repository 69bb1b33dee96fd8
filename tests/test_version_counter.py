"""The version counter as torch 2.13 has it: ``_version`` on every Tensor, shared by views, and
backward's error when an array it saved was written in place after forward saved it; writes
through views recorded through their base (functional/_views.py)."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import optim
from tests.strategies import distinct_values, seeds

MODIFIED = ("one of the variables needed for gradient computation has been modified by an "
            "inplace operation")


def _pair(array, requires_grad=False):
    return (sn.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


# view op -> f(t): the same view in both frameworks
VIEWS = {
    "reshape": lambda t: t.reshape(3, 4),
    "view": lambda t: t.view(12),
    "flatten": lambda t: t.flatten(),
    "unsqueeze": lambda t: t.unsqueeze(0),
    "squeeze": lambda t: t.unsqueeze(1).squeeze(1),
    "permute": lambda t: t.permute(1, 0),
    "transpose": lambda t: t.transpose(0, 1),
    "T": lambda t: t.T,
    "[1]": lambda t: t[1],
    "[:, 1:3]": lambda t: t[:, 1:3],
    "[None, ..., ::2]": lambda t: t[None, ..., ::2],
    "split piece": lambda t: t.split(2, dim=1)[1],
    "chunk piece": lambda t: t.chunk(2)[0],
    "detach": lambda t: t.detach(),
    "view of a view": lambda t: t[1:].reshape(9)[2:5],
}
COPIES = {  # ops NumPy (and torch) answer with a copy: no shared counter
    "[[0, 2]]": lambda t: t[_index(t, [0, 2])],
    "[t > 0]": lambda t: t[t > 0],
    "cat": lambda t: (sn if isinstance(t, sn.Tensor) else torch).cat([t, t]),
}


def _index(t, values):
    return (sn if isinstance(t, sn.Tensor) else torch).tensor(values)


@pytest.mark.parametrize("name", VIEWS)
def test_views_share_the_version_counter_as_torch(name):
    x, tx = _pair(np.arange(12.0).reshape(4, 3))
    v, tv = VIEWS[name](x), VIEWS[name](tx)
    x.add_(1)
    tx.add_(1)
    assert v._version == tv._version == 1
    v.mul_(2)
    tv.mul_(2)
    assert x._version == tx._version == 2
    np.testing.assert_array_equal(x.numpy(), tx.numpy())  # the write reached the base


@pytest.mark.parametrize("name", COPIES)
def test_copies_count_their_own_versions_as_torch(name):
    x, tx = _pair(np.arange(12.0).reshape(4, 3) - 5)
    c, tc = COPIES[name](x), COPIES[name](tx)
    x.add_(1)
    tx.add_(1)
    assert c._version == tc._version == 0


def test_every_in_place_write_counts_once_as_torch():
    x, tx = _pair(np.zeros((2, 3)))
    for op in (lambda t: t.__iadd__(1), lambda t: t.add_(1), lambda t: t.zero_(),
               lambda t: t.__setitem__(0, 5.0), lambda t: t[:, 0].__iadd__(1)):
        op(x)
        op(tx)
        assert x._version == tx._version
    assert x._version == 5
    y, ty = x[:, 0], tx[:, 0]
    y += 1  # torch: iadd on the view (1), then the setitem it compiles to (2)
    ty += 1
    x[:, 0] += 1
    tx[:, 0] += 1
    assert x._version == tx._version == 8
    with pytest.raises(AttributeError):
        x._version = 0


def test_an_optimizer_step_counts_a_version_of_every_parameter_it_updates():
    p, tp = _pair(np.ones(3), requires_grad=True)
    for opt, q in ((optim.SGD([p], lr=0.1), p), (torch.optim.SGD([tp], lr=0.1), tp)):
        loss = (q * q).sum()
        loss.backward(retain_graph=True)
        opt.step()
        assert q._version == 1
        with pytest.raises(RuntimeError, match=MODIFIED):
            loss.backward()  # the multiplication saved the parameter before the step


@pytest.mark.parametrize("case", ["output of exp", "input of mul (non-leaf)",
                                  "input of mul (leaf)", "relu_ then a write",
                                  "a view of the saved tensor", "the base of a saved view"])
def test_backward_refuses_an_array_modified_after_it_was_saved_as_torch(case):
    def run(fw, x):
        w = x * 1.5
        if case == "output of exp":
            y = x.exp()
            y.add_(1)
        elif case == "input of mul (non-leaf)":
            a = x * 1
            y = a * w
            a.add_(1)
        elif case == "input of mul (leaf)":
            a = x.detach()
            y = a * w
            a.add_(1)
        elif case == "relu_ then a write":
            a = x * 1
            y = a.relu_() * 2
            a.add_(1)
        elif case == "a view of the saved tensor":
            y = x.exp()
            y[0].zero_()
        else:
            a = (x * 1)[1:]
            y = a * w[1:]
            a._base.add_(1)
        y.sum().backward()

    x, tx = _pair(np.linspace(-1, 1, 4), requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        run(sn, x)
    with pytest.raises(RuntimeError) as theirs:
        run(torch, tx)
    assert str(theirs.value).startswith(MODIFIED)
    assert str(ours.value).startswith(MODIFIED)
    # "... is at version 1; expected version 0 instead", with the same numbers as torch
    tail = str(theirs.value).split(" is at version ")[1].split(" instead")[0]
    assert f" is at version {tail} instead" in str(ours.value)
    assert ("which is output" in str(ours.value)) == ("which is output" in str(theirs.value))


def test_the_error_names_the_function_that_needs_the_array():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.mul_(2)
    with pytest.raises(RuntimeError, match=r"\[float32 \(2,\)\], which is output 0 of "
                                           r"ExpFunction, is at version 1; expected version 0 "
                                           r"instead\. ExpFunction\.backward needs it"):
        y.sum().backward()


def test_no_error_when_the_write_came_before_the_save_or_into_a_copy():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    a.add_(1)
    y = a.exp()  # saved after the write
    y[[0, 1]].zero_()  # integer indexing copies: y is untouched
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([2.0, 3.0]), rtol=1e-6)


def test_a_write_through_a_view_is_recorded_on_its_base_as_torch():
    def run(fw, a):
        x = a * 2
        v = x[0]
        v.mul_(3)             # a write through a view
        x[:, 1] += x[:, 2].detach()
        return x

    a, ta = _pair(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x, tx = run(sn, a), run(torch, ta)
    np.testing.assert_allclose(x.detach().numpy(), tx.detach().numpy())
    upstream = np.arange(6.0).reshape(2, 3) - 2
    x.backward(sn.tensor(upstream))
    tx.backward(torch.tensor(upstream))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())


def test_a_view_taken_before_its_base_was_written_sees_the_new_history_as_torch():
    a, ta = _pair(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    x, tx = a * 1, ta * 1
    v, tv = x[0:1].T, tx[0:1].T
    x.mul_(3)
    tx.mul_(3)
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    (v * v).sum().backward()
    (tv * tv).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())


def test_a_view_of_a_constant_base_joins_the_graph_when_the_base_does():
    w, tw = _pair(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b, tb = sn.zeros(2, 3, dtype=sn.float64), torch.zeros(2, 3, dtype=torch.float64)
    v, tv = b[1], tb[1]
    b[1] = w
    tb[1] = tw
    assert v.requires_grad and tv.requires_grad
    (v * v).sum().backward()
    (tv * tv).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


@pytest.mark.parametrize("case", ["a view of a leaf", "a view made under no_grad",
                                  "one of several views (split)"])
def test_writes_torch_refuses_on_views_are_refused_with_its_message(case):
    def run(fw, a):
        if case == "a view of a leaf":
            v = a[0]
        elif case == "a view made under no_grad":
            x = a * 1
            with (sn.no_grad() if fw is sn else torch.no_grad()):
                v = x[0]
        else:
            v = (a * 1).split(1)[0]
        v.mul_(2)

    a, ta = _pair(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        run(torch, ta)
    with pytest.raises(RuntimeError) as ours:
        run(sn, a)
    expected = str(theirs.value).replace("of Split ", "of SplitFunction ")
    assert str(ours.value) == expected


def test_views_of_a_leaf_under_no_grad_write_through_and_count_versions_as_torch():
    w, tw = _pair(np.ones((2, 3)), requires_grad=True)
    for t, no_grad in ((w, sn.no_grad), (tw, torch.no_grad)):
        with no_grad():
            t[0].mul_(2)
            t.T[2] += 1
    np.testing.assert_array_equal(w.data, [[2, 2, 3], [1, 1, 2]])
    np.testing.assert_array_equal(w.data, tw.detach().numpy())
    assert w._version == tw._version == 3 and w.is_leaf and w.requires_grad


def test_a_retained_grad_follows_the_tensor_through_an_in_place_op_as_torch():
    a, ta = _pair(np.array([1.0, -2.0]), requires_grad=True)
    y, ty = a * 2, ta * 2
    y.retain_grad()
    ty.retain_grad()
    y.mul_(3)
    ty.mul_(3)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())   # d(sum)/d(new y): ones
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())


# a random program: views and in-place writes mixed, replayed in both frameworks. A step
# takes (x, i, kept) and returns the new x; "v = x[:, i]" keeps a view that a later
# "x = x + v" uses (after whatever writes came between)
STEPS = {
    "x[i] *= 2": lambda t, i, kept: _same(t, t[i].mul_(2)),
    "x.T += 1": lambda t, i, kept: _same(t, t.T.add_(1)),
    "x[:, i] = x[:, i] ** 2": lambda t, i, kept: _same(
        t, t.__setitem__((slice(None), i), t[:, i] ** 2)),
    "x[0] = x[1]": lambda t, i, kept: _same(t, t.__setitem__(0, t[1])),
    "x.relu_()": lambda t, i, kept: _same(t, t.relu_()),
    "x = x * x": lambda t, i, kept: t * t,
    "x.reshape(-1)[i] = 0.5": lambda t, i, kept: _same(t, t.reshape(-1).__setitem__(i, 0.5)),
    "x.clamp_(-1, 3)": lambda t, i, kept: _same(t, t.clamp_(-1, 3)),
    "v = x[:, i]": lambda t, i, kept: _same(t, kept.append(t[:, i])),
    "x = x + v": lambda t, i, kept: t + (kept[-1] if kept else t[:, 0]),
}


def _same(t, _):
    return t


@given(seed=seeds, program=st.lists(st.tuples(st.sampled_from(sorted(STEPS)),
                                              st.integers(0, 1)), min_size=1, max_size=5))
def test_random_programs_of_views_and_writes_match_torch(seed, program):
    rng = np.random.default_rng(seed)
    a, ta = _pair(distinct_values(rng, (2, 2)), requires_grad=True)
    x, tx = a * 1, ta * 1
    kept, tkept = [], []
    for name, i in program:
        x, tx = STEPS[name](x, i, kept), STEPS[name](tx, i, tkept)
    assert x._version == tx._version
    np.testing.assert_allclose(x.detach().numpy(), tx.detach().numpy(), rtol=1e-12)
    upstream = rng.standard_normal((2, 2))
    ours, theirs = _outcome(lambda: x.backward(sn.tensor(upstream))), _outcome(
        lambda: tx.backward(torch.tensor(upstream)))
    assert ours == theirs  # both run, or both find a saved array written after the save
    if ours is None:
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)


def _outcome(call):
    try:
        call()
    except RuntimeError as error:
        assert str(error).startswith(MODIFIED)
        return "modified"
    return None


def test_initialisation_and_load_state_dict_count_versions_as_torch():
    ours, theirs = sn.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    assert ours.weight._version == theirs.weight._version
    ours.load_state_dict(ours.state_dict())
    theirs.load_state_dict(theirs.state_dict())
    assert ours.weight._version == theirs.weight._version
    sn.nn.init.constant_(ours.bias, 0.5)
    torch.nn.init.constant_(theirs.bias, 0.5)
    assert ours.bias._version == theirs.bias._version


def test_tensors_with_views_pickle_and_deepcopy_as_plain_tensors():
    import copy
    import pickle

    x = sn.tensor(np.arange(6.0).reshape(2, 3))
    row = x[0]
    for clone in (copy.deepcopy(x), pickle.loads(pickle.dumps(x)), copy.deepcopy(row)):
        assert clone._base is None and clone._views is None and clone._version == 0
        clone.add_(1)
    assert x._version == 0 and row._version == 0
    model = sn.nn.Linear(3, 2)
    model.weight.T  # noqa: B018  (a view of the weight: the model still pickles)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.weight.data, model.weight.data)


def test_view_refuses_a_layout_it_cannot_view_as_torch():
    x, tx = _pair(np.arange(6.0).reshape(2, 3))
    with pytest.raises(RuntimeError) as theirs:
        tx.T.view(-1)
    with pytest.raises(RuntimeError) as ours:
        x.T.view(-1)
    assert str(ours.value) == str(theirs.value)
    assert x.T.reshape(-1)._base is None  # reshape copies instead, as torch's
    assert tx.T.reshape(-1)._base is None
