"""Function: one differentiable operation (the engine that runs backward through them: engine.py).

A subclass writes ``forward(*arrays) -> array or tuple of arrays`` and
``backward(*grad_outputs) -> grad per input`` on raw NumPy/CuPy arrays. ``Function.__call__``
does the bookkeeping once for every op: unwrap tensors, check devices, run forward, wrap the
outputs, and (when grad mode is on and some input requires grad) record the graph edge.

    x ──► [Function] ──► y          forward: y = f(x)
    x.grad ◄── backward(gy)         backward: gx = gy · ∂f/∂x  (the local chain rule)

The engine holds every Function to that contract at the moment it is broken, with an error
naming the Function and the input (as Chainer and torch do): forward returns arrays; backward
returns one gradient per input (None where no gradient is needed), each an array of its
input's shape and device. A gradient in another float precision is cast to its input's, as
torch does; any other dtype is an error.

In-place ops and the version counter (torch's rules; the ops are in functional/inplace.py).
Every Tensor has a ``VersionCounter`` (``t._version``), shared by the views of one array, and
every in-place write adds 1. When a recorded Function has saved arrays, ``__call__`` notes,
for each one that is (a view of) the array of an input or an output, that tensor's counter and
version; ``saved_tensors`` compares them again before backward reads the arrays and raises
torch's "modified by an inplace operation" error if they moved. An in-place Function
(``inplace = True``) writes into its first input's array and returns it: ``__call__`` counts
the new version first (so what forward saves of that array is the result), gives back the same
Tensor object as its output, and records the op as that tensor's new ``grad_fn``, with an edge
to its previous history (a leaf target that required no grad is a constant there).

Higher-order gradients (``create_graph=True``, ``autograd.grad``). The choice: every op keeps
its readable array-level ``backward``, which first-order backward runs as before (no extra
work, no Tensor wrapping); under ``create_graph`` the engine passes Tensors instead and calls
the op's *differentiable* backward (higher_order.py), which an op gives in one of three forms:
``backward_graph(*grad_tensors)`` written with scratchnet ops (mul, exp, matmul, softmax,
conv: its input gradient is a transposed convolution, its weight gradient the Function
``Conv2dWeightGradFunction``); ``jvp`` or ``linear = True`` for ops whose Jacobian does not
depend on their inputs (reshape, sum, relu, max pooling, dropout), turned into the pair of
Functions ``Adjoint``/``Tangent`` that differentiate each other to every order; or
``composite`` for fused ops rebuilt from other ops (batch norm, LRN, cross-entropy). Why not
Chainer's single backward on Variables: it would make every first-order backward build and
then discard a graph (slower, and no longer the plain array formulas people read), and it
doubles the cost of ops whose fused array backward has no Variable form. Why not a second
backward per op: the Adjoint/Tangent pair and composites cover most ops with a line or two,
so only ops with genuine second derivatives write their formula a second time. A Function
with none of them (a custom one) still works under create_graph; differentiating its
gradients again raises, naming it (torch's ``once_differentiable``).
"""
import functools
import weakref

import numpy as np

from . import backend
from ._contract import checked_output
from .saved_versions import saved_versions
from .tensor import Tensor


class _GradMode:
    enabled = True


def is_grad_enabled():
    return _GradMode.enabled


class _SetGradMode:
    """Context manager and decorator that sets grad mode, restoring it on exit. Used as a
    decorator with or without parentheses: ``@no_grad()`` and ``@no_grad`` both work."""

    mode = True

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]):   # @no_grad, no parentheses
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        self.previous = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc):
        _GradMode.enabled = self.previous

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous = _GradMode.enabled
            _GradMode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _GradMode.enabled = previous
        return wrapper


class no_grad(_SetGradMode):
    """Run without recording the graph: no Function keeps its inputs, nothing requires grad."""

    mode = False


class enable_grad(_SetGradMode):
    mode = True


class inference_mode(_SetGradMode):
    """torch's inference mode: here the same as ``no_grad()`` (``mode=False`` changes
    nothing). scratchnet has no separate inference tensors."""

    def __init__(self, mode=True):
        self.inference = bool(mode)

    @property
    def mode(self):
        return False if self.inference else _GradMode.enabled


class set_grad_enabled(_SetGradMode):
    """``set_grad_enabled(False)`` switches grad mode at once (as a plain call, as torch);
    used in ``with`` or as a decorator it restores the previous mode afterwards."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.previous = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _GradMode.enabled = self.previous    # decorating is not calling: undo the switch
        return super().__call__(fn)


# Callables ``observer(fn, inputs, outputs)`` run after each Function's forward, with the
# tensors it was called with (None for a missing input) and the tuple of output tensors;
# scratchnet.summary adds one to follow receptive fields through every op.
forward_observers = []

# Callables ``observer(fn, grad_outputs, grad_inputs, seconds)`` run after each Function's
# backward; scratchnet.viz.trace_backward adds one to record the order backprop ran in.
backward_observers = []


class Function:
    """Base class of every differentiable op.

    Attributes set by ``__call__`` that ``forward``/``backward`` may use:
      ``needs_input_grad``: a bool per input, so backward skips gradients nobody reads.
      ``saved_tensors``: the arrays passed to ``save_for_backward``; freed after backward
      unless ``retain_graph=True``.

    Arrays that backward needs go through ``save_for_backward`` and nowhere else, so that
    ``release()`` frees them; plain values (shapes, dtypes, numbers) may sit on ``self``.
    Once the graph is recorded, ``inputs`` holds per input None, the leaf Tensor, or an
    ``Edge`` to the Function that made it; ``next_functions`` shows it as torch does.
    """

    generation = 0  # longest path from a leaf; backward visits high generations first
    inplace = False  # True: forward writes into its first input's array and returns it
    _saved = ()
    _saved_versions = ()  # (position in _saved, VersionCounter, version, role, index)
    _forward_trace = None  # where forward was called, recorded in anomaly mode
    _released = False
    _output_hooks = None  # {output index: [hook, ...]}, from Tensor.register_hook

    def __call__(self, *inputs):
        # one pass over the inputs: their arrays, which require grad, and whether all arrays
        # are NumPy's (then they share the device, and the device check is skipped)
        arrays, wants_grad, on_cpu = [], [], True
        try:
            for t in inputs:
                if t is None:
                    arrays.append(None)
                    wants_grad.append(False)
                else:
                    arrays.append(t.data)
                    wants_grad.append(t._requires_grad)
                    on_cpu = on_cpu and type(t.data) is np.ndarray
        except AttributeError:              # an input that is not a Tensor (a NumPy array)
            raise not_a_tensor(type(self).__name__, inputs) from None
        if not on_cpu:
            _check_same_device(type(self).__name__, [t for t in inputs if t is not None])
        record = _GradMode.enabled and True in wants_grad
        self.needs_input_grad = tuple(wants_grad) if record else (False,) * len(inputs)
        if self.inplace:
            inputs[0]._version_counter.version += 1
        token = _ieee_on()
        try:
            if on_cpu:                      # no GPU to make current (and no `with` to pay for)
                outputs = self.forward(*arrays)
            else:
                with backend.using_device_of(*arrays):
                    outputs = self.forward(*arrays)
        finally:
            _ieee_off(token)
        single = not isinstance(outputs, tuple)
        if self.inplace:
            outputs = (written_in_place(self, inputs[0], outputs),)
        elif single:
            outputs = (Tensor(outputs if type(outputs) is np.ndarray
                              else checked_output(self, 0, outputs)),)
        else:
            outputs = tuple(Tensor(y if type(y) is np.ndarray else checked_output(self, k, y))
                            for k, y in enumerate(outputs))
        if record:
            self._record(inputs, outputs)
        else:
            self._saved = ()  # nothing will call backward: drop saved arrays now
        for observe in forward_observers:
            observe(self, inputs, outputs)
        return outputs[0] if single else outputs

    def _record(self, inputs, outputs):
        """Make this Function the ``grad_fn`` of its (float) outputs and keep what backward
        needs: leaves (parameters, constants) as they are; a non-leaf input only as an
        ``Edge`` to its grad_fn, so that its array is freed as soon as nothing else needs it."""
        kept, generation = [], 0
        for t in inputs:
            fn = None if t is None else t.grad_fn
            if fn is None:
                kept.append(t)
            else:
                kept.append(Edge(t))
                if fn.generation >= generation:
                    generation = fn.generation + 1
        if self.inplace and inputs[0].grad_fn is None:
            kept[0] = None                  # the target was a constant before
        self.inputs, self.generation = tuple(kept), generation
        if self._saved:
            self._saved_versions = saved_versions(self._saved, inputs, outputs)
        self.outputs = refs = []
        self._output_meta = meta = []
        for i, y in enumerate(outputs):
            data = y.data
            refs.append(weakref.ref(y))
            meta.append((data.shape, data.dtype))
            if data.dtype.kind == "f":      # integer outputs (argmax indices) carry no grad
                if y.grad_fn is not None:   # an in-place target: its old history lets go
                    leave_history(y)
                y._requires_grad, y.grad_fn, y._output_index = True, self, i

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    # The differentiable backward that create_graph=True runs (module docstring, and
    # higher_order.py): a subclass defines ``backward_graph(*grad_output_tensors)`` with
    # scratchnet ops, or ``jvp(*input_tangents)`` on arrays for an op whose Jacobian does not
    # depend on its inputs (linear, or piecewise linear as relu and max pooling), or sets
    # ``linear = True`` when forward itself is that Jacobian.
    linear = False

    def graph_input(self, i, array):
        """Input ``i`` as a Tensor of the graph, for ``backward_graph``: a leaf (or None) as
        it is, any other input as a tensor holding ``array`` (what forward saved of it) made
        by the same Function output as the original, so gradients flow on through it."""
        x = self.inputs[i]
        if x is None or type(x) is not Edge:
            return x
        if array is None:  # not saved, and its values do not matter (an added bias)
            array = backend.to_device(np.zeros(x.shape, x.dtype), x.device)
        return _graph_tensor(array, x.grad_fn, x._output_index)

    def graph_output(self, k, array):
        """Output ``k`` (whose array forward saved) as a Tensor of the graph made by this
        Function, for a ``backward_graph`` written in terms of the output (exp, tanh)."""
        return _graph_tensor(array, self, k)

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time "
                "(its saved arrays were freed after the first backward); pass "
                "retain_graph=True to the first backward() to keep them")
        for entry in self._saved_versions:
            if entry[1].version != entry[2]:
                raise RuntimeError(_modified_message(self, *entry))
        return self._saved

    @property
    def next_functions(self):
        """Where backward sends each input's gradient, as torch's ``grad_fn.next_functions``:
        per input a pair (node, output index), the node being the Function that made the
        input, an ``AccumulateGrad`` whose ``variable`` is the input for a leaf that
        requires grad, or None for a constant or a missing input."""
        return tuple(_next_function(x) for x in getattr(self, "inputs", ()))

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
    outputs it is), and the signature (array type, shape, dtype) of its data; not the data."""

    __slots__ = ("_output_index", "grad_fn", "signature")
    requires_grad, is_leaf = True, False

    def __init__(self, tensor):
        self.grad_fn, self._output_index = tensor.grad_fn, tensor._output_index
        data = tensor.data
        self.signature = type(data), data.shape, data.dtype    # _signature, without a call

    @property
    def shape(self):
        return tuple(self.signature[1])

    @property
    def dtype(self):
        return self.signature[2]

    @property
    def device(self):
        return "cuda" if backend.is_cupy_type(self.signature[0]) else "cpu"


def _graph_tensor(array, grad_fn, index):
    t = Tensor(array)
    t._requires_grad, t.grad_fn, t._output_index = True, grad_fn, index
    return t


def _signature(array):
    """What a gradient must share with its input: array type (the device), shape, dtype."""
    return type(array), array.shape, array.dtype


class AccumulateGrad:
    """The node torch's ``next_functions`` shows for a leaf that requires grad: it stands for
    adding the incoming gradient into ``variable.grad`` (scratchnet's engine does that step
    itself). A leaf has one while anything refers to it, as in torch."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return f"<AccumulateGrad for a leaf of shape {self.variable.shape}>"


def _next_function(x):
    if x is None or not x.requires_grad:
        return None, 0
    if x.grad_fn is not None:
        return x.grad_fn, x._output_index
    node = x._grad_accumulator and x._grad_accumulator()
    if node is None:
        node = AccumulateGrad(x)
        x._grad_accumulator = weakref.ref(node)
    return node, 0


def not_a_tensor(op, values):
    """The TypeError for an op given something other than a Tensor (first such value)."""
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, Tensor):
            shape = f" of shape {tuple(value.shape)}" if hasattr(value, "shape") else ""
            kind = type(value)
            return TypeError(f"{op}: expected a Tensor as input {i}, got a "
                             f"{kind.__module__}.{kind.__qualname__}{shape}; wrap it with "
                             "sn.tensor(...)")
    return TypeError(f"{op}: expected Tensors as inputs")


def ieee():
    """Results are IEEE's, as torch's: x / 0, log 0, overflow and inf − inf give inf and nan
    without NumPy's warnings (around every forward, and around a whole backward pass)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


try:  # NumPy 2: the error state is a context variable, which __call__ sets directly
    from numpy._core.umath import _extobj_contextvar, _make_extobj
except ImportError:  # pragma: no cover (NumPy 1)
    _extobj_contextvar = None
_ieee_states = {}   # the error state in effect -> that state with ieee()'s three settings


def _ieee_on():
    """Enter ``ieee()`` for one forward, as ``with ieee():`` does but in 0.3 µs instead of 2
    (per op, that was a seventh of the bookkeeping); returns what ``_ieee_off`` takes."""
    if _extobj_contextvar is None:  # pragma: no cover
        state = ieee()
        state.__enter__()
        return state
    current = _extobj_contextvar.get()
    state = _ieee_states.get(current)
    if state is None:               # made inside the current state: its other settings stay
        if len(_ieee_states) > 64:
            _ieee_states.clear()
        state = _ieee_states[current] = _make_extobj(divide="ignore", invalid="ignore",
                                                     over="ignore")
    return _extobj_contextvar.set(state)


def _ieee_off(token):
    if _extobj_contextvar is None:  # pragma: no cover
        token.__exit__(None, None, None)
    else:
        _extobj_contextvar.reset(token)


def written_in_place(fn, target, returned):
    """The output of in-place Function ``fn``: ``target`` itself, whose array forward wrote."""
    if returned is not target.data:
        raise RuntimeError(f"{type(fn).__name__}.forward is in place (inplace = True) but did "
                           "not return its first input's array; write into it and return it")
    return target


def leave_history(tensor):
    """``tensor`` is about to become the output of another Function (an in-place op, or a view
    whose base changed): its old grad_fn must no longer fill its retained ``.grad``."""
    fn = tensor.grad_fn
    if fn.outputs[tensor._output_index]() is tensor:
        fn.outputs[tensor._output_index] = _no_tensor


def _no_tensor():
    return None


def _modified_message(fn, position, counter, version, role, index):
    """torch's error for a saved array written in place after forward saved it."""
    array = fn._saved[position]
    name = type(fn).__name__
    made_by = ""
    if role == "output":
        made_by = f", which is output {index} of {name},"
    elif type(fn.inputs[index]) is Edge:
        edge = fn.inputs[index]
        made_by = f", which is output {edge._output_index} of {type(edge.grad_fn).__name__},"
    return (f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{array.dtype} {tuple(array.shape)}]{made_by} is at version "
            f"{counter.version}; expected version {version} instead. {name}.backward needs it "
            f"(its {role} {index}). Hint: run forward and backward under "
            "sn.autograd.detect_anomaly() to see the forward call that made it.")


def _check_same_device(op, tensors):
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        shown = ", ".join(f"{t.device} {t.shape}" for t in tensors)
        raise RuntimeError(f"{op}: expected all tensors on the same device, got {shown}")


# the backward engine builds on everything above; imported here so that ``run_backward`` is
# reachable as ``function.run_backward`` too
from .engine import run_backward  # noqa: E402,F401
