"""One training step of a models.py case, op by op: sn.profiler beside torch.profiler.

    python benchmarks/profile_step.py lenet5
    python benchmarks/profile_step.py resnet18 --threads 1 --rows 25

MODEL is the start of a models.py case name (``mlp``, ``lenet5``, ``resnet18`` (batch 128,
32x32), ``alexnet``, ...). Each framework runs in a process of its own (frameworks sharing a
process slow each other: benchmarks/README.md): ``--warmup`` untimed steps (Numba's
compilation, first-touch allocations), the median step time of ``--repeat`` more, then one
step under its profiler, whose per-op table it prints (``key_averages().table()``, sorted
by self CPU time). scratchnet's rows are Functions (forward: the whole call, bookkeeping
included; ``...Backward``: the backward alone); the line under its table is the step's wall
time under the profiler and the part in no row (module code, the engine, the optimizer).
OpenBLAS overrides are unset (see _harness.py).
"""
import argparse
import os
import subprocess
import sys
import time

import _harness

_harness.reexec_clean()       # before NumPy is imported: see _harness.py

import models  # noqa: E402


def _case(model):
    for case in models.CASES:
        if case.name.startswith(model + " "):
            return case
    names = ", ".join(sorted({c.name.split()[0] for c in models.CASES}))
    raise SystemExit(f"profile_step.py: no models.py case for {model!r}; known: {names}")


def _child(args):
    case = _case(args.model)
    if args.framework == "scratchnet":
        import scratchnet as sn
        profile = sn.profiler.profile
    else:
        import torch
        profile = torch.profiler.profile
    _harness.set_threads(args.threads)
    step = case.make(args.framework)["step"]
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    with profile() as prof:
        step()
    print(f"== {args.framework}: {case.name}, {args.threads} threads, step "
          f"{sorted(times)[len(times) // 2] * 1e3:.1f} ms (median of {args.repeat})\n"
          f"BLAS: {_harness.blas_line()}")
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if args.framework == "scratchnet":
        rows = sum(e.self_cpu_time_total for e in averages)
        print(f"step under the profiler: {prof.wall_time / 1e3:.3f}ms wall, of which "
              f"{(prof.wall_time - rows) / 1e3:.3f}ms in no row (modules, engine, optimizer)")
    print(flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", metavar="MODEL", help="start of a models.py case name, e.g. lenet5")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--repeat", type=int, default=5, help="timed steps (median printed)")
    p.add_argument("--rows", type=int, default=15, help="rows per table")
    p.add_argument("--framework", choices=_harness.FRAMEWORKS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.framework:
        _child(args)
        return
    _case(args.model)
    for framework in _harness.FRAMEWORKS:
        subprocess.run([sys.executable, sys.argv[0], *sys.argv[1:], "--framework", framework],
                       check=True)


if __name__ == "__main__":
    main()
