"""nn.utils.clip_grad_norm_ and clip_grad_value_ against torch.nn.utils, on the same gradients."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import nn
from tests.strategies import seeds, shapes

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


def _params(rng, param_shapes, dtypes, without_grad=(), scale=3.0, device="cpu"):
    """The same parameters in both frameworks; those in ``without_grad`` have no ``.grad``."""
    ours, theirs = [], []
    for i, (shape, dtype) in enumerate(zip(param_shapes, dtypes, strict=True)):
        value, grad = (rng.standard_normal(shape).astype(dtype) * scale for _ in range(2))
        p, q = sn.tensor(value, requires_grad=True, device=device), torch.tensor(
            value, requires_grad=True)
        if i not in without_grad:
            p.grad, q.grad = sn.tensor(grad, device=device), torch.tensor(grad)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def _assert_grads_match(ours, theirs, tol):
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        assert (p.grad is None) == (q.grad is None), f"parameter {i}"
        if q.grad is not None:
            assert p.grad.dtype == q.grad.numpy().dtype
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **tol,
                                       err_msg=f"grad of parameter {i}")


@given(param_shapes=st.lists(shapes(0, 3), min_size=1, max_size=4), seed=seeds,
       norm_type=st.sampled_from([2.0, 1, 3.0, 0.5, math.inf, "inf", 0.0]),
       max_norm=st.sampled_from([0.1, 1.0, 1e4]), dtype=st.sampled_from([np.float32, np.float64]),
       skip=st.sets(st.integers(0, 3), max_size=2))
def test_clip_grad_norm_matches_torch(param_shapes, seed, norm_type, max_norm, dtype, skip):
    rng = np.random.default_rng(seed)
    ours, theirs = _params(rng, param_shapes, [dtype] * len(param_shapes), skip)
    before = [None if p.grad is None else p.grad.data for p in ours]
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, sn.Tensor) and total.shape == () and total.grad_fn is None
    assert total.dtype == expected.numpy().dtype
    np.testing.assert_allclose(total.numpy(), expected.numpy(), **TOL[dtype])
    _assert_grads_match(ours, theirs, TOL[dtype])
    for p, array in zip(ours, before, strict=True):  # rescaled in place
        assert p.grad is None if array is None else p.grad.data is array


def test_clip_grad_norm_single_tensor_generator_and_mixed_dtypes():
    rng = np.random.default_rng(0)
    ours, theirs = _params(rng, [(3, 4), (5,), (2,)], [np.float32, np.float64, np.float32])
    total = nn.utils.clip_grad_norm_((p for p in ours), 1.0)  # a generator, as .parameters()
    expected = torch.nn.utils.clip_grad_norm_((q for q in theirs), 1.0)
    assert total.dtype == np.float64 == expected.numpy().dtype  # float32 and float64 promote
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-7)
    _assert_grads_match(ours, theirs, TOL[np.float32])
    one = nn.utils.clip_grad_norm_(ours[0], max_norm=0.5, norm_type=1)
    ref = torch.nn.utils.clip_grad_norm_(theirs[0], max_norm=0.5, norm_type=1)
    np.testing.assert_allclose(one.numpy(), ref.numpy(), **TOL[np.float32])
    _assert_grads_match(ours, theirs, TOL[np.float32])


def test_clip_grad_norm_without_gradients():
    ours, theirs = _params(np.random.default_rng(1), [(2,), (3,)], [np.float64] * 2, (0, 1))
    total, expected = nn.utils.clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(
        theirs, 1.0)
    assert total.dtype == np.float32 == expected.numpy().dtype and total.item() == 0.0
    assert all(p.grad is None for p in ours)
    for clip, lib in ((nn.utils.clip_grad_norm_, "ours"), (torch.nn.utils.clip_grad_norm_,
                                                            "torch")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clip((p for p in []), 1.0)
        assert [str(w.message) for w in caught] == [
            "`parameters` is an empty generator, no gradient clipping will occur."], lib


def test_clip_grad_norm_non_finite():
    rng = np.random.default_rng(2)
    ours, theirs = _params(rng, [(4,), (3,)], [np.float32] * 2)
    ours[1].grad.data[0] = np.inf
    theirs[1].grad[0] = math.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match=r"^clip_grad_norm_: the total norm of order 2\.0 "
                                           r"for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert np.isinf(ours[1].grad.data[0])  # nothing was scaled
    # without the check the gradients are scaled by 1 / inf, as torch does: inf * 0 = NaN
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert np.isinf(total.item()) and np.isinf(expected.item())
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert np.isnan(ours[1].grad.data[0])


def test_clip_grads_with_norm_and_get_total_norm_compose_like_torch():
    rng = np.random.default_rng(3)
    ours, theirs = _params(rng, [(3, 3), (2,)], [np.float64] * 2)
    total = nn.utils.get_total_norm([p.grad for p in ours], norm_type=3.0)
    expected = torch.nn.utils.get_total_norm([q.grad for q in theirs], norm_type=3.0)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), **TOL[np.float64])
    nn.utils.clip_grads_with_norm_(ours, 0.5, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.5, expected)
    _assert_grads_match(ours, theirs, TOL[np.float64])


@given(param_shapes=st.lists(shapes(0, 3), min_size=1, max_size=3), seed=seeds,
       clip_value=st.sampled_from([0.0, 0.5, 2, 100.0, -1.0]),
       dtype=st.sampled_from([np.float32, np.float64]), skip=st.sets(st.integers(1, 2),
                                                                     max_size=1))
def test_clip_grad_value_matches_torch(param_shapes, seed, clip_value, dtype, skip):
    """Negative clip_value included: torch then sets every element to clip_value. Parameter 0
    always has a grad (see the next test for none)."""
    rng = np.random.default_rng(seed)
    ours, theirs = _params(rng, param_shapes, [dtype] * len(param_shapes), skip)
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    _assert_grads_match(ours, theirs, dict(rtol=0, atol=0))


def test_clip_grad_value_without_gradients_does_nothing():
    """A difference (README): torch 2.13 fails inside its foreach grouping on an empty list."""
    ours, theirs = _params(np.random.default_rng(5), [(2,), (3,)], [np.float32] * 2, (0, 1))
    with pytest.raises(RuntimeError, match="empty"):
        torch.nn.utils.clip_grad_value_(theirs, 1.0)
    assert nn.utils.clip_grad_value_(ours, 1.0) is None
    assert all(p.grad is None for p in ours)


def test_clip_grad_value_single_tensor_keeps_nan():
    p, q = sn.tensor(np.zeros(3), requires_grad=True), torch.zeros(3, dtype=torch.float64,
                                                                    requires_grad=True)
    grad = np.array([np.nan, -5.0, 0.25])
    p.grad, q.grad = sn.tensor(grad), torch.tensor(grad)
    array = p.grad.data
    nn.utils.clip_grad_value_(p, 1.0)
    torch.nn.utils.clip_grad_value_(q, 1.0)
    assert p.grad.data is array
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_clip_on_device(device):
    rng = np.random.default_rng(4)
    ours, theirs = _params(rng, [(3, 4), (6,)], [np.float32] * 2, device=device)
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.device == device and all(p.grad.device == device for p in ours)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), **TOL[np.float32])
    _assert_grads_match(ours, theirs, TOL[np.float32])
    nn.utils.clip_grad_value_(ours, 0.01)
    torch.nn.utils.clip_grad_value_(theirs, 0.01)
    _assert_grads_match(ours, theirs, TOL[np.float32])
