"""Op benchmark: conv2d and max_pool2d, scratchnet vs torch on the CPU (float32).

    python benchmarks/ops.py                   # every case, all cores, median of 7
    python benchmarks/ops.py --only conv --repeat 5

Prints forward and forward+backward times of both frameworks, their ratio (scratchnet /
torch, lower is better), GFLOP/s for convs (2·MACs per forward, 3× that for forward+backward:
the input- and weight-gradient GEMMs are each as large as the forward's), and peak RSS per
framework (each in its own process; in parentheses the part above the RSS after the
imports). The first row is plain SGEMM, the ceiling of an im2col convolution (sn.matmul:
NumPy's BLAS on scratchnet's workers).
"""
import _harness

_harness.reexec_clean()       # before NumPy is imported: see _harness.py

import numpy as np  # noqa: E402

from _harness import Case  # noqa: E402

CONVS = [  # (N, C, H, W), O, kernel, stride, padding, groups
    ((32, 64, 56, 56), 64, 3, 1, 1, 1),
    ((32, 3, 224, 224), 64, 7, 2, 3, 1),
    ((32, 3, 227, 227), 96, 11, 4, 0, 1),
    ((32, 96, 27, 27), 256, 5, 1, 2, 2),
    ((16, 256, 14, 14), 256, 3, 1, 1, 1),
    ((32, 256, 56, 56), 64, 1, 1, 0, 1),
    ((256, 1, 32, 32), 6, 5, 1, 0, 1),      # LeNet-5's two layers (conv_direct.py)
    ((256, 6, 14, 14), 16, 5, 1, 0, 1),
]
POOLS = [  # (N, C, H, W), kernel, stride
    ((32, 96, 55, 55), 3, 2),
    ((32, 64, 112, 112), 2, 2),
]
GEMM = 2048


def _arrays(*shapes):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _phases(framework, fn, arrays, out_shape):
    """{"fwd": no-grad forward, "fwd+bwd": forward, then backward of a fixed random gy}."""
    gy, = _arrays(out_shape)
    if framework == "scratchnet":
        import scratchnet as sn
        leaves = [sn.tensor(a, requires_grad=True) for a in arrays]
        upstream = sn.tensor(gy)

        def fwd():
            with sn.no_grad():
                fn(*leaves)
    else:
        import torch
        leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        upstream = torch.tensor(gy)

        def fwd():
            with torch.no_grad():
                fn(*leaves)

    def fwd_bwd():
        for t in leaves:
            t.grad = None
        fn(*leaves).backward(upstream)
    return {"fwd": fwd, "fwd+bwd": fwd_bwd}


def _functional(framework):
    if framework == "scratchnet":
        import scratchnet.functional as F
    else:
        import torch.nn.functional as F
    return F


def conv_case(x_shape, out_channels, k, stride, padding, groups):
    N, C, H, W = x_shape
    OH, OW = ((n + 2 * padding - k) // stride + 1 for n in (H, W))
    w_shape = (out_channels, C // groups, k, k)
    macs = N * out_channels * OH * OW * (C // groups) * k * k

    def make(framework):
        F = _functional(framework)
        x, w, b = _arrays(x_shape, w_shape, (out_channels,))
        w *= 1 / np.sqrt(w[0].size)
        return _phases(framework, lambda x, w, b: F.conv2d(x, w, b, stride, padding, 1, groups),
                       [x, w, b], (N, out_channels, OH, OW))
    name = (f"conv {x_shape}->{out_channels} {k}x{k} s{stride} p{padding}"
            + (f" g{groups}" if groups > 1 else ""))
    return Case(name, make, {"fwd": 2 * macs, "fwd+bwd": 6 * macs})


def pool_case(x_shape, k, stride):
    N, C, H, W = x_shape
    out = (N, C) + tuple((n - k) // stride + 1 for n in (H, W))

    def make(framework):
        F = _functional(framework)
        return _phases(framework, lambda x: F.max_pool2d(x, k, stride), _arrays(x_shape), out)
    return Case(f"max_pool {k}x{k} s{stride} {x_shape}", make)


def gemm_case(n):
    """Plain float32 GEMM: sn.matmul (NumPy's BLAS, one single-threaded call per worker,
    kernels/threads.py) vs torch.mm."""
    def make(framework):
        a, b = _arrays((n, n), (n, n))
        if framework == "torch":
            import torch
            a, b = torch.tensor(a), torch.tensor(b)
            return {"fwd": lambda: torch.mm(a, b)}
        import scratchnet as sn
        a, b = sn.tensor(a), sn.tensor(b)

        def fwd():
            with sn.no_grad():
                sn.matmul(a, b)
        return {"fwd": fwd}
    return Case(f"sgemm {n}^3 (sn.matmul vs torch.mm)", make, {"fwd": 2 * n ** 3})


CASES = ([gemm_case(GEMM)] + [conv_case(*c) for c in CONVS] + [pool_case(*p) for p in POOLS])


def preamble(args):
    import os
    return [f"BLAS: {_harness.blas_line()}",
            f"threads: {args.threads} of {os.cpu_count()} cores; float32; median of "
            f"{args.repeat} after {args.warmup} warm-up calls; frameworks alternate each round",
            f"OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this run: "
            f"{not any(k in os.environ for k in _harness.BLAS_OVERRIDES)}",
            ""]


if __name__ == "__main__":
    _harness.main(CASES, __doc__.splitlines()[0], preamble)
