"""Shared benchmark harness: scratchnet vs torch on the CPU, same shapes, same threads.

A benchmark script defines ``Case``s and calls ``main(cases)``. Each case's ``make(framework)``
builds its inputs for "scratchnet" or "torch" and returns ``{phase: zero-arg callable}`` (e.g.
"fwd", "fwd+bwd"); ``flops`` optionally gives floating-point operations per phase for GFLOP/s.

What ``main`` does, and why:
- Re-executes the script without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (``reexec_clean`` must
  run before NumPy is imported): this machine sets them and they halve NumPy's SGEMM.
  Only the benchmark's own process tree is affected; tests and CI never do this.
- Runs every case in fresh processes: one that times both frameworks, alternating which goes
  first in every round so background noise hits both alike (median of ``--repeat`` rounds
  after ``--warmup`` untimed calls, which also keep Numba compilation out of the figures),
  and one per framework that measures peak RSS (``ru_maxrss``) with only that framework
  imported, also reported above the RSS right after the imports.
- ``--processes N`` (models.py's default: 3) times each framework alone instead: N processes
  per framework, started alternately, each importing only its own framework and reporting the
  median of its rounds and its peak RSS. Training steps must be timed this way: two
  frameworks in one process slow each other (the idle BLAS threads of one keep spinning into
  the other: torch's LeNet-5 step took 43.7 ms beside scratchnet and 24.4 ms alone). The table
  gives the median over the processes, their ratio, and its spread: the min-max of the
  ratios of the i-th process pairs.
- ``--clock cpu --threads 1`` times process CPU time: on a machine shared with other jobs
  that is far steadier than wall time (which counts the time others hold the cores).
- Pins the thread count of scratchnet (``sn.set_num_threads``: its workers, with BLAS on one
  thread inside each) and torch to ``--threads``, and prints the BLAS kernel threadpoolctl
  reports.

Run ``python benchmarks/ops.py --help`` for the options.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo
FRAMEWORKS = ("scratchnet", "torch")


def reexec_clean():
    """Restart this script without the BLAS overrides (call before importing NumPy)."""
    if any(k in os.environ for k in BLAS_OVERRIDES):
        if "numpy" in sys.modules:
            raise RuntimeError("reexec_clean() must run before numpy is imported")
        env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


@dataclass
class Case:
    name: str
    make: callable                      # make(framework) -> {phase: callable}
    flops: dict = field(default_factory=dict)   # phase -> floating-point operations


def set_threads(n):
    """Pin scratchnet (its workers, BLAS, Numba: sn.set_num_threads) and, if imported, torch
    to n threads; without scratchnet, BLAS and Numba directly."""
    if "scratchnet" in sys.modules:
        sys.modules["scratchnet"].set_num_threads(n)
    else:
        import threadpoolctl
        threadpoolctl.threadpool_limits(n)
        try:
            import numba
            numba.set_num_threads(n)
        except ImportError:
            pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def training_step(net, optimizer, loss_fn, x, y, then=lambda: None):
    """One SGD step of ``net`` on (x, y), either framework: zero_grad, loss, backward, step;
    returns ``then()``."""
    def step():
        optimizer.zero_grad()
        loss_fn(net(x), y).backward()
        optimizer.step()
        return then()
    return step


def blas_line():
    import numpy  # noqa: F401  (threadpoolctl only sees loaded libraries)
    import threadpoolctl
    parts = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
             f"threads={i.get('num_threads')}" for i in threadpoolctl.threadpool_info()
             if i.get("user_api") == "blas"]
    return "; ".join(parts) or "no BLAS found by threadpoolctl"


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def time_case(case, repeat, warmup, clock=time.perf_counter, frameworks=FRAMEWORKS):
    """Median seconds per (framework, phase), frameworks alternating within every round."""
    phases = {fw: case.make(fw) for fw in frameworks}
    times = {(fw, p): [] for fw in frameworks for p in phases[fw]}
    for fw in frameworks:
        for fn in phases[fw].values():
            for _ in range(warmup):
                fn()
    for r in range(repeat):
        order = frameworks if r % 2 == 0 else frameworks[::-1]
        for phase in phases[frameworks[0]]:
            for fw in order:
                start = clock()
                phases[fw][phase]()
                times[(fw, phase)].append(clock() - start)
    return {f"{fw}|{p}": sorted(t)[len(t) // 2] for (fw, p), t in times.items()}


def _memory_case(case, framework):
    """Peak RSS of one warm-up plus one timed call of every phase, this framework only."""
    base = rss_mb()
    for fn in case.make(framework).values():
        fn()
        fn()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak": peak, "above_imports": peak - base}


def _worker(cases, args):
    case = next(c for c in cases if c.name == args.case)
    if args.mode.startswith("alone-"):
        framework = args.mode[len("alone-"):]
        __import__(framework)
        set_threads(args.threads)
        base = rss_mb()
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        result = time_case(case, args.repeat, args.warmup, clock, frameworks=(framework,))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result.update(peak=peak, above_imports=peak - base)
        print("RESULT " + json.dumps(result))
        return
    if args.mode == "time":
        import torch  # noqa: F401
        import scratchnet  # noqa: F401
    elif args.mode == "scratchnet":
        import scratchnet  # noqa: F401
    else:
        import torch  # noqa: F401
    set_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    result = (time_case(case, args.repeat, args.warmup, clock) if args.mode == "time"
              else _memory_case(case, args.mode))
    print("RESULT " + json.dumps(result))


def _spawn(args, case, mode):
    cmd = [sys.executable, sys.argv[0], "--case", case.name, "--mode", mode,
           "--threads", str(args.threads), "--repeat", str(args.repeat),
           "--warmup", str(args.warmup), "--clock", args.clock]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"case {case.name} ({mode}) failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def row(cells, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                     for i, (c, w) in enumerate(zip(cells, widths)))


def report(cases, args, preamble=()):
    """Run each case in its own processes and print the ratio table."""
    header = ["case", "phase", "scratchnet ms", "torch ms",
              "ratio (min-max)" if args.processes else "ratio", "sn GFLOP/s",
              "torch GFLOP/s", "sn peak MB (+)", "torch peak MB (+)"]
    widths = [44, 8, 13, 9, 16 if args.processes else 6, 10, 13, 15, 17]
    for line in preamble:
        print(line)
    print(row(header, widths))
    for case in cases:
        if args.only and not any(s in case.name for s in args.only):
            continue
        if args.processes:
            _report_alone(case, args, widths)
            continue
        times = _spawn(args, case, "time")
        memory = {fw: _spawn(args, case, fw) for fw in FRAMEWORKS}
        mem = [f"{memory[fw]['peak']:.0f} (+{memory[fw]['above_imports']:.0f})"
               for fw in FRAMEWORKS]
        for phase in [k.split("|")[1] for k in times if k.startswith("scratchnet|")]:
            ours, theirs = times[f"scratchnet|{phase}"], times[f"torch|{phase}"]
            flops = case.flops.get(phase)
            rates = [f"{flops / t / 1e9:.0f}" if flops else "-" for t in (ours, theirs)]
            print(row([case.name, phase, _ms(ours), _ms(theirs),
                        f"{ours / theirs:.2f}", *rates, *mem], widths), flush=True)


def _report_alone(case, args, widths):
    """One framework per process, ``args.processes`` processes each, started alternately."""
    runs = {fw: [] for fw in FRAMEWORKS}
    for i in range(args.processes):
        for fw in (FRAMEWORKS if i % 2 == 0 else FRAMEWORKS[::-1]):
            runs[fw].append(_spawn(args, case, "alone-" + fw))
    mem = []
    for fw in FRAMEWORKS:
        peak = _median([r["peak"] for r in runs[fw]])
        above = _median([r["above_imports"] for r in runs[fw]])
        mem.append(f"{peak:.0f} (+{above:.0f})")
    for phase in [k.split("|")[1] for k in runs["scratchnet"][0] if "|" in k]:
        ours = [r[f"scratchnet|{phase}"] for r in runs["scratchnet"]]
        theirs = [r[f"torch|{phase}"] for r in runs["torch"]]
        ratios = sorted(a / b for a, b in zip(ours, theirs))
        spread = f"{_median(ours) / _median(theirs):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"
        flops = case.flops.get(phase)
        rates = [f"{flops / _median(t) / 1e9:.0f}" if flops else "-" for t in (ours, theirs)]
        print(row([case.name, phase, _ms(_median(ours)), _ms(_median(theirs)), spread, *rates,
                   *mem], widths), flush=True)


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def _ms(seconds):
    """Milliseconds, with 3 decimals below 10 ms."""
    return f"{seconds * 1e3:.1f}" if seconds >= 0.01 else f"{seconds * 1e3:.3f}"


def argument_parser(description, processes=0):
    """The options every benchmark script takes (its worker options hidden)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="threads for BLAS, Numba and torch (default: all cores)")
    p.add_argument("--repeat", type=int, default=7, help="timed rounds (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per phase first")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: process CPU time instead of wall time; with --threads 1 it is "
                        "the time a busy shared machine does not steal (default: wall)")
    p.add_argument("--only", nargs="*", help="run only cases whose name contains one of these")
    p.add_argument("--processes", type=int, default=processes,
                   help="time each framework alone in this many processes (0: both "
                        f"frameworks in one process, alternating; default {processes})")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=("time",) + FRAMEWORKS +
                   tuple("alone-" + fw for fw in FRAMEWORKS), help=argparse.SUPPRESS)
    return p


def main(cases, description, preamble=lambda args: (), processes=0):
    """Entry point of a benchmark script: worker mode in a child, table in the parent."""
    reexec_clean()
    args = argument_parser(description, processes).parse_args()
    if args.case:
        _worker(cases, args)
    else:
        report(cases, args, preamble(args))
