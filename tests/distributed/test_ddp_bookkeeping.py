"""DistributedDataParallel's buckets, hooks, no_sync and unused parameters, on a process group
of one (tests/distributed/loopback.py); the averaging over real ranks is tested under mpiexec
(test_data_parallel.py)."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import function, nn
from scratchnet.nn.parallel import DistributedDataParallel, unwrap
from scratchnet.nn.parallel.reducer import FIRST_BUCKET_BYTES, MIB, make_buckets
from tests.distributed.loopback import LoopbackGroup


def _mlp(seed=0):
    sn.manual_seed(seed)
    return nn.Sequential(nn.Linear(600, 500), nn.ReLU(), nn.Linear(500, 600), nn.ReLU(),
                         nn.Linear(600, 10))


def _loss(model, seed=1):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((6, 600)).astype(np.float32), rng.integers(0, 10, 6)
    return F.cross_entropy(model(sn.tensor(x)), sn.tensor(y))


def test_buckets_take_parameters_in_reverse_first_one_mib():
    params = list(_mlp().parameters())          # 1.2 MB, 2 KB, 1.2 MB, 2.4 KB, 24 KB, 40 B
    buckets = make_buckets(params, cap_bytes=MIB)
    order = [p for b in buckets for p in b.params]
    assert [id(p) for p in order] == [id(p) for p in reversed(params)]
    # fc3.b fc3.w fc2.b | fc2.w | fc1.b | fc1.w: fc2.w would take the first past 1 MiB
    assert [len(b.params) for b in buckets] == [3, 1, 1, 1]
    assert [len(b.params) for b in make_buckets(params, cap_bytes=25 * MIB)] == [3, 3]
    assert sum(p.data.nbytes for p in buckets[0].params) <= FIRST_BUCKET_BYTES
    assert all(b.flat.size == sum(p.data.size for p in b.params) for b in buckets)


def test_gradients_are_those_of_the_module_and_reduced_during_backward():
    plain, log = _mlp(), []
    wrapped = DistributedDataParallel(_mlp(), process_group=LoopbackGroup(log),
                                      bucket_cap_mb=1)
    _loss(plain).backward()
    del log[:]

    def note(fn, *args):
        log.append(type(fn).__name__)
    function.backward_observers.append(note)
    try:
        _loss(wrapped).backward()
    finally:
        function.backward_observers.remove(note)
    for p, q in zip(plain.parameters(), wrapped.module.parameters()):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)
    # the first bucket (the last layers) starts before the first layer's backward runs
    assert [entry for entry in log if entry.startswith("all_reduce")] == \
        ["all_reduce 6610", "all_reduce 300000", "all_reduce 500", "all_reduce 300000"]
    first_reduction = log.index("all_reduce 6610")
    assert first_reduction < len(log) - 1 - log[::-1].index("LinearFunction")
    assert log.count("done") == 4 and log[-1] == "done"


def test_no_sync_accumulates_locally_then_one_reduction_of_the_sum():
    plain, log = _mlp(), []
    wrapped = DistributedDataParallel(_mlp(), process_group=LoopbackGroup(log))
    for seed in (1, 2, 3):
        _loss(plain, seed).backward()
    del log[:]
    with wrapped.no_sync():
        _loss(wrapped, 1).backward()
        _loss(wrapped, 2).backward()
    assert log == []
    _loss(wrapped, 3).backward()
    assert [entry for entry in log if entry.startswith("all_reduce")] == \
        ["all_reduce 6610", "all_reduce 600500"]
    for p, q in zip(plain.parameters(), wrapped.module.parameters()):
        np.testing.assert_allclose(q.grad.data, p.grad.data, rtol=1e-6, atol=1e-7)


class Branchy(nn.Module):
    """``head`` is used only when ``use_head``: GoogLeNet's auxiliary heads in eval."""

    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Linear(4, 3), nn.Linear(3, 2)
        self.use_head = True

    def forward(self, x):
        h = self.body(x)
        return self.head(h).sum() + h.sum() if self.use_head else h.sum()


def test_an_unused_parameter_stops_the_next_forward_naming_it():
    model = DistributedDataParallel(Branchy(), process_group=LoopbackGroup())
    model.module.use_head = False
    model(sn.ones(2, 4)).backward()
    with pytest.raises(RuntimeError, match="Expected to have finished reduction in the prior "
                                           "iteration.* rank 0: head.bias, head.weight"):
        model(sn.ones(2, 4))
    model(sn.ones(2, 4))                # the error reset the iteration


def test_find_unused_parameters_completes_and_leaves_their_grad_alone():
    model = DistributedDataParallel(Branchy(), process_group=LoopbackGroup(),
                                    find_unused_parameters=True)
    model.module.use_head = False
    model(sn.ones(2, 4)).backward()
    assert model.module.head.weight.grad is None
    np.testing.assert_array_equal(model.module.body.bias.grad.data, [2.0, 2.0, 2.0])
    model.module.use_head = True
    model(sn.ones(2, 4)).backward()
    assert model.module.head.weight.grad is not None


def test_forward_without_grad_arms_nothing_and_state_dict_has_the_module_prefix():
    log = []
    model = DistributedDataParallel(_mlp(), process_group=LoopbackGroup(log))
    del log[:]
    with sn.no_grad():
        model(sn.ones(1, 600))
    assert log == [] and not model.reducer.armed
    assert next(iter(model.state_dict())) == "module.0.weight"
    assert unwrap(model) is model.module and unwrap(model.module) is model.module


def test_buffers_travel_from_rank_0_before_each_training_forward():
    log = []
    model = DistributedDataParallel(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)),
                                    process_group=LoopbackGroup(log))
    # parameters and buffers: float32 (12 + 4 + 4 + 4 + 4 + 4), then num_batches_tracked
    assert [e for e in log if e.startswith("broadcast")] == ["broadcast 32", "broadcast 1"]
    del log[:]
    model(sn.randn(5, 3)).sum().backward()
    assert log[:2] == ["broadcast 8", "done"]              # running mean and var


def test_bad_arguments():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(_mlp())
    with pytest.raises(TypeError, match="expected a Module, got function"):
        DistributedDataParallel(lambda x: x, process_group=LoopbackGroup())
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        DistributedDataParallel(nn.ReLU(), process_group=LoopbackGroup())
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive"):
        DistributedDataParallel(_mlp(), process_group=LoopbackGroup(), bucket_cap_mb=0)
