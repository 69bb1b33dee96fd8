"""Winograd F(2×2, 3×3): stride-1 3×3 convolutions with 16 multiplications per 2×2 outputs
instead of 36, on the CPU (NumPy arrays only; kernels/conv.py calls it and keeps im2col as the
reference, the fallback and the GPU path).

Notation: im2col.py. The output is cut into 2×2 tiles, TH = ⌈OH/2⌉ by TW = ⌈OW/2⌉ of them;
tile (th, tw) reads the 4×4 input patch d at rows 2·th − PH .. +3, columns 2·tw − PW .. +3
(zeros outside the input, so padding and out_size larger than the symmetric size cost
nothing special; outputs past OH or OW are cropped). With the matrices of Lavin & Gray (2016)

    Bᵀ = [1  0 -1  0]     G = [ 1    0    0 ]     Aᵀ = [1  1  1  0]
         [0  1  1  0]         [1/2  1/2  1/2]          [0  1 -1 -1]
         [0 -1  1  0]         [1/2 -1/2  1/2]
         [0  1  0 -1]         [ 0    0    1 ]

every tile is y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Summed over input channels, the 16 entries ξ of
the 4×4 transforms are 16 independent matrix products, which is where the time goes:

    U[ξ] = (G W[o, c] Gᵀ)[ξ]                   (16, O, C)   once per call
    V[ξ] = (Bᵀ d[c, t] B)[ξ]                   (16, C, T)   a block of T tiles
    M[ξ] = U[ξ] · V[ξ]                         (16, O, T)   one batched matmul
    y[o, t] = Aᵀ M[:, o, t] A                   2×2 per tile

Backward (this is a linear map of x and of W):

    input grad:  gx = the same kind of convolution of gy, with the kernel flipped and its
                 channel axes swapped, W'[c, o] = W[o, c, ::-1, ::-1], and padding 2 − P
                 (gx[i] = Σ_k gy[i − k + P] W[k]); out_size = (H, W).
    weight grad: Z[ξ] = (A gy[o, t] Aᵀ)[ξ]     (16, O, T)   gy's 2×2 tile spread to 4×4
                 S[ξ] = Σ_{n, t} Z[ξ] · V[ξ]ᵀ   (16, O, C)   batched matmuls, summed
                 gW[o, c] = Gᵀ S[:, o, c] G     3×3

Every transform uses only 0, ±1 and ±1/2, so integer-valued inputs give exact results (the
conv tests compare bit for bit with the im2col references). In float32 the extra additions
of the transforms cost a little accuracy against im2col (benchmarks/README.md).

Work is cut into blocks of T tiles (a band of tile rows of one sample, or several whole
samples for small maps) whose V and M fit ``BLOCK_BYTES`` (but at least ``MIN_BLOCK_TILES``
tiles), so that the transforms and the matmul meet in cache; blocks go to scratchnet's
workers (threads.parallel_for), each with its own buffers and single-threaded BLAS. The
weight gradient's partial sums S are per worker, added in worker order (the same bits on
every run with the same workers).
"""
import numba
import numpy as np

from . import threads, workspace

# A block of T tiles: V and M (16·(C + O)·T entries) in at most BLOCK_BYTES, unless that is
# fewer than MIN_BLOCK_TILES tiles: the 16 products (O, C) · (C, T) then read U[ξ] (O·C
# entries) for too little work each (512 channels on a 7×7 map: 4 MB blocks of 64 tiles took
# 1.3x the time of 256 tiles, benchmarks/README.md).
BLOCK_BYTES = 4 << 20
MIN_BLOCK_TILES = 256


def winograd_forward(x, weight, bias, padding, out_size):
    """x (N, C, H, W), W (O, C, 3, 3), b (O,) or None -> y (N, O, OH, OW): a stride-1 3×3
    convolution with padding (PH, PW) before the input and output size ``out_size``."""
    return _forward(x, _transformed_weight(weight, x.dtype, flip=False), bias, padding,
                    out_size)


def winograd_input_grad(gy, weight, input_shape, padding):
    """gy (N, O, OH, OW), W (O, C, 3, 3) -> gx of ``input_shape`` (N, C, H, W): the forward
    of gy with W[o, c, ::-1, ::-1] as a (C, O, 3, 3) kernel and padding 2 − P (PH, PW <= 2)."""
    return _forward(gy, _transformed_weight(weight, gy.dtype, flip=True), None,
                    (2 - padding[0], 2 - padding[1]), input_shape[2:])


def _forward(x, u, bias, padding, out_size):
    """x (N, C, H, W), U (16, O, C) -> y (N, O, OH, OW) = Aᵀ [U · V] A (+ b)."""
    N, C = x.shape[:2]
    O = u.shape[1]
    OH, OW = out_size
    y = np.empty((N, O, OH, OW), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else bias.astype(x.dtype, copy=False)
    blocks, workers = _blocks(x.shape, O, out_size, x.dtype)

    def work(block, worker):
        s, rows = block
        v = _transformed_input(x, s, rows, padding, out_size, worker)
        m = workspace.buffer(f"wino_m{worker}", (16, O, v.shape[2]), x.dtype, np)
        np.matmul(u, v, out=m)
        _output_tiles(m, y[s], rows.start, rows.stop, b)
    threads.parallel_for(blocks, work, workers)
    return y


def winograd_weight_grad(x, gy, weight_shape, padding):
    """x (N, C, H, W), gy (N, O, OH, OW) -> gW (O, C, 3, 3) = Gᵀ [Σ_{n,t} Z ⊙ V] G."""
    O, C = weight_shape[:2]
    blocks, workers = _blocks(x.shape, O, gy.shape[2:], x.dtype)
    if not blocks:
        return np.zeros(weight_shape, x.dtype)
    # worker 0 sums S into parts[0] itself, the others into buffers added to it at the end
    parts = [np.zeros((16, O, C), x.dtype)] + [
        workspace.buffer(f"wino_s{w}", (16, O, C), x.dtype, np) for w in range(1, workers)]
    started = [False] * workers

    def work(block, worker):
        s, rows = block
        v = _transformed_input(x, s, rows, padding, gy.shape[2:], worker)
        z = workspace.buffer(f"wino_m{worker}", (16, O, v.shape[2]), x.dtype, np)
        _spread_tiles(gy[s], z, rows.start, rows.stop)
        if started[worker]:
            product = workspace.buffer(f"wino_p{worker}", (16, O, C), x.dtype, np)
            np.matmul(z, v.transpose(0, 2, 1), out=product)        # (16, O, T) @ (16, T, C)
            parts[worker] += product
        else:
            np.matmul(z, v.transpose(0, 2, 1), out=parts[worker])
            started[worker] = True
    threads.parallel_for(blocks, work, workers)
    total = parts[0]
    for part, used in zip(parts[1:], started[1:]):                  # in worker order
        if used:
            total += part
    gw = np.empty(weight_shape, x.dtype)
    threads.parallel_range(O, lambda start, stop: _weight_back(total, gw, start, stop),
                           16 * 9 * O * C)
    return gw


def _transformed_weight(weight, dtype, flip):
    """U (16, O, C) of W (O, C, 3, 3), or with ``flip`` U (16, C, O) of the input gradient's
    kernel W[o, c, ::-1, ::-1] seen as (C, O, 3, 3)."""
    O, C = weight.shape[:2]
    P, Q = (C, O) if flip else (O, C)
    u = np.empty((16, P, Q), dtype)
    weight = np.ascontiguousarray(weight)
    threads.parallel_range(P, lambda start, stop: _weight_tiles(weight, u, start, stop, flip),
                           16 * 9 * O * C)
    return u


def _blocks(x_shape, O, out_size, dtype):
    """([(sample slice, tile-row slice)], workers): bands of tile rows of one sample when a
    sample has more tiles than a block holds, else groups of whole samples, as many blocks
    as a multiple of the workers."""
    N, C = x_shape[:2]
    TH, TW = (out_size[0] + 1) // 2, (out_size[1] + 1) // 2
    per_tile = 16 * (C + O) * np.dtype(dtype).itemsize
    fit = max(1, BLOCK_BYTES // per_tile, MIN_BLOCK_TILES)         # tiles per block
    workers = threads.workers_for(N, 16 * N * O * C * TH * TW, threads.GEMM_GRAIN)
    if TH * TW == 0 or N == 0:
        return [], 1
    if TH * TW > fit:
        count = -(-TH // max(1, fit // TW))                         # bands of equal size
        rows = -(-TH // count)
        bands = [slice(r, min(r + rows, TH)) for r in range(0, TH, rows)]
        return [(slice(n, n + 1), band) for n in range(N) for band in bands], workers
    chunks = -(-N // max(1, fit // (TH * TW)))                    # blocks that fit ...
    chunks = -(-chunks // workers) * workers                       # ... a multiple of W
    per_block = -(-N // chunks)
    blocks = [(slice(n, min(n + per_block, N)), slice(0, TH)) for n in range(0, N, per_block)]
    return blocks, max(1, min(workers, len(blocks)))


def _transformed_input(x, s, rows, padding, out_size, worker):
    """V (16, C, T) of samples s and tile rows ``rows`` (T = n · rows · TW, sample-major)."""
    n, C = s.stop - s.start, x.shape[1]
    TW = (out_size[1] + 1) // 2
    v = workspace.buffer(f"wino_v{worker}", (16, C, n * (rows.stop - rows.start) * TW),
                         x.dtype, np)
    _input_tiles(x[s], v, rows.start, rows.stop, TW, padding[0], padding[1])
    return v


@numba.njit(cache=True, nogil=True)
def _weight_tiles(w, u, p0, p1, flip):
    """u[ξ, p, q] = (G g Gᵀ)[ξ] with g = w[p, q], or with ``flip`` g = w[q, p, ::-1, ::-1],
    for p in [p0, p1); in float64, rounded once."""
    g = np.empty((3, 3))
    t = np.empty((4, 3))                            # G g
    for p in range(p0, p1):
        for q in range(u.shape[2]):
            for a in range(3):
                for b in range(3):
                    g[a, b] = w[q, p, 2 - a, 2 - b] if flip else w[p, q, a, b]
            for b in range(3):
                t[0, b], t[3, b] = g[0, b], g[2, b]
                t[1, b] = (g[0, b] + g[1, b] + g[2, b]) * 0.5
                t[2, b] = (g[0, b] - g[1, b] + g[2, b]) * 0.5
            for i in range(4):                      # (G g) Gᵀ
                u[4 * i, p, q], u[4 * i + 3, p, q] = t[i, 0], t[i, 2]
                u[4 * i + 1, p, q] = (t[i, 0] + t[i, 1] + t[i, 2]) * 0.5
                u[4 * i + 2, p, q] = (t[i, 0] - t[i, 1] + t[i, 2]) * 0.5


@numba.njit(cache=True, nogil=True)
def _weight_back(s, gw, o0, o1):
    """gw[o, c] = Gᵀ S G for the 4×4 S = s[:, o, c], o in [o0, o1); in float64."""
    S = np.empty((4, 4))
    t = np.empty((3, 4))                            # Gᵀ S
    for o in range(o0, o1):
        for c in range(gw.shape[1]):
            for k in range(16):
                S[k // 4, k % 4] = s[k, o, c]
            for j in range(4):
                half = (S[1, j] + S[2, j]) * 0.5
                t[0, j], t[1, j], t[2, j] = S[0, j] + half, (S[1, j] - S[2, j]) * 0.5, \
                    half + S[3, j]
            for a in range(3):
                half = (t[a, 1] + t[a, 2]) * 0.5
                gw[o, c, a, 0] = t[a, 0] + half
                gw[o, c, a, 1] = (t[a, 1] - t[a, 2]) * 0.5
                gw[o, c, a, 2] = half + t[a, 3]


@numba.njit(cache=True, nogil=True)
def _input_tiles(x, v, t0, t1, TW, PH, PW):
    """v[ξ, c, t] = (Bᵀ d B)[ξ] for the 4×4 patch d of channel c read by tile t, the tiles of
    rows t0 .. t1 − 1 of each of x's samples in turn (zeros outside x). Bᵀ combines the
    patch rows of a whole tile row at once (padded copies of the 4 input rows, contiguous
    loops), then B the columns, tile by tile."""
    N, C, H, W = x.shape
    L = 2 * TW + 2                                  # padded row: column q at q + PW
    width = min(W, L - PW)
    rows = np.zeros((4, L), x.dtype)
    t = np.empty((4, L), x.dtype)
    for c in range(C):
        for n in range(N):
            img = x[n, c]
            for th in range(t0, t1):
                col = (n * (t1 - t0) + th - t0) * TW
                for i in range(4):
                    r = 2 * th - PH + i
                    if 0 <= r < H:
                        rows[i, PW:PW + width] = img[r, :width]
                    else:
                        rows[i, PW:PW + width] = 0
                for q in range(L):                  # Bᵀ d
                    a0, a1, a2, a3 = rows[0, q], rows[1, q], rows[2, q], rows[3, q]
                    t[0, q], t[1, q], t[2, q], t[3, q] = a0 - a2, a1 + a2, a2 - a1, a1 - a3
                for i in range(4):                  # (Bᵀ d) B
                    out0, out1 = v[4 * i, c, col:col + TW], v[4 * i + 1, c, col:col + TW]
                    out2, out3 = v[4 * i + 2, c, col:col + TW], v[4 * i + 3, c, col:col + TW]
                    for k in range(TW):
                        a0, a1, a2, a3 = t[i, 2 * k], t[i, 2 * k + 1], t[i, 2 * k + 2], \
                            t[i, 2 * k + 3]
                        out0[k], out1[k], out2[k], out3[k] = a0 - a2, a1 + a2, a2 - a1, a1 - a3


@numba.njit(cache=True, nogil=True)
def _output_tiles(m, y, t0, t1, b):
    """y[n, o, 2·th + a, 2·tw + b] = (Aᵀ m[:, o, t] A)[a, b] + b[o] (b is zeros without a
    bias) for the tiles t of rows t0 .. t1 − 1 of y's samples, cropped at OH and OW. Aᵀ
    first, over all T tiles of one output channel at once (long contiguous loops), then A
    row by row."""
    N, O, OH, OW = y.shape
    TW = (OW + 1) // 2
    R, T = t1 - t0, m.shape[2]
    r = np.empty((8, T), m.dtype)                   # (Aᵀ m)[a, j] in row 4·a + j
    pairs = OW // 2                                 # tiles with both output columns inside
    for o in range(O):
        for j in range(4):
            m0, m1, m2, m3 = m[j, o], m[4 + j, o], m[8 + j, o], m[12 + j, o]
            r0, r1 = r[j], r[4 + j]
            for t in range(T):
                r0[t] = m0[t] + m1[t] + m2[t]
                r1[t] = m1[t] - m2[t] - m3[t]
        bias = b[o]
        for n in range(N):
            for th in range(t0, t1):
                s = (n * R + th - t0) * TW
                for a in range(2):
                    if 2 * th + a >= OH:
                        continue
                    out = y[n, o, 2 * th + a]
                    q0, q1 = r[4 * a, s:s + TW], r[4 * a + 1, s:s + TW]
                    q2, q3 = r[4 * a + 2, s:s + TW], r[4 * a + 3, s:s + TW]
                    for k in range(pairs):
                        out[2 * k] = q0[k] + q1[k] + q2[k] + bias
                        out[2 * k + 1] = q1[k] - q2[k] - q3[k] + bias
                    if OW % 2:
                        out[OW - 1] = q0[pairs] + q1[pairs] + q2[pairs] + bias


@numba.njit(cache=True, nogil=True)
def _spread_tiles(gy, z, t0, t1):
    """z[ξ, o, t] = (A g Aᵀ)[ξ] for gy's 2×2 tile g (zeros past OH, OW) of tile t, the tiles
    of rows t0 .. t1 − 1 of gy's samples in turn; A = [[1, 0], [1, 1], [1, −1], [0, −1]]."""
    N, O, OH, OW = gy.shape
    TW = (OW + 1) // 2
    g = np.zeros((2, 2 * TW), gy.dtype)             # the tile row's 2 rows, padded
    e = np.empty((4, 2 * TW), gy.dtype)             # A g
    for o in range(O):
        for n in range(N):
            for th in range(t0, t1):
                col = (n * (t1 - t0) + th - t0) * TW
                g[0, :OW] = gy[n, o, 2 * th]
                if 2 * th + 1 < OH:
                    g[1, :OW] = gy[n, o, 2 * th + 1]
                else:
                    g[1, :OW] = 0
                for q in range(2 * TW):
                    a, c = g[0, q], g[1, q]
                    e[0, q], e[1, q], e[2, q], e[3, q] = a, a + c, a - c, -c
                for i in range(4):
                    out0, out1 = z[4 * i, o, col:col + TW], z[4 * i + 1, o, col:col + TW]
                    out2, out3 = z[4 * i + 2, o, col:col + TW], z[4 * i + 3, o, col:col + TW]
                    for k in range(TW):
                        a, c = e[i, 2 * k], e[i, 2 * k + 1]
                        out0[k], out1[k], out2[k], out3[k] = a, a + c, a - c, -c
