"""The im2col workspace: its limit (argument, environment variable, default) and the chunks."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.kernels import workspace


@pytest.fixture(autouse=True)
def _restore():
    yield
    sn.set_workspace_limit(None)


def test_limit_from_argument_environment_and_default(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_WORKSPACE_MB", raising=False)
    assert workspace.get_workspace_limit() == workspace.DEFAULT_LIMIT
    monkeypatch.setenv("SCRATCHNET_WORKSPACE_MB", "1.5")
    assert workspace.get_workspace_limit() == 3 * 2**19
    sn.set_workspace_limit(1000)                   # the argument wins over the environment
    assert workspace.get_workspace_limit() == 1000


@pytest.mark.parametrize("bad", [0, -5, 1.5, "64"])
def test_bad_limit_raises(bad):
    with pytest.raises(ValueError, match="set_workspace_limit"):
        sn.set_workspace_limit(bad)


def test_bad_environment_value_raises(monkeypatch):
    monkeypatch.setenv("SCRATCHNET_WORKSPACE_MB", "lots")
    with pytest.raises(ValueError, match="SCRATCHNET_WORKSPACE_MB"):
        workspace.get_workspace_limit()


def test_chunks_cover_the_batch_under_the_limit():
    sn.set_workspace_limit(1000)
    assert workspace.chunks(10, 300) == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    assert workspace.chunks(4, 5000) == [slice(i, i + 1) for i in range(4)]   # at least one
    assert workspace.chunks(4, 10) == [slice(0, 4)]


def test_buffer_is_reused_and_has_the_asked_shape():
    a = workspace.buffer("test", (3, 4), np.float32, np)
    b = workspace.buffer("test", (2, 2), np.float64, np)
    assert a.shape == (3, 4) and b.shape == (2, 2) and b.dtype == np.float64
    assert np.shares_memory(a, b)
