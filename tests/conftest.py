"""Hypothesis profiles, the device fixture, the gpu marker and the global-state seal.

Profiles: ``ci`` (default; the suite in a few minutes on 2 cores) and ``thorough`` (many
more examples), chosen with SCRATCHNET_HYPOTHESIS=thorough.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import scratchnet as sn
from tests.helpers import global_state, restore_global_state, state_changes

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
    config.addinivalue_line("markers", "slow: big models at full size; run with SCRATCHNET_SLOW=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SCRATCHNET_SLOW") != "1":
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(pytest.mark.skip(reason="slow; run with SCRATCHNET_SLOW=1"))
    if sn.cuda_is_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test once per device; the cuda run skips cleanly without a GPU."""
    return request.param


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
