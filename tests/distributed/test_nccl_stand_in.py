"""The NCCL backend's logic on a stand-in for CuPy and for NCCL's communicator (no GPU here):
stream ordering, AVG as a division after the sum, the gathered layout, non-contiguous
tensors, and the type table. The real thing runs in benchmarks/gpu_distributed.py."""
from types import SimpleNamespace

import numpy as np
import pytest

from scratchnet.distributed import ReduceOp
from scratchnet.distributed.nccl import Communicator, NCCLGroup


class DeviceArray(np.ndarray):
    """A NumPy array that the stand-in CuPy claims as its own."""


def _device(array):
    return np.asarray(array).view(DeviceArray)


class StandInCupy:
    """cupy, as far as NCCLGroup uses it, logging stream and event calls."""

    def __init__(self):
        self.log = []
        log = self.log

        class Stream:
            def __init__(self, name="side", non_blocking=False):
                self.name = name

            def wait_event(self, event):
                log.append(f"{self.name} waits for {event.name}")

            def synchronize(self):
                log.append(f"{self.name} synchronized")

            def __enter__(self):
                log.append(f"enter {self.name}")

            def __exit__(self, *exc):
                log.append(f"leave {self.name}")

        class Event:
            count = 0

            def __init__(self):
                Event.count += 1
                self.name, self.done = f"event{Event.count}", True

            def record(self, stream):
                log.append(f"{self.name} recorded on {stream.name}")

        current = Stream("current")
        self.cuda = SimpleNamespace(Stream=Stream, Event=Event,
                                    get_current_stream=lambda: current)

    def get_array_module(self, array):
        return self if isinstance(array, DeviceArray) else np

    def ascontiguousarray(self, array):
        return _device(np.ascontiguousarray(array))

    def empty(self, shape, dtype):
        return _device(np.empty(shape, dtype))

    def zeros(self, shape, dtype):
        return _device(np.zeros(shape, dtype))


class TwoRanks:
    """A communicator whose other rank (rank 1) holds ``peer`` times this rank's values."""

    def __init__(self, log, peer=10.0):
        self.log, self.peer = log, peer

    def all_reduce(self, array, op, stream):
        self.log.append(f"all_reduce on {stream.name}")
        other = array * self.peer
        combine = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.MAX: np.maximum,
                   ReduceOp.MIN: np.minimum, ReduceOp.PRODUCT: np.multiply}[op]
        combine(array, other, out=array)

    def broadcast(self, array, root, stream):
        if root == 1:
            array *= self.peer

    def all_gather(self, source, gathered, stream):
        gathered[0], gathered[1] = source, source * self.peer


def _group():
    cupy = StandInCupy()
    return NCCLGroup(TwoRanks(cupy.log), 0, 2, cupy), cupy.log


def test_a_collective_waits_for_queued_work_and_wait_orders_the_current_stream_after_it():
    group, log = _group()
    x = _device([1.0, 2.0])
    work = group.all_reduce(x, ReduceOp.AVG)
    assert log == ["event1 recorded on current", "side waits for event1", "all_reduce on side",
                   "enter side", "leave side", "event2 recorded on side"]
    assert work.wait() and log[-1] == "current waits for event2"
    np.testing.assert_array_equal(x, [5.5, 11.0])           # (x + 10x) / 2


@pytest.mark.parametrize("op, expected", [(ReduceOp.SUM, [11.0, -22.0]),
                                          (ReduceOp.MAX, [10.0, -2.0]),
                                          (ReduceOp.PRODUCT, [10.0, 40.0])])
def test_reductions(op, expected):
    group, _ = _group()
    x = _device([1.0, -2.0])
    group.all_reduce(x, op).wait()
    np.testing.assert_array_equal(x, expected)


def test_a_non_contiguous_array_is_reduced_through_a_copy_written_back_on_wait():
    group, _ = _group()
    base = _device(np.arange(6.0).reshape(2, 3))
    view = base[:, ::2]
    work = group.all_reduce(view, ReduceOp.SUM)
    work.wait()
    np.testing.assert_array_equal(base, [[0.0, 1.0, 22.0], [33.0, 4.0, 55.0]])


def test_gather_layout_broadcast_and_barrier():
    group, log = _group()
    work, gathered = group.all_gather(_device([[1.0, 2.0]]))
    work.wait()
    assert gathered.shape == (2, 1, 2)
    np.testing.assert_array_equal(gathered, [[[1.0, 2.0]], [[10.0, 20.0]]])
    x = _device([3.0])
    group.broadcast(x, 1).wait()
    np.testing.assert_array_equal(x, [30.0])
    group.barrier()
    assert log[-1] == "side synchronized"


def test_host_arrays_are_refused_with_the_fix():
    group, _ = _group()
    with pytest.raises(TypeError, match=r"works on GPU tensors \(CuPy arrays\); move the "
                                        r"tensor with .to\('cuda'\)"):
        group.all_reduce(np.ones(2), ReduceOp.SUM)


def test_the_type_table_and_what_nccl_is_called_with():
    calls = []
    comm = SimpleNamespace(allReduce=lambda *args: calls.append(args))
    nccl = SimpleNamespace(NCCL_FLOAT32=7, NCCL_INT64=4, NCCL_SUM=0, NCCL_MAX=2)
    array = SimpleNamespace(dtype=np.dtype(np.float32), size=5, data=SimpleNamespace(ptr=1234))
    Communicator(comm, nccl).all_reduce(array, ReduceOp.AVG, SimpleNamespace(ptr=99))
    assert calls == [(1234, 1234, 5, 7, 0, 99)]             # AVG is a SUM, divided after
    boolean = SimpleNamespace(dtype=np.dtype(bool), size=1, data=SimpleNamespace(ptr=1))
    with pytest.raises(TypeError, match="the 'nccl' backend cannot send bool arrays"):
        Communicator(comm, nccl).all_reduce(boolean, ReduceOp.MAX, SimpleNamespace(ptr=0))
