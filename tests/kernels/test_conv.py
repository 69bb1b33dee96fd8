"""The tiled conv kernels (kernels/conv.py) equal their whole-matrix references, on every path.

Inputs are integer-valued floats: every product and partial sum is then exact, so the tiled
products (other GEMM shapes, other summation orders) must equal the references bit for bit,
and any lost, doubled or misplaced tile shows.
"""
import os
from contextlib import ExitStack
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.backend import to_device, to_numpy
from scratchnet.kernels import _shapes, conv, workspace
from scratchnet.kernels.conv import (conv2d_forward, conv2d_forward_reference, conv2d_input_grad,
                                     conv2d_input_grad_reference, conv2d_weight_grad,
                                     conv2d_weight_grad_reference)
from tests.kernels.paths import CONV_PATHS, WINOGRAD_PATHS, forced
from tests.strategies import seeds


@st.composite
def conv_geometries(draw):
    """(x shape, weight shape, stride, padding, dilation, groups, out_size), valid by
    construction; a quarter are 1×1 pointwise, a quarter keep the size ("same": OW = W, the
    shifted-tap case), the rest anything, with an out_size up to one past symmetric padding."""
    groups = draw(st.integers(1, 2))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["pointwise", "same", "any", "any"]))
    kernel = (1, 1) if mode == "pointwise" else (draw(st.integers(1, 3)),
                                                 draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if mode == "any":
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    else:
        stride = (1, 1)
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    sides = []
    for k, p, d in zip(kernel, padding, dilation):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        sides.append(draw(st.integers(smallest, smallest + 5)))
    x_shape = (draw(st.integers(1, 3)), c) + tuple(sides)
    out = _shapes.conv_output_hw(x_shape, kernel, stride, padding, dilation)
    if mode == "same":
        out = tuple(sides)                                  # the extra row/column after
    elif mode == "any":
        out = tuple(n + draw(st.integers(0, 1)) for n in out)
    bias = draw(st.booleans())
    return x_shape, (o, c // groups) + kernel, stride, padding, dilation, groups, out, bias


def _integers(rng, shape):
    return rng.integers(-20, 21, shape).astype(np.float64)


def _check(case, rng, device="cpu"):
    x_shape, w_shape, stride, padding, dilation, groups, out, bias = case
    x, w = _integers(rng, x_shape), _integers(rng, w_shape)
    b = _integers(rng, w_shape[:1]) if bias else None
    gy = _integers(rng, (x_shape[0], w_shape[0]) + out)
    geometry = (stride, padding, dilation, groups)
    symmetric = out == _shapes.conv_output_hw(x_shape, w_shape[2:], stride, padding, dilation)
    y = conv2d_forward(to_device(x, device), to_device(w, device),
                       None if b is None else to_device(b, device), *geometry,
                       None if symmetric else out)          # None: the default out_size
    gx = conv2d_input_grad(to_device(gy, device), to_device(w, device), x_shape, *geometry)
    gw = conv2d_weight_grad(to_device(x, device), to_device(gy, device), w_shape, *geometry)
    np.testing.assert_array_equal(to_numpy(y),
                                  conv2d_forward_reference(x, w, b, *geometry, out))
    np.testing.assert_array_equal(to_numpy(gx),
                                  conv2d_input_grad_reference(gy, w, x_shape, *geometry))
    np.testing.assert_array_equal(to_numpy(gw),
                                  conv2d_weight_grad_reference(x, gy, w_shape, *geometry))


@pytest.mark.parametrize("path", CONV_PATHS)
@given(case=conv_geometries(), seed=seeds)
def test_conv_kernels_match_references(path, case, seed):
    with forced(path):
        _check(case, np.random.default_rng(seed))


@pytest.mark.gpu
@given(case=conv_geometries(), seed=seeds)
def test_conv_kernels_on_cupy_match_references(case, seed):
    _check(case, np.random.default_rng(seed), "cuda")


@st.composite
def winograd_geometries(draw):
    """Stride-1 3×3 convolutions, the kind Winograd F(2×2, 3×3) takes: padding 0 to 2 on
    each side, odd and even sizes (edge tiles cropped), out_size up to one past symmetric
    padding; sides large enough that no kernel tap reads only padding (live_taps keeps all)."""
    c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    sides = tuple(draw(st.integers((3, 2, 1)[p], 9)) for p in padding)
    out = tuple(n + 2 * p - 2 + draw(st.integers(0, 1)) for n, p in zip(sides, padding))
    x_shape = (draw(st.integers(1, 3)), c) + sides
    return x_shape, (o, c, 3, 3), (1, 1), padding, (1, 1), 1, out, draw(st.booleans())


def _check_through_winograd(case, rng):
    """_check, asserting that each of the three products went through Winograd."""
    with ExitStack() as stack:
        spies = [stack.enter_context(mock.patch.object(conv, name, wraps=getattr(conv, name)))
                 for name in ("winograd_forward", "winograd_input_grad",
                              "winograd_weight_grad")]
        _check(case, rng)
    assert [spy.call_count for spy in spies] == [1, 1, 1]


@pytest.mark.parametrize("path", WINOGRAD_PATHS)
@given(case=winograd_geometries(), seed=seeds)
def test_winograd_matches_references(path, case, seed):
    with forced(path):
        _check_through_winograd(case, np.random.default_rng(seed))


@pytest.mark.parametrize("x_shape, padding, out", [
    ((2, 16, 7, 5), (1, 1), (7, 5)),       # odd sides: the last tile row and column cropped
    ((3, 16, 9, 8), (0, 0), (7, 6)),       # no padding
    ((2, 16, 4, 3), (2, 2), (6, 5)),       # padding 2: the input gradient's padding is 0
    ((2, 16, 6, 6), (1, 0), (7, 5)),       # out_size one past the symmetric size
    ((5, 16, 2, 2), (1, 1), (2, 2)),       # one tile per sample
])
def test_winograd_edge_tiles_at_their_natural_channels(x_shape, padding, out):
    case = (x_shape, (16, 16, 3, 3), (1, 1), padding, (1, 1), 1, out, True)
    _check_through_winograd(case, np.random.default_rng(5))


def test_references_match_a_direct_sum():
    """The oracle itself, against the definition y[n, o, i, j] = b[o] + Σ W·x (one group of
    two, stride 2, padding 1, dilation 2), and its gradients as the adjoint: ⟨gy, y(x)⟩."""
    rng = np.random.default_rng(0)
    x, w, b = _integers(rng, (2, 4, 7, 6)), _integers(rng, (6, 2, 2, 3)), _integers(rng, (6,))
    stride, padding, dilation, groups = (2, 1), (1, 2), (2, 1), 2
    y = conv2d_forward_reference(x, w, b, stride, padding, dilation, groups)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)))
    for o in range(6):
        g = o // 3
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                window = xp[:, 2 * g:2 * g + 2, 2 * i:2 * i + 3:2, j:j + 3]   # (N, 2, KH, KW)
                np.testing.assert_array_equal(y[:, o, i, j], b[o] + (window * w[o]).sum((1, 2, 3)))
    gy = _integers(rng, y.shape)
    gx = conv2d_input_grad_reference(gy, w, x.shape, stride, padding, dilation, groups)
    gw = conv2d_weight_grad_reference(x, gy, w.shape, stride, padding, dilation, groups)
    # y is linear in x and in w: ⟨gy, y(x) − b⟩ = ⟨gx, x⟩ = ⟨gw, w⟩
    inner = np.vdot(gy, y - b.reshape(6, 1, 1))
    assert np.vdot(gx, x) == inner and np.vdot(gw, w) == inner


@pytest.mark.parametrize("batch, side, kernel, padding", [
    (4, 4, (3, 3), (1, 1)),      # 16 positions per sample: the merged-samples GEMM
    (3, 2, (1, 1), (0, 0)),      # ResNet's smallest maps, pointwise
])
def test_small_maps_merge_samples_at_their_natural_size(batch, side, kernel, padding):
    case = ((batch, 4, side, side), (6, 4) + kernel, (1, 1), padding, (1, 1), 1, (side, side),
            True)
    _check(case, np.random.default_rng(1))


@pytest.mark.skipif(workspace.TILE_BYTES > 2**24, reason="the tile budget grew")
def test_large_maps_work_in_row_bands_at_their_natural_size():
    """One sample's columns (32·9·64 float64 = 147 KB a row, 9.4 MB for 64 rows) exceed the
    8 MB tile: the rows come in bands, each band's columns start at a row > 0."""
    assert len(workspace.tiles(1, 64, 32 * 9 * 64 * 8, np)[1]) > 1
    case = ((2, 32, 64, 64), (4, 32, 3, 3), (1, 1), (1, 1), (1, 1), 1, (64, 64), False)
    with forced("per-sample products"):          # im2col's (32·4 channels: the direct path's)
        _check(case, np.random.default_rng(2))


def test_per_sample_products_of_several_sample_groups_add_up_at_their_natural_size():
    """LeNet-5's first layer: 784 positions a sample (one product each), 157 KB of float64
    columns, so 1 MB groups of 6 samples: each worker sums several groups of several
    products onto its part of gW."""
    assert len(workspace.tiles(40, 28, 25 * 28 * 8, np, one_product_per_sample=True)[0]) > 2
    case = ((40, 1, 32, 32), (6, 1, 5, 5), (1, 1), (0, 0), (1, 1), 1, (28, 28), True)
    with forced("per-sample products"):                 # not the direct path LeNet-5 takes
        _check(case, np.random.default_rng(3))


@pytest.mark.parametrize("x_shape, w_shape, padding, direct_gx", [
    # LeNet-5's layers; gy padded by 4 is 36×36 for a 32×32 input (direct input gradient),
    # 18×18 for 14×14 (more than 1.5 times: im2col's input gradient)
    ((3, 1, 32, 32), (6, 1, 5, 5), (0, 0), True),
    ((3, 6, 14, 14), (16, 6, 5, 5), (0, 0), False),
    ((3, 8, 12, 10), (16, 8, 3, 3), (1, 2), False),   # the most channels it takes, padded
])
def test_direct_path_at_its_natural_sizes(x_shape, w_shape, padding, direct_gx):
    """Few channels at stride 1 skip the columns (conv_direct.py), each of two workers a
    block of samples, and still equal the whole-matrix references bit for bit."""
    from scratchnet.kernels import conv_direct
    out = _shapes.conv_output_hw(x_shape, w_shape[2:], (1, 1), padding, (1, 1))
    case = (x_shape, w_shape, (1, 1), padding, (1, 1), 1, out, True)
    for path in ("direct", "threads"):
        with forced(path), ExitStack() as stack:
            spies = [stack.enter_context(mock.patch.object(
                conv_direct, name, wraps=getattr(conv_direct, name)))
                for name in ("direct_forward", "direct_input_grad", "direct_weight_grad")]
            _check(case, np.random.default_rng(5))
        assert [spy.call_count for spy in spies] == [1, direct_gx or path == "direct", 1]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1",
                    reason="float32 numerics of the compiled kernels (interpreted, a minute)")
def test_direct_path_in_float32_matches_torch():
    """LeNet-5's second layer in float32: forward and both gradients against torch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    gy = rng.standard_normal((16, 16, 10, 10)).astype(np.float32)
    geometry = ((1, 1), (0, 0), (1, 1), 1)
    X, Wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    Y = torch.nn.functional.conv2d(X, Wt)
    Y.backward(torch.tensor(gy))
    with forced("direct"):
        ours = [conv2d_forward(x, w, None, *geometry), conv2d_input_grad(gy, w, x.shape, *geometry),
                conv2d_weight_grad(x, gy, w.shape, *geometry)]
    for a, t in zip(ours, (Y, X.grad, Wt.grad)):
        t = t.detach().numpy()
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-5 * np.abs(t).max())


def test_an_empty_batch_gives_a_zero_weight_gradient():
    case = ((0, 2, 5, 5), (3, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1, (5, 5), False)
    _check(case, np.random.default_rng(4))
    assert not conv2d_weight_grad(np.ones((0, 2, 5, 5)), np.ones((0, 3, 5, 5)), (3, 2, 3, 3),
                                  (1, 1), (1, 1), (1, 1), 1).any()


@pytest.mark.parametrize("x_shape, w_shape, stride, out, block, padding", [
    # ResNet-18's layer4 at 32×32 input: a 1×1 map keeps only the centre tap of 3×3 / pad 1
    ((2, 4, 1, 1), (3, 4, 3, 3), (1, 1), (1, 1), (slice(1, 2), slice(1, 2)), (0, 0)),
    # its stride-2 entry, 2×2 -> 1×1: the top-left row and column read padding only
    ((2, 4, 2, 2), (3, 4, 3, 3), (2, 2), (1, 1), (slice(1, 3), slice(1, 3)), (0, 0)),
    # a 3×3 map keeps every tap
    ((2, 4, 3, 3), (3, 4, 3, 3), (1, 1), (3, 3), (slice(None), slice(None)), (1, 1)),
    # 3 rows keep every row tap, 1 column only the centre column
    ((2, 4, 3, 1), (3, 4, 3, 3), (1, 1), (3, 1), (slice(None), slice(1, 2)), (1, 0)),
])
def test_taps_that_read_only_padding_are_dropped(x_shape, w_shape, stride, out, block, padding):
    from scratchnet.kernels.conv import live_taps
    live = live_taps(x_shape, w_shape, stride, (1, 1), (1, 1), out)
    if block == (slice(None), slice(None)):
        assert live is None
    else:
        assert live == ((slice(None), slice(None)) + block, padding)
    rng = np.random.default_rng(0)
    x, gy = _integers(rng, x_shape), _integers(rng, (x_shape[0], w_shape[0]) + out)
    gw = conv2d_weight_grad(x, gy, w_shape, stride, (1, 1), (1, 1), 1)
    dead = np.ones(w_shape, bool)
    dead[(slice(None), slice(None)) + block] = False
    assert not gw[dead].any()
    _check((x_shape, w_shape, stride, (1, 1), (1, 1), 1, out, True), rng)
