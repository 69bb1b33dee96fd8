"""conv2d against finite differences and torch, one-row tiles vs default tiles, bad input."""
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, values

torch = pytest.importorskip("torch")


@dataclass
class ConvCase:
    x: tuple
    w: tuple
    bias: bool
    kwargs: dict

    def arrays(self, rng, dtype=np.float64):
        b = values(rng, self.w[:1], dtype) if self.bias else None
        return [values(rng, self.x, dtype), values(rng, self.w, dtype), b]


@st.composite
def conv_cases(draw, max_side=3):
    """Valid by construction: the input side is drawn at least as large as the dilated kernel
    minus the padding; padding is an int, a pair, "same" (stride 1) or "valid"."""
    groups = draw(st.integers(1, 2))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    mode = draw(st.sampled_from(["pair", "int", "same", "valid"]))
    stride = (1, 1) if mode == "same" else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = {"pair": (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
               "int": draw(st.integers(0, 2)), "same": "same", "valid": "valid"}[mode]
    pads = (0, 0) if isinstance(padding, str) else np.broadcast_to(padding, 2)
    sides = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), d * (k - 1) + 3))
                  for k, d, p in zip(kernel, dilation, pads))
    batch = draw(st.sampled_from([(), (1,), (2,)]))           # () is an unbatched input
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return ConvCase(batch + (c,) + sides, (o, c // groups) + kernel, draw(st.booleans()),
                    kwargs)


@given(case=conv_cases(), seed=seeds)
def test_conv2d_gradcheck(case, seed):
    x, w, b = case.arrays(np.random.default_rng(seed))
    assert_gradcheck(lambda x, w, b=None: F.conv2d(x, w, b, **case.kwargs),
                     [x, w] + ([b] if b is not None else []))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=conv_cases(max_side=4), seed=seeds)
def test_conv2d_matches_torch(dtype, device, case, seed):
    arrays = case.arrays(np.random.default_rng(seed), dtype)
    assert_matches_torch(lambda x, w, b: F.conv2d(x, w, b, **case.kwargs),
                         lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **case.kwargs),
                         arrays, dtype=dtype, device=device, seed=seed)


@pytest.mark.parametrize("kwargs", [
    dict(stride=2, padding=3),                                  # ResNet stem, small
    dict(groups=4, padding=1),                                  # depthwise
    dict(padding="same", dilation=2),
])
def test_conv2d_layer_shapes_match_torch(kwargs):
    rng = np.random.default_rng(0)
    c = 4
    k = 7 if kwargs.get("stride") == 2 else 3
    w = values(rng, (8, c // kwargs.get("groups", 1), k, k), np.float32)
    arrays = [values(rng, (2, c, 12, 11), np.float32), w, values(rng, (8,), np.float32)]
    assert_matches_torch(lambda x, w, b: F.conv2d(x, w, b, **kwargs),
                         lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs),
                         arrays, dtype=np.float32)


def test_conv2d_winograd_layer_matches_torch_in_float32():
    """A ResNet-like layer (64 channels, 3×3, padding 1, an 8×8 map, He-scaled weights) goes
    through Winograd F(2×2, 3×3) (kernels/winograd.py); forward and gradients in float32
    against torch at the usual float32 tolerance."""
    from unittest import mock

    from scratchnet.kernels import conv
    rng = np.random.default_rng(0)
    x, b = values(rng, (2, 64, 8, 8), np.float32), values(rng, (64,), np.float32)
    w = values(rng, (64, 64, 3, 3), np.float32) / np.float32(np.sqrt(9 * 64))
    names = ("winograd_forward", "winograd_input_grad", "winograd_weight_grad")
    with mock.patch.object(conv, names[0], wraps=conv.winograd_forward) as forward, \
            mock.patch.object(conv, names[1], wraps=conv.winograd_input_grad) as input_grad, \
            mock.patch.object(conv, names[2], wraps=conv.winograd_weight_grad) as weight_grad:
        assert_matches_torch(lambda x, w, b: F.conv2d(x, w, b, padding=1),
                             lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1),
                             [x, w, b], dtype=np.float32)
    assert forward.call_count == input_grad.call_count == weight_grad.call_count == 1


def test_conv2d_double_backward_through_winograd():
    """Second derivatives (float64, against central differences) with Winograd forced for a
    few channels: the double backward runs the three kernels on swapped roles (gy as input,
    ggW as kernel), each through Winograd."""
    from unittest import mock

    from scratchnet.kernels import conv
    from tests.kernels.paths import forced
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    inputs = [sn.tensor(x, requires_grad=True), sn.tensor(w, requires_grad=True)]
    with forced("winograd"), \
            mock.patch.object(conv, "winograd_weight_grad", wraps=conv.winograd_weight_grad) \
            as weight_grad:
        assert sn.gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1), inputs, atol=1e-5,
                                rtol=1e-3)
    assert weight_grad.call_count > 0


def test_conv2d_without_input_grad_skips_it():
    rng = np.random.default_rng(1)
    x = sn.tensor(values(rng, (2, 3, 6, 6)))
    w = sn.tensor(values(rng, (4, 3, 3, 3)), requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad is not None


@pytest.mark.parametrize("kernel, kwargs", [((3, 3), dict(padding=1)),
                                            ((1, 1), {}),
                                            ((3, 2), dict(stride=2, groups=2, dilation=(1, 2)))])
def test_tiled_columns_give_the_same_results(kernel, kwargs):
    """A workspace limit of 1 byte forces tiles of one output row of one sample; the results
    must equal the default tiling's up to float32 rounding, not bit for bit: a tile's GEMM
    has fewer columns (BLAS may pick another kernel for the narrower product), gW is summed
    tile by tile, and col2im adds the bands of one image one after the other, so a pixel's
    contributions from neighbouring bands are added in another order. A lost or doubled tile
    would be off by O(1); the tolerance is a few ulps of the largest value."""
    rng = np.random.default_rng(2)
    x0, w0 = values(rng, (5, 4, 9, 8), np.float32), values(rng, (6, 4 // kwargs.get(
        "groups", 1)) + kernel, np.float32)
    b0 = values(rng, (6,), np.float32)
    results = []
    for limit in (None, 1):
        sn.set_workspace_limit(limit)
        try:
            x, w, b = (sn.tensor(a, requires_grad=True) for a in (x0, w0, b0))
            y = F.conv2d(x, w, b, **kwargs)
            gy = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
            (y * sn.tensor(gy)).sum().backward()
            results.append([t.data.copy() for t in (y, x.grad, w.grad, b.grad)])
        finally:
            sn.set_workspace_limit(None)
    for whole, tiled in zip(*results):
        np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-6 * np.abs(whole).max())


def test_conv2d_by_hand():
    """A 2×2 kernel of ones with stride 1 sums each 2×2 patch of a 3×3 image 0..8."""
    x = sn.tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    y = F.conv2d(x, sn.tensor(np.ones((1, 1, 2, 2))), sn.tensor(np.array([0.5])))
    np.testing.assert_array_equal(y.numpy()[0, 0], [[8.5, 12.5], [20.5, 24.5]])


@pytest.mark.parametrize("x, w, kwargs, message", [
    ((1, 3, 4, 4), (2, 3, 5, 5), {}, r"kernel_size=\(5, 5\).*larger than the padded input"),
    ((1, 3, 4, 4), (2, 3, 3, 3), dict(dilation=2), r"larger than the padded input"),
    ((1, 3, 6, 6), (2, 3, 3, 3), dict(stride=0), r"stride must be positive.*\(0, 0\)"),
    ((1, 3, 6, 6), (2, 3, 3, 3), dict(stride=(1, -1)), r"stride must be positive"),
    ((1, 3, 6, 6), (2, 3, 3, 3), dict(padding=-1), r"padding must be non-negative"),
    ((1, 3, 6, 6), (2, 3, 3, 3), dict(padding="full"), r"padding must be .*'same'"),
    ((1, 3, 6, 6), (2, 3, 3, 3), dict(padding="same", stride=2), r"'same' needs stride 1"),
    ((1, 3, 6, 6), (2, 1, 3, 3), dict(groups=2), r"3 and output channels 2 must both be div"),
    ((1, 4, 6, 6), (3, 2, 3, 3), dict(groups=2), r"output channels 3 must both be divisible"),
    ((1, 4, 6, 6), (2, 3, 3, 3), {}, r"input \(1, 4, 6, 6\) has 4 channels but weight "
                                     r"\(2, 3, 3, 3\)"),
    ((1, 4, 6, 6), (2, 4, 3, 3), dict(groups=0), r"groups must be a positive int"),
    ((4, 6, 6), (2, 4, 3), {}, r"expected weight of shape \(O, C/groups, KH, KW\)"),
    ((6, 6), (2, 1, 3, 3), {}, r"expected input of shape \(N, C, H, W\) or unbatched"),
    ((1, 1, 1, 6, 6), (2, 1, 3, 3), {}, r"got \(1, 1, 1, 6, 6\)"),
])
def test_conv2d_bad_input_raises(x, w, kwargs, message):
    with pytest.raises(ValueError, match="conv2d: .*" + message):
        F.conv2d(sn.zeros(*x), sn.zeros(*w), **kwargs)


def test_conv2d_bad_bias_and_dtypes_raise():
    x, w = sn.zeros(1, 3, 5, 5), sn.zeros(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(3,\) does not match"):
        F.conv2d(x, w, sn.zeros(3))
    with pytest.raises(TypeError, match="conv2d: expected all inputs to have the same dtype"):
        F.conv2d(x.double(), w)
