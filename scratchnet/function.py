"""Function: one differentiable operation, and the engine that runs backward through them.

A subclass writes ``forward(*arrays) -> array or tuple of arrays`` and
``backward(*grad_outputs) -> grad per input`` on raw NumPy/CuPy arrays. ``Function.__call__``
does the bookkeeping once for every op: unwrap tensors, check devices, run forward, wrap the
outputs, and (when grad mode is on and some input requires grad) record the graph edge.

    x ──► [Function] ──► y          forward: y = f(x)
    x.grad ◄── backward(gy)         backward: gx = gy · ∂f/∂x  (the local chain rule)
"""
import heapq
import itertools
import time
import weakref

from . import backend
from .tensor import Tensor, run_hooks


class _GradMode:
    enabled = True


def is_grad_enabled():
    return _GradMode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.previous = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc):
        _GradMode.enabled = self.previous

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class no_grad(_SetGradMode):
    """Run without recording the graph: no Function keeps its inputs, nothing requires grad."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_SetGradMode):
    def __init__(self):
        super().__init__(True)


class Function:
    """Base class of every differentiable op.

    Attributes set by ``__call__`` that ``forward``/``backward`` may use:
      ``needs_input_grad``: a bool per input, so backward skips gradients nobody reads.
      ``saved_tensors``: the arrays passed to ``save_for_backward``; freed after backward
      unless ``retain_graph=True``.
    """

    generation = 0  # longest path from a leaf; backward visits high generations first
    _saved = ()
    _released = False
    _output_hooks = None  # {output index: [hook, ...]}, from Tensor.register_hook

    def __call__(self, *inputs):
        tensors = [t for t in inputs if t is not None]
        _check_same_device(type(self).__name__, tensors)
        record = _GradMode.enabled and any(t.requires_grad for t in tensors)
        self.needs_input_grad = tuple(record and t is not None and t.requires_grad
                                      for t in inputs)
        outputs = self.forward(*(None if t is None else t.data for t in inputs))
        single = not isinstance(outputs, tuple)
        outputs = tuple(Tensor(y) for y in ((outputs,) if single else outputs))
        if record:
            # leaves (parameters, constants) are kept; a non-leaf input is kept only as an edge
            # to its grad_fn, so its array is freed as soon as nothing else needs it
            self.inputs = tuple(t if t is None or t.grad_fn is None else Edge(t) for t in inputs)
            self.generation = max((t.grad_fn.generation + 1 for t in tensors
                                   if t.grad_fn is not None), default=0)
            self.outputs = [weakref.ref(y) for y in outputs]
            self._output_meta = [(y.data.shape, y.data.dtype) for y in outputs]
            for i, y in enumerate(outputs):
                if y.data.dtype.kind == "f":  # integer outputs (argmax indices) carry no grad
                    y.requires_grad, y.grad_fn, y._output_index = True, self, i
        else:
            self._saved = ()  # nothing will call backward: drop saved arrays now
        return outputs[0] if single else outputs

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time "
                "(its saved arrays were freed after the first backward); pass "
                "retain_graph=True to the first backward() to keep them")
        return self._saved

    def output_hooks(self, index):
        """The list of hooks on output ``index`` (created on first use)."""
        if self._output_hooks is None:
            self._output_hooks = {}
        return self._output_hooks.setdefault(index, [])

    def release(self):
        """Free what forward saved; a later backward through this Function raises."""
        self._saved = ()
        self._released = True


class Edge:
    """What backward needs of a non-leaf input: the Function that made it (and which of its
    outputs it is), its shape and dtype; not its data."""

    __slots__ = ("grad_fn", "_output_index", "shape", "dtype", "device")
    requires_grad, is_leaf = True, False

    def __init__(self, tensor):
        self.grad_fn, self._output_index = tensor.grad_fn, tensor._output_index
        self.shape, self.dtype, self.device = tensor.shape, tensor.dtype, tensor.device


def _check_same_device(op, tensors):
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        shown = ", ".join(f"{t.device} {t.shape}" for t in tensors)
        raise RuntimeError(f"{op}: expected all tensors on the same device, got {shown}")


# Callables ``observer(fn, grad_outputs, grad_inputs, seconds)`` run after each Function's
# backward; scratchnet.viz.trace_backward adds one to record the order backprop ran in.
backward_observers = []


def run_backward(root, grad, retain_graph=False):
    """Backpropagate ``grad`` from ``root`` through the recorded graph.

    Functions are visited in decreasing ``generation``: a Function's generation exceeds that
    of every Function that made its inputs, so each one runs only after all its consumers
    have added their contribution to its output gradients. A heap replaces recursion, so a
    graph of any depth works.
    """
    order = itertools.count()  # ties in the heap break by insertion, never by comparing Functions
    heap, pending, leaf_grads = [], {}, {}

    def send(tensor, g):
        if g.dtype != tensor.dtype:  # float32 input of a float64 op gets a float32 gradient
            g = g.astype(tensor.dtype)
        fn = tensor.grad_fn
        if fn is None:
            entry = leaf_grads.setdefault(id(tensor), [tensor, None])
            entry[1] = g if entry[1] is None else entry[1] + g
            return
        if fn not in pending:
            pending[fn] = [None] * len(fn.outputs)
            heapq.heappush(heap, (-fn.generation, next(order), fn))
        slot = pending[fn]
        i = tensor._output_index
        slot[i] = g if slot[i] is None else slot[i] + g

    send(root, grad)
    while heap:
        fn = heapq.heappop(heap)[2]
        grads = pending.pop(fn)
        xp = backend.get_array_module(*[g for g in grads if g is not None])
        for i, ref in enumerate(fn.outputs):
            if grads[i] is None:  # an output nobody used, e.g. one piece of a split
                shape, dtype = fn._output_meta[i]
                grads[i] = xp.zeros(shape, dtype)
                continue
            if fn._output_hooks and i in fn._output_hooks:
                grads[i] = run_hooks(fn._output_hooks[i], grads[i])
            y = ref()
            if y is not None and y._retains_grad:
                y.grad = Tensor(grads[i])
        start = time.perf_counter()
        input_grads = fn.backward(*grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for observe in backward_observers:
            observe(fn, grads, input_grads, time.perf_counter() - start)
        if not retain_graph:
            fn.release()
        for x, gx in zip(fn.inputs, input_grads):
            if x is not None and gx is not None and x.requires_grad:
                send(x, gx)

    shared = set()  # no two leaves may end up holding the same array as .grad
    for leaf, g in leaf_grads.values():
        g = run_hooks(leaf._hooks, g)
        if leaf.grad is not None:
            leaf.grad = Tensor(leaf.grad.data + g)
        else:
            leaf.grad = Tensor(g.copy() if id(g) in shared or g is grad else g)
            shared.add(id(g))
