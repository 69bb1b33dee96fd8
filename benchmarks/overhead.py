"""Per-op overhead: chains of 100 ops on 16-element tensors, scratchnet vs torch.

    python benchmarks/overhead.py
    python benchmarks/overhead.py --only relu matmul --repeat 21

At 16 elements the arithmetic is nothing: what is timed is each framework's cost of calling
an op (checks, wrapping, recording the graph) and of backpropagating through it. Each case
is a chain of 100 ops from a leaf of 16 float32 elements that requires grad:

    add      y = y + c           mul      y = y * c           relu     y = relu(y)
    matmul   y = y @ w  (4x4)    sum      y = y.sum(0, keepdim=True)  (16, then 1 element)

"fwd" builds the chain (graph recorded), "fwd+bwd" builds it and backpropagates from
``y.sum()``; divide the times by 100 for the cost of one op. One thread (the default here:
threads add nothing at this size). Other options as the other benchmarks (_harness.py).
"""
import sys

from _harness import Case, blas_line, main, reexec_clean

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

LENGTH = 100


def _chains(framework):
    """{name: (leaf shape, step(y, constant) -> next y)} in ``framework``'s own API."""
    if framework == "scratchnet":
        import scratchnet as lib
        relu = lib.relu
    else:
        import torch as lib
        relu = lib.relu
    return lib, {
        "add": ((16,), lambda y, c: y + c),
        "mul": ((16,), lambda y, c: y * c),
        "relu": ((16,), lambda y, c: relu(y)),
        "matmul": ((4, 4), lambda y, c: y @ c),
        "sum": ((16,), lambda y, c: y.sum(0, keepdim=True)),
    }


def _case(name):
    def make(framework):
        import numpy as np
        lib, chains = _chains(framework)
        shape, step = chains[name]
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        # constants near 1 (and the identity plus a little) keep 100 steps finite
        c = lib.tensor((np.eye(4) + 0.01 * rng.standard_normal((4, 4))).astype(np.float32)
                       if name == "matmul" else np.float32(1.001) * np.ones(shape, np.float32))

        def forward():
            y = x
            for _ in range(LENGTH):
                y = step(y, c)
            return y

        def forward_backward():
            x.grad = None
            forward().sum().backward()
        return {"fwd": forward, "fwd+bwd": forward_backward}
    return Case(f"{LENGTH} x {name} on 16 elements", make)


CASES = [_case(name) for name in ("add", "mul", "relu", "matmul", "sum")]


def _preamble(args):
    return [f"chains of {LENGTH} ops from a 16-element float32 leaf; ms per chain "
            f"(/{LENGTH} = ms per op), {args.threads} threads, median of {args.repeat} after "
            f"{args.warmup} warm-up", f"BLAS: {blas_line()}", f"python {sys.version.split()[0]}"]


if __name__ == "__main__":
    sys.argv[1:1] = [] if "--threads" in sys.argv else ["--threads", "1"]
    main(CASES, "scratchnet vs torch: per-op overhead on tiny tensors", _preamble)
