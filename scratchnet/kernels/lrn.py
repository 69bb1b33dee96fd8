"""Local response normalization across channels, on (N, C, L) arrays (L = H·W flattened).

Forward, with n = ``size`` and the channel window zero-padded (torch's convention):

    s[b, c, l] = Σ_{j = c − n//2}^{c + (n−1)//2} x[b, j, l]²         (channels outside [0, C) are 0)
    d = k + alpha · s / n,        scale = d^(−beta),        y = x · scale

Backward. y_c depends on x_j through x_c itself and through d_c whenever j is in c's window:

    ∂y_c/∂x_j = [c = j]·scale_c − beta · x_c · d_c^(−beta−1) · (alpha / n) · 2·x_j

so with t = gy · x · scale / d (= gy · x · d^(−beta−1)),

    gx[b, j, l] = gy·scale − (2·alpha·beta/n)·x[b, j, l]·Σ_{c = j − (n−1)//2}^{j + n//2} t[b, c, l]

The backward window is the forward one mirrored: j lies in c's window exactly when
c − n//2 ≤ j ≤ c + (n−1)//2, that is j − (n−1)//2 ≤ c ≤ j + n//2 (the two differ for even n).

The forward returns (y, scale). The backward takes x and scale and recomputes d from x (n
multiply-adds per element), which is cheaper than a second pow and keeps one saved array.

Each public function dispatches to a CuPy kernel for CuPy arrays and to a Numba kernel on the
CPU; ``*_reference`` is the plain NumPy version both twins are tested against.
"""
import numba
import numpy as np

from ..backend import get_array_module, is_cupy
from ._cupy import elementwise
from . import threads


def lrn_forward(x, size, alpha, beta, k):
    """(y, scale) for a C-contiguous (N, C, L) float array x."""
    alpha_t, beta_t, k_t = _scalars(x, alpha, beta, k)
    if is_cupy(x):
        return _forward_cupy(x, size, alpha_t, beta_t, k_t)
    y, scale = np.empty_like(x), np.empty_like(x)
    threads.parallel_range(len(x), lambda start, stop: _forward_numba(
        x[start:stop], size, x.dtype.type(size), alpha_t, beta_t, k_t, y[start:stop],
        scale[start:stop]), x.size)
    return y, scale


def lrn_backward(x, scale, gy, size, alpha, beta, k):
    """gx for upstream gradient gy, given the input x and the forward's scale (all (N, C, L))."""
    alpha_t, _, k_t = _scalars(x, alpha, beta, k)
    coef = x.dtype.type(2 * alpha * beta / size)
    if is_cupy(x):
        return _backward_cupy(x, scale, gy, size, alpha_t, k_t, coef)
    gx = np.empty_like(x)
    threads.parallel_range(len(x), lambda start, stop: _backward_numba(
        x[start:stop], scale[start:stop], gy[start:stop], size, x.dtype.type(size), alpha_t,
        k_t, coef, gx[start:stop]), x.size)
    return gx


def _scalars(x, alpha, beta, k):
    """The constants in x's dtype, so that the kernels compute in float32 for float32 input."""
    t = x.dtype.type
    return t(alpha), t(beta), t(k)


def _window_sum(a, before, after):
    """Σ_{j = c − before}^{c + after} a[:, j] for every channel c, zero outside [0, C)."""
    N, C, L = a.shape
    padded = np.zeros((N, C + before + after, L), a.dtype)
    padded[:, before:before + C] = a
    s = padded[:, 0:C].copy()
    for offset in range(1, before + after + 1):    # padded c + offset: channel c − before + offset
        s += padded[:, offset:offset + C]
    return s


def lrn_forward_reference(x, size, alpha, beta, k):
    alpha, beta, k = _scalars(x, alpha, beta, k)
    d = _window_sum(x * x, size // 2, (size - 1) // 2) / x.dtype.type(size) * alpha + k
    scale = d ** -beta
    return x * scale, scale


def lrn_backward_reference(x, scale, gy, size, alpha, beta, k):
    alpha_t, beta_t, k_t = _scalars(x, alpha, beta, k)
    d = _window_sum(x * x, size // 2, (size - 1) // 2) / x.dtype.type(size) * alpha_t + k_t
    t = gy * x * scale / d
    mirrored = _window_sum(t, (size - 1) // 2, size // 2)
    return gy * scale - x.dtype.type(2 * alpha * beta / size) * x * mirrored


# Numba twins: each worker a block of samples (threads.planes: a slice looped over from 0; a
# channel's window needs its sample's neighbouring channels); the innermost loop runs over
# the contiguous L positions, so it vectorizes. The window sums live in an array of x's dtype:
# they accumulate in T, and each adds only ``size`` squares.
@numba.njit(cache=True)
def _window_sum_of_squares(x, b, c, size):
    """s[l] = Σ x[b, j, l]² over the channels j of c's window, zero-padded at the ends
    (size // 2 channels before c, (size − 1) // 2 after, as torch pads)."""
    C, L = x.shape[1], x.shape[2]
    s = np.zeros_like(x[0, 0])
    for j in range(max(c - size // 2, 0), min(c + (size - 1) // 2, C - 1) + 1):
        for l in range(L):
            s[l] += x[b, j, l] * x[b, j, l]
    return s


@numba.njit(cache=True, nogil=True)
def _forward_numba(x, size, n_t, alpha, beta, k, y, scale):     # n_t: size in x's dtype
    N, C, L = x.shape
    for b in range(N):
        for c in range(C):
            s = _window_sum_of_squares(x, b, c, size)
            for l in range(L):
                sc = (s[l] / n_t * alpha + k) ** -beta
                scale[b, c, l] = sc
                y[b, c, l] = x[b, c, l] * sc


@numba.njit(cache=True, nogil=True)
def _backward_numba(x, scale, gy, size, n_t, alpha, k, coef, gx):
    N, C, L = x.shape
    t = np.empty_like(x[0])                        # (C, L): one sample's t at a time
    for b in range(N):
        for c in range(C):                         # t = gy·x·scale/d, recomputing d from x
            s = _window_sum_of_squares(x, b, c, size)
            for l in range(L):
                t[c, l] = gy[b, c, l] * x[b, c, l] * scale[b, c, l] / (s[l] / n_t * alpha + k)
        for c in range(C):                         # gather t over the mirrored window
            lo, hi = max(c - (size - 1) // 2, 0), min(c + size // 2, C - 1)
            acc = np.zeros_like(x[0, 0])
            for j in range(lo, hi + 1):
                for l in range(L):
                    acc[l] += t[j, l]
            for l in range(L):
                gx[b, c, l] = gy[b, c, l] * scale[b, c, l] - coef * x[b, c, l] * acc[l]


# CuPy twins: one thread per output element gathers over its channel window (no atomics).
# Element i of an (N, C, L) array is (b, c, l) with l = i % L, c = (i / L) % C; the same
# position in channel j is at i + (j − c)·L.
_INDEX = """
    const int l = i % L, c = (i / L) % C;
    const ptrdiff_t plane0 = i - (ptrdiff_t)c * L;   // element (b, 0, l)
"""

# s = Σ x² over the channel window of c (torch's zero padding), accumulated in T
_WINDOW_SUM = _INDEX + """
    const int lo = max(c - n / 2, 0), hi = min(c + (n - 1) / 2, C - 1);
    T s = 0;
    for (int j = lo; j <= hi; ++j) {
        const T v = x[plane0 + (ptrdiff_t)j * L];
        s += v * v;
    }
"""

_FORWARD_SRC = _WINDOW_SUM + """
    scale = pow(s / (T)n * alpha + k, -beta);
    y = x[i] * scale;
"""

_T_SRC = _WINDOW_SUM + """
    t = gy * x[i] * scale / (s / (T)n * alpha + k);
"""

_GX_SRC = _INDEX + """
    const int lo = max(c - (n - 1) / 2, 0), hi = min(c + n / 2, C - 1);   // mirrored window
    T acc = 0;
    for (int j = lo; j <= hi; ++j) acc += t[plane0 + (ptrdiff_t)j * L];
    gx = gy * scale - coef * x * acc;
"""


def _forward_cupy(x, size, alpha, beta, k):
    cupy = get_array_module(x)
    y, scale = cupy.empty_like(x), cupy.empty_like(x)
    kernel = elementwise("raw T x, int32 C, int32 L, int32 n, T alpha, T beta, T k",
                         "T y, T scale", _FORWARD_SRC, "scratchnet_lrn_forward")
    kernel(x, x.shape[1], x.shape[2], size, alpha, beta, k, y, scale)
    return y, scale


def _backward_cupy(x, scale, gy, size, alpha, k, coef):
    cupy = get_array_module(x)
    _, C, L = x.shape
    t, gx = cupy.empty_like(x), cupy.empty_like(x)
    t_kernel = elementwise("raw T x, T gy, T scale, int32 C, int32 L, int32 n, T alpha, T k",
                           "T t", _T_SRC, "scratchnet_lrn_backward_t")
    gx_kernel = elementwise("raw T t, T gy, T x, T scale, int32 C, int32 L, int32 n, T coef",
                            "T gx", _GX_SRC, "scratchnet_lrn_backward_gx")
    t_kernel(x, gy, scale, C, L, size, alpha, k, t)
    gx_kernel(t, gy, x, scale, C, L, size, coef, gx)
    return gx
