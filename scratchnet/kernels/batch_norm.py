"""Batch-norm kernels on (N, C, L) arrays: per-channel statistics, the affine map, and the
backward's two reductions plus the input gradient (formulas: functional/normalization.py).

A channel c is the N strided blocks x[:, c, :] of L contiguous values, m = N·L of them.

    batch_stats(x)                      -> mean_c, var_c (biased, two passes: Σ(x − mean)²)
    affine(x, a, shift)                 -> y = x·a_c + shift_c
    backward(x, gy, mean, invstd, a, k) -> gb_c = Σgy, gw_c = invstd·Σ gy·(x − mean),
                                           gx = a_c·(gy − k·(gb_c + (x − mean)·invstd·gw_c)/m)

with k = 1 when the statistics came from the batch (training) and k = 0 when they are
constants (eval). NumPy's version makes a full temporary for x − mean and one pass over memory
per ufunc; the Numba twin runs each channel on one worker (each worker a block of channels,
kernels/threads.py), streaming its N blocks twice. Its sums go through an accumulator per
position l (acc[l] += ..., vectorizable and each summing only N values), reduced at the end,
so float32 sums keep their accuracy without reassociating (no fastmath).

On the GPU the per-channel sums are CuPy's own reductions (``x.sum(axis=(0, 2))``, one kernel
each); the two elementwise passes are CUDA twins (``_AFFINE_SRC``, ``_GX_SRC``): one thread
per element i of the (N, C, L) array, whose channel is c = (i / L) % C. Like every CUDA twin
they are CuPy ElementwiseKernel bodies, run on the CPU by the tests' C++ harness (see
kernels/_cupy.py).
"""
import numba
import numpy as np

from ..backend import get_array_module, is_cupy
from . import threads
from ._cupy import elementwise


def batch_stats(x):
    if is_cupy(x) or x.size == 0:              # on CuPy: its reductions, one kernel each
        return batch_stats_reference(x)
    C = x.shape[1]
    mean, var = np.empty(C, x.dtype), np.empty(C, x.dtype)
    threads.parallel_range(C, lambda start, stop: _stats_numba(
        x, _count(x), mean, var, start, stop), x.size)
    return mean, var


def affine(x, a, shift):
    if x.size == 0:
        return affine_reference(x, a, shift)
    if is_cupy(x):
        return _affine_cupy(x, a, shift)
    y = np.empty_like(x)
    threads.parallel_range(x.shape[1], lambda start, stop: _affine_numba(
        x, a, shift, y, start, stop), x.size)
    return y


def backward(x, gy, mean, invstd, a, batch_stats_used, need_gx=True):
    """(gx, gw, gb), gx None unless ``need_gx``."""
    if x.size == 0:
        return backward_reference(x, gy, mean, invstd, a, batch_stats_used, need_gx)
    if is_cupy(x):
        return _backward_cupy(x, gy, mean, invstd, a, batch_stats_used, need_gx)
    C = x.shape[1]
    gb, gw = np.empty(C, x.dtype), np.empty(C, x.dtype)
    gx = np.empty_like(x) if need_gx else np.empty((0, 0, 0), x.dtype)
    threads.parallel_range(C, lambda start, stop: _backward_numba(
        x, gy, mean, invstd, a, _count(x), x.dtype.type(batch_stats_used), need_gx, gb, gw, gx,
        start, stop), x.size)
    return (gx if need_gx else None), gw, gb


def _count(x):
    """m = N·L as a value of x's dtype, so that the kernels divide in float32 for float32."""
    return x.dtype.type(x.shape[0] * x.shape[2])


def batch_stats_reference(x):
    xp = get_array_module(x)
    m = x.dtype.type(x.shape[0] * x.shape[2])
    mean = x.sum(axis=(0, 2)) / m
    centred = x - mean[:, None]
    return mean, xp.einsum("ncl,ncl->c", centred, centred) / m


def affine_reference(x, a, shift):
    y = x * a[:, None]
    y += shift[:, None]
    return y


def backward_reference(x, gy, mean, invstd, a, batch_stats_used, need_gx=True):
    xp = get_array_module(x)
    m = x.shape[0] * x.shape[2]
    gb = gy.sum(axis=(0, 2))
    centred = x - mean[:, None]
    gw = xp.einsum("ncl,ncl->c", gy, centred) * invstd
    if not need_gx:
        return None, gw, gb
    if not batch_stats_used:
        return gy * a[:, None], gw, gb
    gx = centred                                             # reused in place: one allocation
    gx *= (-invstd * gw / m)[:, None]
    gx += gy
    gx -= (gb / m)[:, None]
    gx *= a[:, None]
    return gx, gw, gb


@numba.njit(cache=True)
def _channel_sum(x, c, shift, square):
    """Σ_{n,l} (x[n, c, l] − shift)^(2 if square else 1), through one accumulator per l."""
    N, _, L = x.shape
    acc = np.zeros_like(x[0, 0])
    for n in range(N):
        for l in range(L):
            d = x[n, c, l] - shift
            acc[l] += d * d if square else d
    return acc.sum()


@numba.njit(cache=True, nogil=True)
def _stats_numba(x, m, mean, var, start, stop):
    for c in range(start, stop):
        mean[c] = _channel_sum(x, c, m - m, False) / m
        var[c] = _channel_sum(x, c, mean[c], True) / m


@numba.njit(cache=True, nogil=True)
def _affine_numba(x, a, shift, y, start, stop):
    N, L = x.shape[0], x.shape[2]
    for c in range(start, stop):
        for n in range(N):
            for l in range(L):
                y[n, c, l] = x[n, c, l] * a[c] + shift[c]


@numba.njit(cache=True, nogil=True)
def _backward_numba(x, gy, mean, invstd, a, m, batch, need_gx, gb, gw, gx, start, stop):
    N, L = x.shape[0], x.shape[2]
    for c in range(start, stop):
        sum_gy = np.zeros_like(x[0, 0])
        sum_gy_centred = np.zeros_like(x[0, 0])
        for n in range(N):
            for l in range(L):
                sum_gy[l] += gy[n, c, l]
                sum_gy_centred[l] += gy[n, c, l] * (x[n, c, l] - mean[c])
        gb[c] = sum_gy.sum()
        gw[c] = sum_gy_centred.sum() * invstd[c]
        if need_gx:
            # gx = a·(gy − k·gb/m − (x − mean)·k·invstd·gw/m), the two constants hoisted
            k0, k1 = batch * gb[c] / m, batch * invstd[c] * gw[c] / m
            for n in range(N):
                for l in range(L):
                    gx[n, c, l] = a[c] * (gy[n, c, l] - k0 - (x[n, c, l] - mean[c]) * k1)


# One thread per element i of the (N, C, L) arrays; its channel is c = (i / L) % C.
_AFFINE_SRC = r"""
    const int c = (i / L) % C;
    y = x * a[c] + shift[c];
"""

# k0 = k·gb/m and k1 = k·invstd·gw/m are per-channel constants, computed once per channel
_GX_SRC = r"""
    const int c = (i / L) % C;
    gx = a[c] * (gy - k0[c] - (x - mean[c]) * k1[c]);
"""


def _affine_cupy(x, a, shift):
    y = get_array_module(x).empty_like(x)
    kernel = elementwise("T x, raw T a, raw T shift, int32 C, int32 L", "T y", _AFFINE_SRC,
                         "scratchnet_bn_affine")
    kernel(x, a, shift, x.shape[1], x.shape[2], y)
    return y


def _backward_cupy(x, gy, mean, invstd, a, batch_stats_used, need_gx):
    xp = get_array_module(x)
    m = _count(x)
    gb = gy.sum(axis=(0, 2))
    gw = xp.einsum("ncl,ncl->c", gy, x - mean[:, None]) * invstd
    if not need_gx:
        return None, gw, gb
    batch = x.dtype.type(batch_stats_used)
    k0, k1 = batch * gb / m, batch * invstd * gw / m
    gx = xp.empty_like(x)
    kernel = elementwise("T x, T gy, raw T a, raw T mean, raw T k0, raw T k1, int32 C, int32 L",
                         "T gx", _GX_SRC, "scratchnet_bn_backward_gx")
    kernel(x, gy, xp.ascontiguousarray(a), mean, k0, k1, x.shape[1], x.shape[2], gx)
    return gx, gw, gb
