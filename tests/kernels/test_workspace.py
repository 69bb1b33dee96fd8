"""The im2col workspace: its limit (argument, environment variable, default) and the tiles."""
import threading

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


def test_tiles_cover_samples_and_rows_under_the_limit():
    sn.set_workspace_limit(1000)
    samples, rows = workspace.tiles(4, 10, 300, np)           # 3 rows of 300 bytes fit
    assert samples == [slice(i, i + 1) for i in range(4)]
    assert rows == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    samples, rows = workspace.tiles(4, 10, 5000, np)          # at least one row
    assert rows == [slice(i, i + 1) for i in range(10)]
    # whole samples fit (5 of 200 bytes), but 2 workers each get a chunk
    assert workspace.tiles(10, 2, 100, np, workers=2) == ([slice(0, 5), slice(5, 10)],
                                                          [slice(0, 2)])
    sn.set_workspace_limit(None)
    rows = workspace.tiles(1, 224, 64 * 9 * 224 * 4, np)[1]   # VGG's conv1_2: 516 KB a row
    assert len(rows) > 1 and (rows[0].stop - rows[0].start) * 64 * 9 * 224 * 4 <= \
        workspace.TILE_BYTES


def test_samples_are_shared_out_evenly_and_grouped_by_cache_size():
    """5 samples of 2 MB columns: 4 fit an 8 MB tile, but 3 workers get 3 chunks (2, 2, 1);
    products per sample group only what fits GROUP_BYTES; the GPU's budget is the limit."""
    mb = 2**20
    assert workspace.tiles(5, 1, 2 * mb, np, workers=3)[0] == [slice(0, 2), slice(2, 4),
                                                               slice(4, 5)]
    chunks = workspace.tiles(256, 28, 2800, np, workers=2)[0]       # LeNet-5's first layer
    assert len(chunks) % 2 == 0 and {c.stop - c.start for c in chunks} == {64}
    grouped = workspace.tiles(256, 28, 2800, np, workers=2, one_product_per_sample=True)[0]
    assert all((c.stop - c.start) * 28 * 2800 <= workspace.GROUP_BYTES for c in grouped)
    gpu = object()                                                  # any other array module
    assert workspace.tiles(1, 64, mb, gpu)[1] == [slice(0, 16), slice(16, 32), slice(32, 48),
                                                   slice(48, 64)]   # the 16 MB default limit


def test_buffers_larger_than_the_limit_are_not_kept():
    sn.set_workspace_limit(1000)
    a = workspace.buffer("big", (100, 100), np.float64, np)
    b = workspace.buffer("big", (100, 100), np.float64, np)
    assert not np.shares_memory(a, b)


def test_each_thread_has_its_own_buffers():
    here = workspace.buffer("test", (3, 4), np.float32, np)
    there = []
    worker = threading.Thread(target=lambda: there.append(
        workspace.buffer("test", (3, 4), np.float32, np)))
    worker.start()
    worker.join()
    assert not np.shares_memory(here, there[0])
    assert np.shares_memory(here, workspace.buffer("test", (3, 4), np.float32, np))


def test_buffer_is_reused_and_has_the_asked_shape():
    a = workspace.buffer("test", (3, 4), np.float32, np)
    b = workspace.buffer("test", (2, 2), np.float64, np)
    assert a.shape == (3, 4) and b.shape == (2, 2) and b.dtype == np.float64
    assert np.shares_memory(a, b)
