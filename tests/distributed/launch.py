"""Starting ``mpiexec -n 2`` from a test: a hang fails the test (hydra's MPIEXEC_TIMEOUT, then
subprocess's timeout) instead of blocking CI; one Numba thread per rank (2 ranks, 2 cores);
MPICH's progress throttled (a rank waiting in a collective sleeps now and then instead of
spinning), since the tests share 2 cores with whatever else runs."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the mpich wheel puts mpiexec beside the interpreter, which need not be on PATH (a venv)
MPIEXEC = next((path for path in (os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                                  shutil.which("mpiexec")) if path and os.path.exists(path)),
               None)

needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs the dist extra: pip install -e '.[dist]' (mpi4py, and mpich's mpiexec)")


def environment(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MPIR_CVAR_CH4_PROGRESS_THROTTLE="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def mpiexec(args, n=2, timeout=120, cwd=ROOT, **extra_env):
    """Run ``mpiexec -n n args...``; the CompletedProcess (text output)."""
    env = environment(MPIEXEC_TIMEOUT=timeout, **extra_env)
    return subprocess.run([MPIEXEC, "-n", str(n), *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout + 30, check=False)


def run_worker(name, out_dir, *args, n=2, timeout=120):
    """``python -m tests.distributed.workers.<name> OUT_DIR args...`` on n ranks; returns the
    list of what each rank wrote to OUT_DIR/rank<r>.json. A failed run fails the test with
    its output."""
    result = mpiexec([sys.executable, "-m", f"tests.distributed.workers.{name}",
                      str(out_dir), *map(str, args)], n=n, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"mpiexec -n {n} {name} exited {result.returncode}\n--- stdout\n"
                    f"{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
    results = []
    for rank in range(n):
        with open(os.path.join(out_dir, f"rank{rank}.json")) as f:
            results.append(json.load(f))
    return results
