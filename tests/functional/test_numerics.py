"""Numerics at the edges, as torch 2.13: sigmoid's tails, cross-entropy with −inf logits,
var with correction ≥ n, NaN in max/min and in adaptive max pooling."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import FLOATS
from tests.strategies import seeds

NORMAL_TAIL = {np.float32: -87.0, np.float64: -708.0}  # sigmoid still a normal number above


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_keeps_its_relative_accuracy_in_both_tails(dtype):
    x = np.concatenate([np.arange(-120.0, 121.0, 0.5), [-745.0, -700.0, 700.0]]).astype(dtype)
    xl = x.astype(np.longdouble)
    exact = np.exp(np.minimum(xl, 0)) / (1 + np.exp(-np.abs(xl)))  # both branches, extended
    t = sn.tensor(x, requires_grad=True)
    y = F.sigmoid(t)
    y.backward(sn.ones(x.shape, dtype=dtype))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.sigmoid(tx)
    ty.backward(torch.ones(x.shape, dtype=tx.dtype))
    normal, eps = x > NORMAL_TAIL[dtype], np.finfo(dtype).eps

    def relative(ours, truth):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(ours.astype(np.longdouble) - truth) / truth

    assert relative(y.data, exact)[normal].max() < 4 * eps
    # the gradient y·(1 − y): relative in the negative tail (1 − y rounds as torch's above)
    negative = normal & (x <= 0)
    assert relative(t.grad.data, exact * (1 - exact))[negative].max() < 8 * eps
    np.testing.assert_allclose(t.grad.numpy()[normal], tx.grad.numpy()[normal], rtol=8 * eps,
                               atol=0)
    theirs = ty.detach().numpy()
    np.testing.assert_allclose(y.data[normal], theirs[normal], rtol=4 * eps, atol=0)
    # below the normal range torch's 1/(1 + e^−x) underflows to 0; ours is never further off
    tail = ~normal
    assert np.all(np.abs(y.data - exact)[tail] <= np.abs(theirs - exact)[tail])


def test_sigmoid_of_minus_17_and_log_sigmoid_of_minus_20_in_float32_as_torch():
    assert F.sigmoid(sn.tensor(-17.0)).item() == pytest.approx(4.139937718785167e-08, rel=1e-6)
    x = sn.tensor(-20.0, requires_grad=True)
    y = F.sigmoid(x).log()
    y.backward()
    assert y.item() == -20.0 and x.grad.item() == 1.0


# (target, kwargs) cases with −inf logits at other classes, ignored rows, weight-0 classes
LOGITS = [[0.0, -np.inf, 1.0], [2.0, 0.0, -np.inf], [-np.inf, 1.0, 0.5]]
CASES = [
    ([0, 1, 2], {}),
    ([0, 1, 2], {"reduction": "sum"}),
    ([0, 1, 2], {"reduction": "none"}),
    ([0, -100, 2], {}),                                   # an ignored row with a −inf
    ([0, 0, 1], {"weight": [1.0, 0.0, 1.0]}),             # a weight-0 class at −inf logits
    ([-100, -100, -100], {}),                             # every target ignored: nan, 0 grad
    ([1, 1, 1], {"weight": [1.0, 0.0, 1.0]}),             # total weight 0: nan, nan grad
    ([1, 0, 0], {"weight": [1.0, 0.0, 1.0]}),             # weight 0 on a −inf target: nan
    ([1, 0, 2], {}),                                      # a target at −inf: inf
    ([0, 1, 2], {"label_smoothing": 0.1}),                # smoothing meets −inf: inf
    ([0, 1, 1], {"ignore_index": 1, "reduction": "none"}),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op, target, kwargs", [
    (op, target, kwargs) for op in ("cross_entropy", "nll_loss") for target, kwargs in CASES
    if op == "cross_entropy" or "label_smoothing" not in kwargs])
def test_class_losses_with_minus_inf_logits_give_torchs_values(op, target, kwargs, dtype):
    x = np.array(LOGITS, dtype)
    if op == "nll_loss":
        x = torch.log_softmax(torch.tensor(x), 1).numpy()
    ours_in, theirs_in = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_kw = {k: sn.tensor(np.array(v, dtype)) if k == "weight" else v
               for k, v in kwargs.items()}
    theirs_kw = {k: torch.tensor(np.array(v, dtype)) if k == "weight" else v
                 for k, v in kwargs.items()}
    loss = getattr(F, op)(ours_in, sn.tensor(target), **ours_kw)
    tloss = getattr(TF, op)(theirs_in, torch.tensor(target), **theirs_kw)
    np.testing.assert_allclose(loss.detach().numpy(), tloss.detach().numpy(), rtol=1e-6)
    upstream = np.linspace(0.5, 1.5, loss.numel()).reshape(loss.shape).astype(dtype)
    loss.backward(sn.tensor(upstream))
    tloss.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), rtol=1e-5,
                               atol=1e-7)


def test_probability_targets_keep_torchs_nan_for_zero_times_minus_inf():
    x = np.array(LOGITS)
    t = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    loss = F.cross_entropy(sn.tensor(x), sn.tensor(t))
    assert np.isnan(loss.item()) and np.isnan(TF.cross_entropy(torch.tensor(x),
                                                              torch.tensor(t)).item())


@pytest.mark.parametrize("values, dim, correction", [
    ([1.0, 2.0, 4.0], None, 3), ([1.0, 2.0, 4.0], None, 5), ([3.0], None, 1),
    ([2.0, 2.0, 2.0], None, 4), ([], None, 1), ([], None, 0),
    ([[4.0, 2.0], [1.0, 1.0]], 1, 2), ([[4.0, 2.0], [1.0, 1.0]], 1, 3),
    ([4.0, 2.0, 2.0], 0, 5), ([1.0, 2.0, 4.0], None, 2)])
def test_var_with_correction_at_least_n_gives_torchs_inf_and_nan(values, dim, correction):
    x, tx = (sn.tensor(values, dtype=sn.float64, requires_grad=True),
             torch.tensor(values, dtype=torch.float64, requires_grad=True))
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        y = x.var(dim, correction=correction)
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        ty = tx.var(dim, correction=correction)
    assert [str(w.message)[:40] for w in ours_warned] == [str(w.message)[:40]
                                                           for w in theirs_warned]
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    upstream = np.full(y.shape, 1.5)
    y.backward(sn.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", ["max", "min"])
@given(seed=seeds, n=st.integers(1, 8), nans=st.integers(0, 3), dim=st.sampled_from([None, 1]))
def test_max_and_min_with_nans_pick_and_split_as_torch(kind, dtype, seed, n, nans, dim):
    rng = np.random.default_rng(seed)
    x = rng.permutation(2 * n).reshape(2, n).astype(dtype)
    x.reshape(-1)[rng.choice(2 * n, min(nans, 2 * n), replace=False)] = np.nan
    ours, theirs = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = getattr(ours, kind)() if dim is None else getattr(ours, kind)(dim)
    ty = getattr(theirs, kind)() if dim is None else getattr(theirs, kind)(dim)
    if dim is not None:
        np.testing.assert_array_equal(y.indices.numpy(), ty.indices.numpy())
        y, ty = y.values, ty.values
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@given(seed=seeds, h=st.integers(1, 6), w=st.integers(2, 9), oh=st.integers(1, 3),
       ow=st.integers(1, 4), nans=st.integers(1, 6))
def test_adaptive_max_pool_picks_the_nan_torch_and_max_pool_pick(seed, h, w, oh, ow, nans):
    rng = np.random.default_rng(seed)
    oh, ow = min(oh, h), min(ow, w)
    x = rng.standard_normal((2, 1, h, w))
    x.reshape(-1)[rng.choice(x.size, min(nans, x.size), replace=False)] = np.nan
    ours, theirs = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(ours, (oh, ow), return_indices=True)
    ty, tidx = TF.adaptive_max_pool2d(theirs, (oh, ow), return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    if h % oh == 0 and w % ow == 0:  # the same windows as a max pool: the same picks
        _, pooled = F.max_pool2d(sn.tensor(x), (h // oh, w // ow), return_indices=True)
        np.testing.assert_array_equal(pooled.numpy(), idx.numpy())
    kernel = (max(1, h // oh), max(1, w // ow))
    _, tpooled = TF.max_pool2d(torch.tensor(x), kernel, return_indices=True)
    _, pooled = F.max_pool2d(sn.tensor(x), kernel, return_indices=True)
    np.testing.assert_array_equal(pooled.numpy(), tpooled.numpy())


class _ErrorState(sn.Function):
    """Identity that records NumPy's error settings its forward runs under."""

    seen = []

    def forward(self, a):
        _ErrorState.seen.append(np.geterr())
        return a.copy()

    def backward(self, g):
        return g


def test_forward_ignores_divide_invalid_overflow_and_keeps_the_callers_other_settings():
    _ErrorState.seen.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sn.tensor([0.0, 1.0], requires_grad=True) / 0.0    # no RuntimeWarning: inf, nan
        np.testing.assert_array_equal(y.detach().numpy(), [np.nan, np.inf])
    for under in ("raise", "warn"):
        with np.errstate(under=under, divide="raise"):
            _ErrorState()(sn.tensor([1.0]))
            assert np.geterr()["divide"] == "raise"                # restored after forward
    assert [s["under"] for s in _ErrorState.seen] == ["raise", "warn"]
    assert all(s["divide"] == s["invalid"] == s["over"] == "ignore" for s in _ErrorState.seen)
