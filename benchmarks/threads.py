"""Threads: every op and model step of the benchmarks at 1 thread and at all threads.

    python benchmarks/threads.py                        # every case (about 25 minutes)
    python benchmarks/threads.py --only mlp lenet5 conv --repeat 7

Takes the cases of ops.py, norm.py and models.py and times each one for scratchnet and for
torch, at 1 thread and at ``--threads`` (default: all cores), each (framework, thread count)
in a fresh process of its own: frameworks or thread pools sharing a process slow each other.
Prints the median times, the ratio N threads / 1 thread per framework (below 1: the threads
pay; above 1: they cost), and scratchnet / torch at N threads. Other options as the other
benchmarks (``--repeat``, ``--warmup``); OpenBLAS overrides are unset (see _harness.py).
"""
import argparse
import json
import os
import subprocess
import sys

import _harness

_harness.reexec_clean()       # before NumPy is imported: see _harness.py

import models  # noqa: E402
import norm  # noqa: E402
import ops  # noqa: E402

CASES = {case.name: case for case in ops.CASES + norm.CASES + models.CASES}


def _child(args):
    """Time one case for one framework at one thread count; print its medians."""
    if args.framework == "scratchnet":
        import scratchnet  # noqa: F401
    else:
        import torch  # noqa: F401
    _harness.set_threads(args.threads)
    result = _harness.time_case(CASES[args.case], args.repeat, args.warmup,
                                frameworks=(args.framework,))
    print("RESULT " + json.dumps({k.split("|")[1]: v for k, v in result.items()}))


def _spawn(args, name, framework, threads):
    cmd = [sys.executable, sys.argv[0], "--case", name, "--framework", framework, "--threads",
           str(threads), "--repeat", str(args.repeat), "--warmup", str(args.warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"{name} ({framework}, {threads} threads) failed:\n"
                           f"{out.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    parser = _harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--framework", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _child(args)
        return
    n = args.threads
    print(f"BLAS: {_harness.blas_line()}")
    print(f"1 and {n} threads of {os.cpu_count()} cores; median of {args.repeat} after "
          f"{args.warmup} warm-up calls; each framework and thread count in its own process")
    header = ["case", "phase", "sn 1T ms", f"sn {n}T ms", f"{n}T/1T", "torch 1T", f"torch {n}T",
              f"{n}T/1T", f"sn/torch {n}T"]
    widths = [44, 8, 9, 9, 6, 9, 9, 6, 11]
    print(_harness.row(header, widths))
    for name in CASES:
        if args.only and not any(s in name for s in args.only):
            continue
        t = {(fw, k): _spawn(args, name, fw, k) for fw in _harness.FRAMEWORKS for k in (1, n)}
        for phase in t[("scratchnet", 1)]:
            sn1, snn = t[("scratchnet", 1)][phase], t[("scratchnet", n)][phase]
            th1, thn = t[("torch", 1)][phase], t[("torch", n)][phase]
            print(_harness.row([name, phase, f"{sn1 * 1e3:.1f}", f"{snn * 1e3:.1f}",
                                f"{snn / sn1:.2f}", f"{th1 * 1e3:.1f}", f"{thn * 1e3:.1f}",
                                f"{thn / th1:.2f}", f"{snn / thn:.2f}"], widths), flush=True)


if __name__ == "__main__":
    main()
