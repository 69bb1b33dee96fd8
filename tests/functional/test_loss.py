"""cross_entropy, nll_loss and mse_loss against finite differences and torch, and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def class_cases(draw, probabilities=False, smoothing=True):
    """A loss case: input shape (N, C), (N, C, d1[, d2]) or unbatched (C,), and kwargs
    (weight or not, ignore_index, reduction, label_smoothing); values come from ``fill``."""
    C = draw(st.integers(1, 5))
    N = draw(st.integers(1, 4))
    layout = draw(st.sampled_from(["batched", "spatial", "unbatched"]))
    shape = {"batched": (N, C), "unbatched": (C,),
             "spatial": (N, C) + draw(shapes(1, 2, 1, 3))}[layout]
    kwargs = dict(reduction=draw(st.sampled_from(REDUCTIONS)))
    if smoothing:
        kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.45, 1.0]))
    if not probabilities:
        kwargs["ignore_index"] = draw(st.sampled_from([-100] + list(range(C)) * (C > 1)))
    return shape, draw(st.booleans()), kwargs


def fill(case, seed, probabilities=False):
    """Logits, target (class indices with some positions ignored, or probabilities) and the
    class weights (or None). At least one position is never ignored."""
    shape, weighted, kwargs = case
    rng = np.random.default_rng(seed)
    x = values(rng, shape, low=-3.0, high=3.0)
    C = shape[0] if len(shape) == 1 else shape[1]
    weight = rng.uniform(0.5, 2.0, C) if weighted else None
    if probabilities:
        e = np.exp(values(rng, shape))
        return x, e / e.sum(axis=0 if len(shape) == 1 else 1, keepdims=True), weight
    t_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    ignore = kwargs["ignore_index"]
    kept = [c for c in range(C) if c != ignore]
    t = np.asarray(rng.choice(kept, t_shape), np.int64)
    dropped = np.asarray(rng.random(t_shape) < 0.3)
    dropped.flat[0] = False
    t[dropped] = ignore
    return x, t, weight


@given(case=class_cases(), seed=seeds)
def test_cross_entropy_gradcheck(case, seed):
    x, t, w = fill(case, seed)
    w = None if w is None else sn.tensor(w)
    assert_gradcheck(lambda x: F.cross_entropy(x, sn.tensor(t), w, **case[2]), [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=class_cases(), seed=seeds)
def test_cross_entropy_matches_torch(dtype, device, case, seed):
    kwargs = case[2]
    assert_matches_torch(lambda x, t, w: F.cross_entropy(x, t, w, **kwargs),
                         lambda x, t, w: TF.cross_entropy(x, t, w, **kwargs), fill(case, seed),
                         dtype, requires_grad=[True, False, False], seed=seed, device=device)


@given(case=class_cases(probabilities=True), seed=seeds)
def test_cross_entropy_probability_targets_gradcheck(case, seed):
    x, t, w = fill(case, seed, probabilities=True)
    w = None if w is None else sn.tensor(w)
    assert_gradcheck(lambda x: F.cross_entropy(x, sn.tensor(t), w, **case[2]), [x])


@pytest.mark.parametrize("dtype", FLOATS)
@given(case=class_cases(probabilities=True), seed=seeds)
def test_cross_entropy_probability_targets_match_torch(dtype, case, seed):
    kwargs = case[2]
    assert_matches_torch(lambda x, t, w: F.cross_entropy(x, t, w, **kwargs),
                         lambda x, t, w: TF.cross_entropy(x, t, w, **kwargs),
                         fill(case, seed, probabilities=True), dtype,
                         requires_grad=[True, False, False], seed=seed)


@given(case=class_cases(smoothing=False), seed=seeds)
def test_nll_loss_gradcheck(case, seed):
    x, t, w = fill(case, seed)
    w = None if w is None else sn.tensor(w)
    assert_gradcheck(lambda x: F.nll_loss(x, sn.tensor(t), w, **case[2]), [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=class_cases(smoothing=False), seed=seeds)
def test_nll_loss_matches_torch(dtype, device, case, seed):
    kwargs = case[2]
    assert_matches_torch(lambda x, t, w: F.nll_loss(x, t, w, **kwargs),
                         lambda x, t, w: TF.nll_loss(x, t, w, **kwargs), fill(case, seed),
                         dtype, requires_grad=[True, False, False], seed=seed, device=device)


def test_nll_of_log_softmax_equals_cross_entropy():
    x, t, _ = fill(((4, 3), False, dict(ignore_index=-100)), 7)
    assert_matches_torch(lambda x, t: F.nll_loss(F.log_softmax(x, 1), t),
                         lambda x, t: TF.cross_entropy(x, t), [x, t])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_with_ignored_targets_matches_torch(reduction, weighted, dtype):
    # torch's mean divides the smoothing term by the weight (count) of non-ignored targets only
    kwargs = dict(ignore_index=-100, reduction=reduction, label_smoothing=0.3)
    x, t, w = fill(((5, 4), weighted, kwargs), 3)
    t[1:3] = -100
    assert_matches_torch(lambda x, t, w: F.cross_entropy(x, t, w, **kwargs),
                         lambda x, t, w: TF.cross_entropy(x, t, w, **kwargs), [x, t, w], dtype,
                         requires_grad=[True, False, False])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_when_every_target_is_ignored_matches_torch(reduction, dtype):
    x, t = values(np.random.default_rng(0), (3, 4)), np.full(3, -100)
    assert_matches_torch(lambda x, t: F.cross_entropy(x, t, reduction=reduction),
                         lambda x, t: TF.cross_entropy(x, t, reduction=reduction), [x, t], dtype)


def test_cross_entropy_is_stable_for_huge_logits():
    x, t = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]]), np.array([1, 2])
    out = assert_matches_torch(F.cross_entropy, TF.cross_entropy, [x, t], np.float32)
    assert np.isfinite(out[0].item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=shapes(0, 3), seed=seeds)
def test_mse_loss_gradcheck(reduction, shape, seed):
    rng = np.random.default_rng(seed)
    assert_gradcheck(lambda x, t: F.mse_loss(x, t, reduction=reduction),
                     [values(rng, shape), values(rng, shape)])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=shapes(0, 3), seed=seeds)
def test_mse_loss_matches_torch(reduction, dtype, device, shape, seed):
    rng = np.random.default_rng(seed)
    assert_matches_torch(lambda x, t: F.mse_loss(x, t, reduction=reduction),
                         lambda x, t: TF.mse_loss(x, t, reduction=reduction),
                         [values(rng, shape), values(rng, shape)], dtype, seed=seed,
                         device=device)


@pytest.mark.parametrize("op", [F.cross_entropy, F.nll_loss])
@pytest.mark.parametrize("bad", [3, -1, -7])
def test_out_of_range_targets_raise_naming_value_and_classes(op, bad):
    target = sn.tensor([0, bad, 1])
    name = op.__name__
    with pytest.raises(IndexError, match=rf"{name}: target {bad} is out of bounds for 3 classes"):
        op(sn.zeros(3, 3), target)
    with pytest.raises(IndexError):  # torch refuses it too
        getattr(TF, name)(torch.zeros(3, 3), torch.tensor([0, bad, 1]))


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.cross_entropy(sn.zeros(3, 4), sn.tensor([0, 1])), ValueError,
     r"cross_entropy: expected an integer target of shape \(3,\) for input of shape \(3, 4\), "
     r"got int64 \(2,\)"),
    (lambda: F.cross_entropy(sn.zeros(3, 4, 2), sn.tensor([0, 1, 2])), ValueError,
     r"cross_entropy: expected an integer target of shape \(3, 2\)"),
    (lambda: F.cross_entropy(sn.zeros(3, 4), sn.zeros(3, 5)), ValueError,
     r"cross_entropy: probability targets must have the input's shape \(3, 4\), got \(3, 5\)"),
    (lambda: F.cross_entropy(sn.zeros(3, 4), sn.tensor([0, 1, 2]), weight=sn.ones(3)),
     ValueError, r"cross_entropy: weight of shape \(3,\) does not match 4 classes"),
    (lambda: F.cross_entropy(sn.zeros(3, 4), sn.tensor([0, 1, 2]), reduction="avg"),
     ValueError, r"cross_entropy: reduction must be one of .*'avg'"),
    (lambda: F.cross_entropy(sn.zeros(3, 4), sn.tensor([0, 1, 2]), label_smoothing=1.5),
     ValueError, r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"),
    (lambda: F.cross_entropy(sn.tensor(1.0), sn.tensor(0)), ValueError,
     r"cross_entropy: expected input of shape \(N, C\) .*got \(\)"),
    (lambda: F.nll_loss(sn.zeros(3, 4), sn.zeros(3, 4)), ValueError,
     r"nll_loss: expected integer class indices as target, got float32"),
    (lambda: F.mse_loss(sn.zeros(3, 4), sn.zeros(4)), ValueError,
     r"mse_loss: input shape \(3, 4\) and target shape \(4,\) differ"),
    (lambda: F.mse_loss(sn.zeros(3), sn.zeros(3), reduction="avg"), ValueError,
     r"mse_loss: reduction must be one of"),
])
def test_bad_loss_arguments_raise_naming_op_and_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()
