"""max/avg/adaptive pooling against finite differences and torch, torch's size and divisor
rules by hand, the tie rule, and bad input."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import distinct_values, seeds

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@st.composite
def pool_cases(draw, avg=False):
    """Valid by construction: padding ≤ kernel // 2, side ≥ dilated kernel − 2·padding."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, (1, 1), (2, 2), (2, 1), (1, 3)]))
    dilation = (1, 1) if avg else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    sides = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 6))
                  for k, p, d in zip(kernel, padding, dilation))
    shape = draw(st.sampled_from([(), (1,), (2,)])) + (draw(st.integers(1, 2)),) + sides
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding,
                  ceil_mode=draw(st.booleans()))
    if avg:
        kwargs.update(count_include_pad=draw(st.booleans()),
                      divisor_override=draw(st.sampled_from([None, 3])))
    else:
        kwargs["dilation"] = dilation
    return shape, kwargs


@st.composite
def adaptive_cases(draw):
    shape = draw(st.sampled_from([(), (2,)])) + (draw(st.integers(1, 2)),) + (
        draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    out = draw(st.sampled_from([1, (2, 3), (3, None), (5, 4), (7, 1)]))
    return shape, out


OPS = {"max": (F.max_pool2d, TF.max_pool2d, pool_cases()),
       "avg": (F.avg_pool2d, TF.avg_pool2d, pool_cases(avg=True)),
       "adaptive_avg": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, adaptive_cases()),
       "adaptive_max": (F.adaptive_max_pool2d, TF.adaptive_max_pool2d, adaptive_cases())}


def _kwargs(name, case):
    return case[1] if name in ("max", "avg") else dict(output_size=case[1])


def _no_window_in_padding_only(op, x, kwargs):
    """False for the rare dilated case whose window holds only padding: its output is −inf, so
    finite differences are undefined, and torch's gradient there goes to an unrelated pixel
    (test_max_pool_window_entirely_in_padding checks that case by hand)."""
    return bool(np.all(np.isfinite(op(sn.tensor(x), **kwargs).numpy())))


@pytest.mark.parametrize("name", OPS)
@given(data=st.data(), seed=seeds)
def test_pooling_gradcheck(name, data, seed):
    ours, _, cases = OPS[name]
    case = data.draw(cases)
    x = distinct_values(np.random.default_rng(seed), case[0])   # no ties: max is differentiable
    assume(_no_window_in_padding_only(ours, x, _kwargs(name, case)))
    assert_gradcheck(lambda x: ours(x, **_kwargs(name, case)), [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", OPS)
@given(data=st.data(), seed=seeds)
def test_pooling_matches_torch(name, dtype, device, data, seed):
    ours, theirs, cases = OPS[name]
    case = data.draw(cases)
    x = distinct_values(np.random.default_rng(seed), case[0], dtype)
    kwargs = _kwargs(name, case)
    assume(_no_window_in_padding_only(ours, x, kwargs))
    assert_matches_torch(lambda x: ours(x, **kwargs), lambda x: theirs(x, **kwargs), [x],
                         dtype=dtype, device=device, seed=seed)


@pytest.mark.parametrize("op, theirs", [(F.max_pool2d, TF.max_pool2d),
                                        (F.adaptive_max_pool2d, TF.adaptive_max_pool2d)])
def test_max_pool_ties_and_indices_match_torch(op, theirs):
    """Many ties (values in {0, 1}) with overlapping windows: torch's first-maximum choice
    decides both the returned indices and where the gradient goes."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, (2, 3, 7, 7)).astype(np.float64)
    args = (3, 2, 1) if op is F.max_pool2d else ((3, 3),)
    _, idx = op(sn.tensor(x), *args, return_indices=True)
    _, ref = theirs(torch.tensor(x), *args, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref.numpy())
    assert_matches_torch(lambda x: op(x, *args), lambda x: theirs(x, *args), [x])


def test_overlapping_pool_of_alexnet_matches_torch():
    x = distinct_values(np.random.default_rng(5), (2, 4, 13, 13), np.float32)
    assert_matches_torch(lambda x: F.max_pool2d(x, 3, 2), lambda x: TF.max_pool2d(x, 3, 2),
                         [x], dtype=np.float32)


def test_max_pool_window_entirely_in_padding():
    """W = 1, padding 1, two taps 2 apart: both taps read padding. torch gives −inf, as we do;
    no input pixel is in the window, so none gets its gradient (torch's index points past the
    window and hands the gradient to the next row's pixel)."""
    x = sn.tensor([[[1.0], [2.0]]], requires_grad=True)
    y = F.max_pool2d(x, (1, 2), padding=(0, 1), dilation=(1, 2))
    ref = TF.max_pool2d(torch.tensor([[[1.0], [2.0]]]), (1, 2), padding=(0, 1), dilation=(1, 2))
    np.testing.assert_array_equal(y.detach().numpy(), ref.numpy())          # all −inf
    y.backward(sn.ones(*y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 2, 1)))
    _, idx = F.max_pool2d(sn.tensor([[[1.0], [2.0]]]), (1, 2), padding=(0, 1), dilation=(1, 2),
                          return_indices=True)
    assert idx.tolist() == [[[-1], [-1]]]


def test_ceil_mode_window_may_not_start_in_the_padding():
    """H=5, k=2, s=2, p=1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but the 4th window would start in the
    right padding, so torch keeps 3 (REFERENCE.md)."""
    y = F.max_pool2d(sn.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True)
    assert y.shape == (1, 1, 3, 3)


def test_avg_pool_divisor_of_a_window_clipped_by_ceil_mode():
    """H=4, k=3, s=2, p=1, ceil_mode, count_include_pad: the last window covers 2×2 cells of
    the padded input [−1, 5) and divides by 4, not 9 (REFERENCE.md)."""
    y = F.avg_pool2d(sn.ones(1, 1, 4, 4), 3, 2, 1, ceil_mode=True)
    # rows: windows start at −1, 1, 3; the first covers [−1, 2) (3 cells, 2 real), the last
    # [3, 5) once clipped (2 cells, 1 real); columns alike
    assert y.shape == (1, 1, 3, 3)
    assert y.numpy()[0, 0, 2, 2] == 1 / 4          # one real pixel (3, 3) over 2×2 cells
    assert y.numpy()[0, 0, 0, 0] == 4 / 9


def test_global_average_pooling():
    x = np.random.default_rng(6).standard_normal((2, 3, 5, 4))
    y = F.adaptive_avg_pool2d(sn.tensor(x), 1)
    np.testing.assert_allclose(y.numpy()[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-12)


@pytest.mark.parametrize("op, kwargs, message", [
    (F.max_pool2d, dict(kernel_size=3, padding=2), r"padding=\(2, 2\) must be at most half"),
    (F.avg_pool2d, dict(kernel_size=(2, 4), padding=(1, 3)), r"at most half of kernel_size"),
    (F.max_pool2d, dict(kernel_size=3, stride=0), r"stride must be positive"),
    (F.max_pool2d, dict(kernel_size=0), r"kernel_size must be positive"),
    (F.max_pool2d, dict(kernel_size=2, dilation=0), r"dilation must be positive"),
    (F.max_pool2d, dict(kernel_size=5), r"larger than the padded input: input \(1, 2, 4, 4\)"),
    (F.avg_pool2d, dict(kernel_size=2, padding=-1), r"padding must be non-negative"),
    (F.avg_pool2d, dict(kernel_size=2, divisor_override=0), r"divisor_override must be"),
    (F.adaptive_avg_pool2d, dict(output_size=0), r"output_size must be positive"),
    (F.adaptive_max_pool2d, dict(output_size=(1, 2, 3)), r"output_size must be an int or"),
])
def test_pooling_bad_arguments_raise(op, kwargs, message):
    with pytest.raises(ValueError, match=op.__name__ + ": .*" + message):
        op(sn.zeros(1, 2, 4, 4), **kwargs)


@pytest.mark.parametrize("op, args", [(F.max_pool2d, (2,)), (F.avg_pool2d, (2,)),
                                      (F.adaptive_avg_pool2d, (1,)),
                                      (F.adaptive_max_pool2d, (1,))])
@pytest.mark.parametrize("shape", [(4, 4), (1, 1, 1, 4, 4), (1, 0, 4, 4)])
def test_pooling_bad_input_shape_raises(op, args, shape):
    with pytest.raises(ValueError, match=op.__name__ + r": expected input of shape"):
        op(sn.zeros(*shape), *args)
