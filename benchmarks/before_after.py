"""One training step of zoo models, before and after a change: two scratchnet checkouts timed in
alternating processes (the models.py step: forward, cross-entropy, backward, SGD momentum).

    python benchmarks/before_after.py --before main --only lenet5 "resnet18 b128"
    python benchmarks/before_after.py --before /path/to/checkout --rounds 7 --threads 1

``--before`` is a git revision (exported with ``git archive`` into a temporary folder) or a
folder holding a checkout; the "after" side is this checkout. Each round runs one process per
side, in alternating order; each process times ``--steps`` steps after two warm-up steps and
reports their median. The table shows the median over rounds and the change. Run it alone on
the machine (``flock -x /tmp/cpu.lock``): a shared machine easily moves a step by ±10%.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _harness import reexec_clean, set_threads

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _worker(name, steps, threads):
    """Time ``steps`` steps of the models.py case ``name`` with the scratchnet on sys.path."""
    from models import CASES              # its _harness puts this checkout first on sys.path:

    checkout = os.environ["PYTHONPATH"]
    sys.path.insert(0, checkout)          # the side being timed goes before it
    set_threads(threads)
    step = next(c for c in CASES if c.name == name).make("scratchnet")["step"]
    imported = os.path.abspath(sys.modules["scratchnet"].__file__)
    if not imported.startswith(os.path.abspath(checkout) + os.sep):
        raise RuntimeError(f"timed {imported}, not the scratchnet of {checkout}")
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(f"RESULT {statistics.median(times)}")


def _checkout(before, scratch):
    if os.path.isdir(before):
        return os.path.abspath(before)
    archive = subprocess.run(["git", "-C", ROOT, "archive", before], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
    return scratch


def _time(path, name, args):
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, __file__, "--worker", name, "--steps",
                          str(args.steps), "--threads", str(args.threads)],
                         capture_output=True, text=True, env=env, cwd=HERE)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"{name} with {path} failed:\n{out.stderr[-2000:]}")
    return float(lines[-1].split()[1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", default="HEAD", help="git revision or checkout folder")
    p.add_argument("--only", nargs="*", default=["lenet5", "resnet18 b128"],
                   help="models.py cases whose name contains one of these")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=7, help="timed steps per process")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return _worker(args.worker, args.steps, args.threads)
    sys.path.insert(0, HERE)
    from models import CASES

    names = [c.name for c in CASES if any(s in c.name for s in args.only)]
    with tempfile.TemporaryDirectory() as scratch:
        sides = {"before": _checkout(args.before, scratch), "after": ROOT}
        print(f"{'case':<36} {'before ms':>10} {'after ms':>10} {'change':>8}   "
              f"({args.rounds} alternating rounds, median of {args.steps} steps each, "
              f"{args.threads} threads)")
        for name in names:
            times = {side: [] for side in sides}
            for r in range(args.rounds):
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for side in order:
                    times[side].append(_time(sides[side], name, args))
            before, after = (statistics.median(times[s]) for s in sides)
            print(f"{name:<36} {before * 1e3:>10.1f} {after * 1e3:>10.1f} "
                  f"{(after / before - 1) * 100:>+7.1f}%", flush=True)


if __name__ == "__main__":
    main()
