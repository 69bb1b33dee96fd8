"""The gradient buckets behind DistributedDataParallel, and the hooks that fill them.

Parameters are grouped, in reverse registration order (roughly the order backward finishes
them), into buckets of at most ``bucket_cap_mb`` MiB (the first one 1 MiB, so communication
starts early; torch's sizes). Each parameter has a post-accumulate grad hook: the moment
backward has its final gradient, the hook copies it into its slot of the bucket's flat
buffer; a full bucket starts a non-blocking all-reduce (buckets start in index order, the same
on every rank, as MPI requires) while backward goes on with the layers below. The hook of the
last parameter waits for every bucket and writes ``sum / world_size`` back into each ``.grad``,
so when ``backward()`` returns the gradients are averaged, as torch's.

    params (reverse order):  fc.w fc.b | conv3.w conv3.b conv2.w | conv2.b conv1.w conv1.b
    buckets:                 [  0, 1 MiB  ] [      1, <= 25 MiB   ] [        2           ]
    backward:  fc done -> bucket 0 all-reduce starts ... conv1.b done -> wait all, write back
"""
import time
from itertools import accumulate

import numpy as np

from ...backend import get_array_module, to_numpy
from ...distributed.work import ReduceOp
from ...function import Edge
from ...tensor import Tensor

MIB = 1 << 20
FIRST_BUCKET_BYTES = 1 * MIB


class Bucket:
    """Parameters whose gradients travel in one all-reduce, and their flat buffer."""

    def __init__(self, params):
        self.params = params
        first = params[0].data
        xp = get_array_module(first)
        sizes = [int(p.data.size) for p in params]
        self.offsets = [0, *accumulate(sizes)]
        self.flat = xp.zeros(self.offsets[-1], first.dtype)
        self.pending, self.work = len(params), None

    def slot(self, index):
        return self.flat[self.offsets[index]:self.offsets[index + 1]]


def make_buckets(params, cap_bytes, first_bytes=FIRST_BUCKET_BYTES):
    """Buckets of ``params`` in reverse order, one dtype and device each, the first up to
    ``first_bytes``, the others up to ``cap_bytes``."""
    buckets, current, size = [], [], 0
    for p in reversed(params):
        cap = first_bytes if not buckets else cap_bytes
        if current and (size + p.data.nbytes > cap or _kind(p) != _kind(current[0])):
            buckets.append(Bucket(current))
            current, size = [], 0
        current.append(p)
        size += p.data.nbytes
    if current:
        buckets.append(Bucket(current))
    return buckets


def _kind(param):
    """What must be equal within one bucket: the array type (device) and the dtype."""
    return type(param.data), param.data.dtype


class Reducer:
    """Hooks on ``named_params`` that average their gradients over ``group`` during backward.

    Per iteration: ``prepare_for_backward(outputs)`` (from DDP's forward) arms the hooks; the
    first hook marks the parameters the forward did not use as ready (with
    ``find_unused_parameters``); each hook fills its slot; the last one finishes the
    iteration. ``check_finished()`` (before the next forward) raises if a backward started
    but some parameter never got its gradient.

    ``timings`` of the last backward, as torch's DDP logs them: ``comm_start`` when the first
    bucket started, ``compute_end`` when the last gradient was ready, ``comm_end`` when every
    bucket had arrived; the communication hidden behind backward is
    (compute_end − comm_start) / (comm_end − comm_start).
    """

    timings = None   # {comm_start, compute_end, comm_end}: perf_counter of the last backward

    def __init__(self, named_params, group, bucket_cap_mb=25, find_unused_parameters=False):
        self.names = {id(p): name for name, p in named_params}
        params = [p for _, p in named_params]
        self.group, self.world = group, group.size()
        self.find_unused = find_unused_parameters
        self.buckets = make_buckets(params, int(bucket_cap_mb * MIB))
        self.where = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}
        self.armed = self.started = False
        self.unused, self.used = [], set()     # parameters; ids of parameters
        self.next_bucket = 0
        self.handles = [p.register_post_accumulate_grad_hook(self._hook) for p in params]

    def prepare_for_backward(self, outputs):
        self.armed = True
        if self.find_unused:
            reached = _reachable_leaves(outputs)
            self.unused = [p for b in self.buckets for p in b.params if id(p) not in reached]

    def check_finished(self):
        if not self.started:
            self.armed = False
            return
        skipped = self.used | {id(p) for p in self.unused}
        missing = [self.names[id(p)] for b in self.buckets for p in b.params
                   if id(p) not in skipped]
        self._reset()
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new "
            "one. This error indicates that your module has parameters that were not used in "
            "producing loss. You can enable unused parameter detection by passing the keyword "
            "argument `find_unused_parameters=True` to "
            "`scratchnet.nn.parallel.DistributedDataParallel`, and by making sure all "
            "`forward` function outputs participate in calculating loss. Parameters that did "
            f"not receive a gradient on rank {self.group.rank()}: {', '.join(missing)}")

    def _hook(self, param):
        if not self.armed:
            return                      # no_sync(), or a graph made outside DDP's forward
        if not self.started:
            self.started = True
            for p in self.unused:
                self._ready(p, used=False)
        self._ready(param, used=True)
        for bucket in self.buckets[:self.next_bucket]:
            bucket.work.is_completed()  # MPI moves non-blocking collectives on only here

    def _ready(self, param, used):
        bucket, index = self.where[id(param)]
        slot = bucket.slot(index)
        if param.grad is None:
            slot[...] = 0
        else:
            slot[...] = param.grad.data.reshape(-1)
        if used:
            self.used.add(id(param))
        bucket.pending -= 1
        while self.next_bucket < len(self.buckets) and \
                self.buckets[self.next_bucket].pending == 0:
            if self.next_bucket == 0:
                self._timings = {"comm_start": time.perf_counter()}
            ready = self.buckets[self.next_bucket]
            ready.work = self.group.all_reduce(ready.flat, ReduceOp.SUM)
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _finish(self):
        """Wait for every bucket and write the averages back into ``.grad``."""
        self._timings["compute_end"] = time.perf_counter()
        used_anywhere = self._used_anywhere()
        for bucket in self.buckets:
            bucket.work.wait()
            xp = get_array_module(bucket.flat)
            for i, p in enumerate(bucket.params):
                if not used_anywhere(p):
                    continue            # as torch: a parameter no rank used keeps its .grad
                average = bucket.slot(i).reshape(p.data.shape)
                if p.grad is None:
                    p.grad = Tensor(average / self.world)
                else:
                    xp.divide(average, self.world, out=p.grad.data)
        self._timings["comm_end"] = time.perf_counter()
        self.timings = self._timings
        self._reset()

    def _used_anywhere(self):
        if not self.find_unused:
            return lambda p: True
        params = [p for b in self.buckets for p in b.params]
        xp = get_array_module(self.buckets[0].flat)          # the device NCCL reduces on
        used = [id(p) in self.used for p in params]
        counts = xp.asarray(np.array(used, np.int32))     # host: a Python list, then copied
        self.group.all_reduce(counts, ReduceOp.SUM).wait()
        anywhere = {id(p) for p, n in zip(params, to_numpy(counts)) if n > 0}
        return lambda p: id(p) in anywhere

    def _reset(self):
        self.armed = self.started = False
        self.used, self.next_bucket = set(), 0
        for bucket in self.buckets:
            bucket.pending, bucket.work = len(bucket.params), None


def _reachable_leaves(outputs):
    """ids of the leaf tensors the graph behind ``outputs`` (tensors in any nesting of tuples,
    lists and dicts) reaches."""
    stack, seen, leaves = [], set(), set()
    for t in _tensors(outputs):
        if t.grad_fn is None:
            leaves.add(id(t))
        else:
            stack.append(t.grad_fn)
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for x in getattr(fn, "inputs", ()):
            if x is None or not x.requires_grad:
                continue
            if type(x) is Edge or x.grad_fn is not None:
                stack.append(x.grad_fn)
            else:
                leaves.add(id(x))
    return leaves


def _tensors(value):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
