"""The price of a second derivative: resnet20's loss and gradient, then its loss, gradient
and a Hessian-vector product (autograd.grad twice, create_graph=True), in scratchnet and in
torch (the same computation written with torch's functional ops, when torch is installed).

    python benchmarks/hvp.py [--batch 8] [--repeat 5] [--threads N]

Prints the median time of each; float32, 3x32x32 inputs, batch norm in training mode.
"""
import argparse
import os
import sys
import time

from _harness import reexec_clean, set_threads

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402


def _median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[len(times) // 2]


def cases(batch):
    rng = np.random.default_rng(0)
    sn.manual_seed(0)
    model = sn.models.resnet20().train()
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    params = list(model.parameters())
    v = [rng.standard_normal(p.shape).astype(np.float32) for p in params]

    def ours(second):
        loss = F.cross_entropy(model(sn.tensor(x)), sn.tensor(labels))
        g = sn.autograd.grad(loss, params, create_graph=second)
        if second:
            sn.autograd.grad(sum((a * sn.tensor(b)).sum() for a, b in zip(g, v)), params)

    yield "scratchnet", ours
    try:
        import torch
    except ImportError:
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "tests"))
    from test_higher_order import _torch_resnet20

    names = [n for n, _ in model.named_parameters()]
    theirs = {n: torch.tensor(p.data.copy(), requires_grad=True) for n, p in zip(names, params)}

    def torch_case(second):
        out = _torch_resnet20(theirs, torch.tensor(x))
        loss = torch.nn.functional.cross_entropy(out, torch.tensor(labels))
        g = torch.autograd.grad(loss, list(theirs.values()), create_graph=second)
        if second:
            torch.autograd.grad(sum((a * torch.tensor(b)).sum() for a, b in zip(g, v)),
                                list(theirs.values()))

    yield "torch", torch_case


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    print(f"resnet20, batch {args.batch}, 3x32x32, float32, {args.threads} threads, "
          f"median of {args.repeat}")
    for name, run in cases(args.batch):
        set_threads(args.threads)
        first = _median_ms(lambda run=run: run(False), args.repeat)
        second = _median_ms(lambda run=run: run(True), args.repeat)
        print(f"{name:>10}: loss + gradient {first:7.0f} ms   + Hessian-vector product "
              f"{second:7.0f} ms   ({second / first:.1f}x)")


if __name__ == "__main__":
    main()
