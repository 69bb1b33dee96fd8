"""Normalization benchmark: local response norm and batch norm, scratchnet vs torch (float32).

    python benchmarks/norm.py                  # every case, all cores, median of 7
    python benchmarks/norm.py --only LRN --repeat 5

LRN at AlexNet's sizes (conv1 and conv2 outputs, the paper's k=2, n=5, alpha=1e-4, beta=0.75
in torch's convention: alpha=5e-4) and batch norm (nn.BatchNorm2d in training mode, so the
running statistics are updated too; and in eval mode) at ResNet's. "fwd" is a forward under
no_grad, "fwd+bwd" a forward then the backward of a fixed random upstream gradient. Prints
both frameworks' times, their ratio (scratchnet / torch, lower is better) and peak RSS per
framework, each in its own process (in parentheses: above the RSS right after the imports).
Targets from issue 5: LRN fwd+bwd at most 0.5 (twice as fast as torch), batch norm at most 1.5.
"""
import _harness

_harness.reexec_clean()       # before NumPy is imported: see _harness.py

import numpy as np  # noqa: E402

from _harness import Case  # noqa: E402

LRN = [(32, 96, 55, 55), (32, 256, 27, 27)]          # AlexNet conv1, conv2 outputs
BN = [(32, 64, 112, 112), (32, 64, 56, 56), (32, 256, 56, 56), (32, 512, 7, 7)]  # ResNet-50


def _phases(framework, make_layer, shape, train=True):
    """{"fwd", "fwd+bwd"} for ``make_layer(nn)`` on a random input of ``shape``."""
    rng = np.random.default_rng(0)
    x, gy = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    if framework == "scratchnet":
        import scratchnet as lib
        nn, no_grad = lib.nn, lib.no_grad
    else:
        import torch as lib
        nn, no_grad = lib.nn, lib.no_grad
    layer = make_layer(nn).train(train)
    leaf, upstream = lib.tensor(x, requires_grad=True), lib.tensor(gy)

    def fwd():
        with no_grad():
            layer(leaf)

    def fwd_bwd():
        leaf.grad = None
        layer(leaf).backward(upstream)
    return {"fwd": fwd, "fwd+bwd": fwd_bwd} if train else {"fwd": fwd}


def lrn_case(shape):
    return Case(f"LRN(5, 5e-4, 0.75, 2) {shape}", lambda fw: _phases(
        fw, lambda nn: nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0), shape))


def bn_case(shape, train):
    mode = "train" if train else "eval"
    return Case(f"BatchNorm2d {mode} {shape}", lambda fw: _phases(
        fw, lambda nn: nn.BatchNorm2d(shape[1]), shape, train))


CASES = ([lrn_case(s) for s in LRN] + [bn_case(s, True) for s in BN]
         + [bn_case(BN[1], False)])


def preamble(args):
    import numba
    import torch
    return [f"threads={args.threads}  repeat={args.repeat}  warmup={args.warmup}  "
            f"numpy {np.__version__}  numba {numba.__version__}  torch {torch.__version__}",
            f"BLAS: {_harness.blas_line()}"]


if __name__ == "__main__":
    _harness.main(CASES, "LRN and batch norm: scratchnet vs torch", preamble)
