"""Pooling: max, average and their adaptive forms, with torch's semantics (notation:
kernels/im2col.py; output sizes and the ceil_mode rule: kernels/_shapes.py).

Every op takes (N, C, H, W) or unbatched (C, H, W) input; the Functions see (N, C, H, W).
"""
import numpy as np

from ..backend import get_array_module
from ..function import Function
from ..kernels import _shapes
from ..kernels.im2col import col2im, im2col
from ..kernels.pool import max_pool_backward, max_pool_forward
from . import _arguments
from ._operands import check_float


def _batched(x):
    return x.reshape(_batched_shape(x.shape))


def _batched_shape(shape):
    return (1,) * (4 - len(shape)) + tuple(shape)            # (C, H, W) -> (1, C, H, W)


class MaxPool2dFunction(Function):
    """y = max over each window (padding is −inf); also returns the winners' flat indices.
    Backward: gx.flat[idx] += gy, per (n, c) plane (kernels/pool.py)."""

    def __init__(self, kernel_size, stride, padding, dilation, out_size):
        self.args = (kernel_size, stride, padding, dilation)
        self.out_size = out_size

    def forward(self, x):
        self.x_shape = x.shape
        y, idx = max_pool_forward(_batched(x), *self.args, self.out_size)
        self.save_for_backward(idx)
        return y.reshape(x.shape[:-2] + y.shape[2:]), idx.reshape(x.shape[:-2] + y.shape[2:])

    def backward(self, gy, _):
        idx, = self.saved_tensors
        gx = max_pool_backward(_batched(gy), _batched(idx), _batched_shape(self.x_shape),
                               *self.args)
        return gx.reshape(self.x_shape)

    def jvp(self, dx):
        """J·dx: dx read at each window's winner (a gather by the saved indices; backward
        is the matching scatter). Max pooling is piecewise linear: this is its Jacobian."""
        idx, = self.saved_tensors
        xp = get_array_module(dx)
        N, C, H, W = _batched_shape(self.x_shape)
        flat = idx.reshape(N * C, -1)
        planes = xp.ascontiguousarray(dx).reshape(N * C, H * W)
        dy = xp.take_along_axis(planes, xp.maximum(flat, 0), axis=1) * (flat >= 0)
        return dy.reshape(self._output_meta[0][0]), None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over KH×KW windows, as ``torch.nn.functional.max_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW):
    y[n, c, i, j] = max_{kh, kw} x[n, c, i·SH − PH + kh·DH, j·SW − PW + kw·DW], padding −inf.
    ``stride`` defaults to ``kernel_size``; ``padding`` ≤ kernel_size // 2; ``ceil_mode``
    keeps a last partial window (torch's rule, kernels/_shapes.py). Overlapping windows (3×3
    stride 2, AlexNet) are allowed. Backward sends each gy to the first maximum of its window
    in row-major order (NaN wins), accumulating where windows overlap. ``return_indices``
    also returns those positions as flat indices into each (H, W) plane (int64), as torch.
    """
    op = "max_pool2d"
    kernel, stride, padding, dilation, out_size = _pool_args(
        op, input, kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = MaxPool2dFunction(kernel, stride, padding, dilation, out_size)(input)
    return (y, idx) if return_indices else y


class AvgPool2dFunction(Function):
    """y = (sum over each window, padding 0) / divisor[oh, ow]. Backward: every pixel of a
    window receives gy / divisor, i.e. gx = col2im(gy / divisor broadcast over the taps)."""
    linear = True  # forward is its own Jacobian map (higher_order.py)


    def __init__(self, kernel_size, stride, padding, out_size, count_include_pad, override):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.out_size = out_size
        self.count_include_pad, self.override = count_include_pad, override

    def forward(self, x):
        xp = get_array_module(x)
        self.x_shape = x.shape
        H, W = x.shape[-2:]
        divisor = xp.asarray(_avg_divisor((H, W), self.kernel_size, self.stride, self.padding,
                                          self.out_size, self.count_include_pad, self.override),
                             x.dtype)                          # (OH, OW)
        self.save_for_backward(divisor)
        planes = xp.ascontiguousarray(x).reshape(-1, 1, H, W)   # every (n, c) plane alone
        col = im2col(planes, self.kernel_size, self.stride, self.padding, (1, 1),
                     self.out_size)                            # (N·C, 1, KH, KW, OH, OW)
        y = col.sum(axis=(1, 2, 3)) / divisor                  # (N·C, OH, OW)
        return y.reshape(x.shape[:-2] + self.out_size)

    def backward(self, gy):
        (divisor,) = self.saved_tensors
        xp = get_array_module(gy)
        H, W = self.x_shape[-2:]
        share = gy.reshape(-1, 1, 1, 1, *self.out_size) / divisor
        gcol = xp.broadcast_to(share, share.shape[:2] + self.kernel_size + self.out_size)
        gx = col2im(xp.ascontiguousarray(gcol), (share.shape[0], 1, H, W), self.stride,
                    self.padding)
        return gx.reshape(self.x_shape)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over KH×KW windows, as ``torch.nn.functional.avg_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW): y[n, c, i, j] = Σ_window x / divisor[i, j]
    with zero padding. The divisor, as torch computes it: a window is first clipped to the
    padded input [−PH, H + PH) (with ceil_mode a last window can run past it); then it is
    that window's size if ``count_include_pad`` (default), else the number of real pixels in
    it; ``divisor_override`` replaces both. E.g. H=4, k=3, s=2, p=1, ceil_mode: the last
    window covers 2×2 padded cells and divides by 4, not 9. Backward: gx gets gy / divisor at
    every pixel of each window.
    """
    op = "avg_pool2d"
    kernel, stride, padding, _, out_size = _pool_args(
        op, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, int)
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got "
                         f"{divisor_override!r}")
    return AvgPool2dFunction(kernel, stride, padding, out_size, count_include_pad,
                             divisor_override)(input)


def _avg_divisor(size, kernel, stride, padding, out_size, count_include_pad, override):
    """(OH, OW) NumPy array of torch's avg-pool divisors (see avg_pool2d)."""
    if override is not None:
        return np.full(out_size, float(override))
    sides = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out_size):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)     # host: window ends, clipped to the padded input
        if count_include_pad:
            sides.append(end - start)
        else:
            sides.append(np.minimum(end, n) - np.maximum(start, 0))   # host: window sizes
    return np.maximum(sides[0][:, None] * sides[1][None, :], 1).astype(np.float64)  # host


class AdaptiveAvgPool2dFunction(Function):
    """Adaptive average pooling is separable: with the bin-averaging matrices Ah (OH, H) and
    Aw (OW, W) (Ah[i, h] = 1/|bin i| for h in bin i), y = Ah · x · Awᵀ, so gx = Ahᵀ · gy · Aw."""
    linear = True  # forward is its own Jacobian map (higher_order.py)


    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols

    def forward(self, x):
        xp = get_array_module(x)
        ah, aw = (xp.asarray(_bin_average_matrix(b, n), x.dtype)
                  for b, n in ((self.rows, x.shape[-2]), (self.cols, x.shape[-1])))
        self.save_for_backward(ah, aw)
        return xp.matmul(ah, x @ aw.T)                 # (OH, H) @ ((..., H, W) @ (W, OW))

    def backward(self, gy):
        ah, aw = self.saved_tensors
        return (ah.T @ gy) @ aw                        # ((H, OH) @ (..., OH, OW)) @ (OW, W)


def _bin_average_matrix(bins, size):
    a = np.zeros((len(bins), size))
    for i, (start, end) in enumerate(bins):
        a[i, start:end] = 1.0 / (end - start)
    return a


def adaptive_avg_pool2d(input, output_size):
    """Average over torch's adaptive bins, as ``torch.nn.functional.adaptive_avg_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); output bin i covers rows
    [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉) (likewise columns), so bins may overlap or differ in size.
    ``output_size`` is an int or a pair (None keeps that side); global average pooling is
    ``adaptive_avg_pool2d(x, 1)``. Backward: each pixel gets gy / |bin| of every bin it is in.
    """
    rows, cols = _adaptive_bins("adaptive_avg_pool2d", input, output_size)
    return AdaptiveAvgPool2dFunction(rows, cols)(input)


class AdaptiveMaxPool2dFunction(Function):
    """y = max over each adaptive bin; backward sends gy to the bin's first maximum, or to its
    last NaN when it holds NaNs (torch's rule, as the max_pool2d kernel). One array op per bin
    (OH·OW of them); evenly dividing bins go to the max_pool2d kernel."""

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols

    def forward(self, x):
        xp = get_array_module(x)
        W = x.shape[-1]
        y = xp.empty(x.shape[:-2] + (len(self.rows), len(self.cols)), x.dtype)
        idx = xp.empty(y.shape, np.int64)
        winners = xp.empty(y.shape, np.int64)             # position inside the bin, row-major
        for i, (h0, h1) in enumerate(self.rows):
            for j, (w0, w1) in enumerate(self.cols):
                size = (h1 - h0) * (w1 - w0)
                win = x[..., h0:h1, w0:w1].reshape(x.shape[:-2] + (size,))  # (..., bh·bw)
                nan = xp.isnan(win)
                last_nan = size - 1 - nan[..., ::-1].argmax(axis=-1)
                k = xp.where(nan.any(axis=-1), last_nan, win.argmax(axis=-1))
                y[..., i, j] = xp.take_along_axis(win, k[..., None], axis=-1)[..., 0]
                idx[..., i, j] = (h0 + k // (w1 - w0)) * W + w0 + k % (w1 - w0)
                winners[..., i, j] = k
        self.x_shape = x.shape
        self.save_for_backward(winners)
        return y, idx

    def backward(self, gy, _):
        (winners,) = self.saved_tensors
        xp = get_array_module(gy)
        gx = xp.zeros(self.x_shape, gy.dtype)
        for i, (h0, h1) in enumerate(self.rows):
            for j, (w0, w1) in enumerate(self.cols):
                cells = xp.arange((h1 - h0) * (w1 - w0)).reshape(h1 - h0, w1 - w0)
                won = cells == winners[..., i, j, None, None]               # (..., bh, bw)
                gx[..., h0:h1, w0:w1] += won * gy[..., i, j, None, None]
        return gx

    def jvp(self, dx):
        """J·dx: dx read at each bin's winner (piecewise linear, as max_pool2d)."""
        (winners,) = self.saved_tensors
        dy = get_array_module(dx).empty(winners.shape, dx.dtype)
        for i, (h0, h1) in enumerate(self.rows):
            for j, (w0, w1) in enumerate(self.cols):
                win = dx[..., h0:h1, w0:w1].reshape(dx.shape[:-2] + (-1,))
                dy[..., i, j] = get_array_module(dx).take_along_axis(
                    win, winners[..., i, j, None], axis=-1)[..., 0]
        return dy, None


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over torch's adaptive bins (see adaptive_avg_pool2d), as
    ``torch.nn.functional.adaptive_max_pool2d``; ties go to the first maximum, and
    ``return_indices`` also returns flat indices into each (H, W) plane."""
    op = "adaptive_max_pool2d"
    rows, cols = _adaptive_bins(op, input, output_size)
    H, W = input.shape[-2:]
    if H % len(rows) == 0 and W % len(cols) == 0:   # equal, disjoint bins: a plain max pool
        kernel = (H // len(rows), W // len(cols))
        return max_pool2d(input, kernel, kernel, return_indices=return_indices)
    y, idx = AdaptiveMaxPool2dFunction(rows, cols)(input)
    return (y, idx) if return_indices else y


def _check_input(op, x):
    check_float(op, x)
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) or unbatched (C, H, W) "
                         f"with non-zero C, H, W, got {x.shape}")


def _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Check and normalise pooling arguments; returns pairs and (OH, OW)."""
    _check_input(op, x)
    kernel = _arguments.pair(kernel_size, op, "kernel_size")
    stride = kernel if stride is None or stride == () or stride == [] else \
        _arguments.pair(stride, op, "stride")
    padding = _arguments.pair(padding, op, "padding")
    dilation = _arguments.pair(dilation, op, "dilation")
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        _arguments.check_positive(op, name, value)
    _arguments.check_nonnegative(op, "padding", padding)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding={padding} must be at most half of "
                         f"kernel_size={kernel} (input {x.shape})")
    out_size = tuple(_shapes.pool_output_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in
                     zip(x.shape[-2:], kernel, stride, padding, dilation))
    _arguments.check_output_size(op, x.shape, out_size, kernel, stride, padding, dilation)
    return kernel, stride, padding, dilation, out_size


def _adaptive_bins(op, x, output_size):
    _check_input(op, x)
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    sides = tuple(n if o is None else o for n, o in zip(x.shape[-2:], output_size))
    if not all(isinstance(o, int) and o > 0 for o in sides):
        raise ValueError(f"{op}: output_size must be positive ints, got {output_size!r} "
                         f"(input {x.shape})")
    return tuple(_bins(n, o) for n, o in zip(x.shape[-2:], sides))


def _bins(size, out):
    """torch's adaptive-pooling bins on one side: bin i covers [⌊i·In/Out⌋, ⌈(i+1)·In/Out⌉)."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]
