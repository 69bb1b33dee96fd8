"""Branch coverage of scratchnet/kernels/ by the kernel tests, with Numba's JIT off.

``NUMBA_DISABLE_JIT=1`` turns every jitted kernel into plain Python, which coverage.py can
trace; the kernel tests (small shapes, every size-chosen path forced: paths.py) then run once
more that way, in a subprocess, and must reach ``MIN_BRANCHES`` percent of the branches of
scratchnet/kernels/. The CuPy twins count too: their launch code runs on the CuPy stand-in
(tests/standin), their CUDA bodies in the C++ harness. Running the kernels as Python also
checks that the twins' bodies equal their references when interpreted, not only when compiled.
"""
import json
import os
import subprocess
import sys

import pytest

MIN_BRANCHES = 95.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INNER = "SCRATCHNET_COVERAGE_RUN"          # set inside the subprocess: no recursion


@pytest.mark.skipif(os.environ.get(INNER) == "1", reason="this is the coverage run itself")
def test_kernel_tests_reach_95_percent_of_kernel_branches_without_jit(tmp_path):
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=ROOT, **{INNER: "1"},
               COVERAGE_FILE=str(tmp_path / ".coverage"))
    run = subprocess.run(
        [sys.executable, "-m", "coverage", "run", f"--rcfile={ROOT}/pyproject.toml", "-m",
         "pytest", "-q", "-p", "no:cacheprovider", "tests/kernels"],
        cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"the kernel tests failed without JIT:\n{run.stdout[-3000:]}"
    report = tmp_path / "coverage.json"
    subprocess.run([sys.executable, "-m", "coverage", "json", f"--rcfile={ROOT}/pyproject.toml",
                    "-o", str(report)], cwd=ROOT, env=env, check=True, capture_output=True)
    files = json.loads(report.read_text())["files"]
    total = sum(f["summary"]["num_branches"] for f in files.values())
    covered = sum(f["summary"]["covered_branches"] for f in files.values())
    missed = [f"{os.path.relpath(name, ROOT)}:{a}->{'exit' if b < 0 else b}"
              for name, f in sorted(files.items()) for a, b in f["missing_branches"]]
    percent = 100.0 * covered / total
    assert percent >= MIN_BRANCHES, (f"kernel branch coverage {percent:.1f}% < {MIN_BRANCHES}% "
                                     f"({covered}/{total}); missed: {', '.join(missed)}")
