"""Hypothesis profiles, the device fixture, the gpu marker and the global-state seal.

Profiles: ``ci`` (default; the suite in a few minutes on 2 cores) and ``thorough`` (many
more examples), chosen with SCRATCHNET_HYPOTHESIS=thorough.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import scratchnet as sn
from scratchnet import backend
from scratchnet.kernels import _cupy
from tests.helpers import DEVICES, global_state, restore_global_state, state_changes
from tests.standin import fake_cupy, harness

# test modules import the shared helpers as `from tests.helpers import ...`
sys.path.insert(0, os.path.dirname(__file__))

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=25, derandomize=True, **_common)
settings.register_profile("thorough", max_examples=500, **_common)
settings.register_profile("dev", max_examples=5, derandomize=True, **_common)
settings.load_profile(os.environ.get("SCRATCHNET_HYPOTHESIS", "ci"))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and a CUDA GPU; skipped without them")
    config.addinivalue_line("markers", "standin: runs the CUDA path on the CuPy stand-in "
                            "(tests/standin), its kernels compiled for the CPU")
    config.addinivalue_line("markers", "slow: big models at full size; run with SCRATCHNET_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SCRATCHNET_SLOW") != "1":
        for item in items:
            if item.get_closest_marker("slow"):
                item.add_marker(pytest.mark.skip(reason="slow; run with SCRATCHNET_SLOW=1"))
    if sn.cuda_is_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if item.get_closest_marker("gpu"):     # not `in item.keywords`: a folder named gpu
            item.add_marker(skip)


@pytest.fixture(params=DEVICES)
def device(request):
    """Run a test once per device: cpu, cuda on the CuPy stand-in, and cuda on a real GPU
    (skipped cleanly without one)."""
    return request.param


@pytest.fixture(autouse=True)
def cupy_stand_in(request):
    """For tests marked ``standin``: CuPy is the stand-in (tests/standin/fake_cupy.py), its
    ElementwiseKernels compiled for the CPU by tests/standin/harness.py."""
    if request.node.get_closest_marker("standin") is None:
        yield None
        return
    if harness.compiler() is None:
        pytest.skip("the CuPy stand-in's kernel harness needs a C++ compiler (g++)")
    monkeypatch = request.getfixturevalue("monkeypatch")   # only here: see sealed_global_state
    monkeypatch.setattr(backend, "_import_cupy", lambda: (fake_cupy.cupy, None))
    monkeypatch.setattr(backend, "cupy_submodule", fake_cupy.submodule)
    _cupy.elementwise.cache_clear()
    yield fake_cupy
    _cupy.elementwise.cache_clear()


@pytest.fixture(autouse=True)
def sealed_global_state():
    """Fail a test that leaves grad mode, the default device, the workspace limit, the forward
    or backward observers or Numba's thread count changed (MyGrad's conftest seals its
    globals the same way); the state is put back first, so the tests after it are unaffected."""
    before = global_state()
    yield
    changes = state_changes(before, global_state())
    if changes:
        restore_global_state(before)
        pytest.fail("the test left global state changed (restore it in the test): "
                    + "; ".join(changes), pytrace=False)
