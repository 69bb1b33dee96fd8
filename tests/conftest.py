"""Hypothesis profiles, the array-module fixture and the gpu marker.

Profiles: ``ci`` (default; the suite in a few minutes on 2 cores) and ``thorough`` (many
more examples), chosen with SCRATCHNET_HYPOTHESIS=thorough.
"""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import scratchnet as sn

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
