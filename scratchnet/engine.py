"""The backward engine: ``run_backward`` walks the recorded graph of Functions from the
roots to the leaves (or to the tensors asked for) and delivers each leaf's gradient.

How a Function records itself and what its backward returns: function.py. Under
``create_graph`` each Function runs its differentiable backward (higher_order.py).
"""
import functools
import heapq
import itertools
import time

import numpy as np

from . import backend
from ._contract import checked_gradient, one_per_input
from .function import Edge, _signature, backward_observers, enable_grad, ieee, no_grad
from .saved_versions import memory_root
from .higher_order import differentiable_backward
from .tensor import Tensor, post_hooked_leaves, run_hooks


def _with_ieee_results(function):
    """``function`` run inside ``ieee()``."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with ieee():
            return function(*args, **kwargs)
    return wrapper


@_with_ieee_results
def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None,
                 accumulate=True):
    """Backpropagate ``grads`` (one per root) from ``roots`` through the recorded graph.

    Functions are visited in decreasing ``generation``: a Function's generation exceeds that
    of every Function that made its inputs, so each one runs only after all its consumers
    have added their contribution to its output gradients. A heap replaces recursion, so a
    graph of any depth works.

    A leaf's gradient is summed over the whole pass and stored at the end, except for
    leaves with post-accumulate hooks: for those the engine counts the edges into each
    leaf (``_edges_into_hooked_leaves``) and stores the gradient, then runs the hooks, as
    soon as the last Function feeding that leaf has run.

    ``create_graph``: gradients are Tensors and each Function runs its differentiable
    backward (module docstring), so the gradients are themselves in a graph. ``inputs``: only
    these tensors (leaves or not) get gradients, and only Functions on a path to them run;
    with ``accumulate=False`` (``autograd.grad``) their gradients are returned, one per input
    (None where none arrived), instead of being added into ``.grad``.
    """
    if isinstance(roots, Tensor):
        roots, grads = (roots,), (grads,)
    order = itertools.count()  # ties in the heap break by insertion, never by comparing Functions
    heap, pending, leaf_grads = [], {}, {}
    taken = {}  # memory given out as .grad (and the seeds'), by owner
    for g in grads:
        taken.setdefault(id(memory_root(_array(g))), []).append(_array(g))
    targets = needed = captured = None
    if inputs is not None:
        targets = {_target_key(t): k for k, t in enumerate(inputs)}
        needed = _functions_reaching(roots, targets)
        captured = {}
    waiting = (_edges_into_hooked_leaves(roots)
               if post_hooked_leaves and targets is None else None)

    def send(tensor, g):
        fn = tensor.grad_fn
        if fn is None:
            if targets is not None and id(tensor) not in targets:
                return
            entry = leaf_grads.setdefault(id(tensor), [tensor, None])
            if entry[1] is None:
                entry[1] = g
            else:
                with backend.using_device_of(g):
                    entry[1] = entry[1] + g
            return
        if fn not in pending:
            if needed is not None and fn not in needed and (fn, tensor._output_index) not in \
                    targets:
                return
            pending[fn] = [None] * len(fn.outputs)
            heapq.heappush(heap, (-fn.generation, next(order), fn))
        slot = pending[fn]
        i = tensor._output_index
        if slot[i] is None:
            slot[i] = g
        else:
            with backend.using_device_of(g):
                slot[i] = slot[i] + g

    with enable_grad() if create_graph else _nothing():
        for root, g in zip(roots, grads):
            send(root, g)
        while heap:
            fn = heapq.heappop(heap)[2]
            grads = pending.pop(fn)
            arrays = [g if type(g) is np.ndarray else _array(g)  # (no call for a host array)
                      for g in grads if g is not None]
            with backend.using_device_of(*arrays):    # its GPU is the current one meanwhile
                for i, ref in enumerate(fn.outputs):
                    if grads[i] is None:  # an output nobody used, e.g. one piece of a split
                        shape, dtype = fn._output_meta[i]
                        grads[i] = backend.get_array_module(*arrays).zeros(shape, dtype)
                        if create_graph:
                            grads[i] = Tensor(grads[i])
                        continue
                    if fn._output_hooks and i in fn._output_hooks:
                        grads[i] = run_hooks(fn._output_hooks[i], grads[i])
                    y = ref()
                    if y is not None and y._retains_grad:  # summed over backward calls, as torch
                        y._grad = _retained(y._grad, grads[i])
                    if targets is not None and (fn, i) in targets:
                        captured[targets[fn, i]] = grads[i]
                if needed is not None and fn not in needed:
                    continue                  # a target's maker: nothing asked for lies below it
                start = time.perf_counter() if backward_observers else None
                try:
                    input_grads = (differentiable_backward(fn, grads) if create_graph
                                   else fn.backward(*grads))
                except Exception as error:
                    if fn._forward_trace is not None and hasattr(error, "add_note"):
                        error.add_note(fn._forward_trace.describe(fn))  # anomaly mode (3.11+)
                    raise
                seconds = time.perf_counter() - start if start is not None else None
                if not isinstance(input_grads, tuple):
                    input_grads = (input_grads,)
                if len(input_grads) != len(fn.inputs):
                    input_grads = one_per_input(fn, input_grads)
                for x, gx in zip(fn.inputs, input_grads):
                    if gx is None or x is None or not x.requires_grad:
                        if x is None and gx is not None:
                            checked_gradient(fn, input_grads, x, gx)  # raises: no input to take it
                        continue
                    kind, shape, dtype = x.signature if type(x) is Edge else _signature(x.data)
                    if create_graph:
                        gx = _checked_graph_gradient(fn, input_grads, x, gx, kind, shape, dtype)
                    elif type(gx) is not kind or gx.shape != shape or gx.dtype != dtype:
                        gx = checked_gradient(fn, input_grads, x, gx)  # rare: cast or raise
                    send(x, gx)
                for observe in backward_observers:
                    observe(fn, [_array(g) for g in grads],
                            tuple(None if g is None else _array(g) for g in input_grads), seconds)
                if not retain_graph:
                    fn.release()
                if waiting:
                    _count_arrivals(fn, waiting, leaf_grads, taken)

        if not accumulate:
            for key, (leaf, g) in leaf_grads.items():
                captured[targets[key]] = run_hooks(leaf._hooks, g)
            return [captured.get(k) for k in range(len(inputs))]
        for leaf, g in leaf_grads.values():
            _accumulate(leaf, g, taken)
        if targets is not None:  # Tensor.backward(inputs=[a non-leaf]): into its .grad
            for t in inputs:
                key = _target_key(t)
                if t.grad_fn is not None and targets[key] in captured:
                    t._grad = _retained(t._grad, captured[targets[key]])


class _nothing:
    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


def _array(g):
    """The array of a gradient: itself, or a Tensor's data under ``create_graph``."""
    return g.data if isinstance(g, Tensor) else g


def _retained(previous, g):
    """A non-leaf's ``.grad`` after adding ``g`` (an array, or a Tensor under create_graph)."""
    if isinstance(g, Tensor):
        return g if previous is None else previous + g
    return Tensor(g.copy() if previous is None else previous.data + g)


def _target_key(t):
    """How the engine recognises a tensor asked for in ``inputs``: a leaf by identity, any
    other tensor by the Function output it is."""
    return id(t) if t.grad_fn is None else (t.grad_fn, t._output_index)


def _functions_reaching(roots, targets):
    """The Functions below ``roots`` from whose inputs some target can be reached: the only
    ones whose backward must run for ``autograd.grad`` (torch prunes the same way)."""
    reaches, stack = {}, [r.grad_fn for r in roots if r.grad_fn is not None]
    while stack:
        fn = stack[-1]
        if fn in reaches:
            stack.pop()
            continue
        below = [x.grad_fn for x in fn.inputs if x is not None and x.requires_grad
                 and x.grad_fn is not None and x.grad_fn not in reaches]
        if below:
            stack.extend(below)
            continue
        stack.pop()
        reaches[fn] = getattr(fn, "always_run", False) or any(
            x is not None and x.requires_grad and (
                _target_key(x) in targets or (x.grad_fn is not None and reaches[x.grad_fn]))
            for x in fn.inputs)
    return {fn for fn, yes in reaches.items() if yes}


def _checked_graph_gradient(fn, grads, x, gx, kind, shape, dtype):
    """``_contract``'s checks on a gradient Tensor (create_graph): a float gradient of
    another precision is cast differentiably; anything else wrong raises."""
    data = _array(gx)
    if type(data) is kind and data.shape == shape and data.dtype == dtype:
        return gx if isinstance(gx, Tensor) else Tensor(gx)
    k = next(k for k, (a, b) in enumerate(zip(fn.inputs, grads)) if a is x and b is gx)
    arrays = tuple(_array(g) for g in grads)
    checked_gradient(fn, arrays, x, arrays[k])  # raises unless only the precision differs
    return (gx if isinstance(gx, Tensor) else Tensor(gx)).to(dtype)


def _edges_into_hooked_leaves(roots):
    """{id(leaf): number of edges into it} for the leaves with post-accumulate hooks that the
    graph below ``roots`` reaches; run only when such a hook exists anywhere."""
    counts, seen = {}, set()
    stack = list({r.grad_fn for r in roots if r.grad_fn is not None})
    while stack:
        fn = stack.pop()
        for x in fn.inputs:
            if x is None or not x.requires_grad:
                continue
            if x.grad_fn is not None:
                if x.grad_fn not in seen:
                    seen.add(x.grad_fn)
                    stack.append(x.grad_fn)
            elif x._post_accumulate_hooks:
                counts[id(x)] = counts.get(id(x), 0) + 1
    return counts


def _count_arrivals(fn, waiting, leaf_grads, taken):
    """``fn`` has run: one edge fewer into each hooked leaf it feeds. A leaf with none left
    has its whole gradient now: store it and run its hooks while backward goes on. A leaf
    one of whose Functions never runs (its gradient came back None) is stored at the end."""
    for x in fn.inputs:
        if x is not None and id(x) in waiting:
            waiting[id(x)] -= 1
            if waiting[id(x)] == 0 and id(x) in leaf_grads:
                _accumulate(x, leaf_grads.pop(id(x))[1], taken)


def _accumulate(leaf, g, taken):
    """Pass ``g`` through the leaf's hooks, add it into ``leaf.grad``, then run the leaf's
    post-accumulate hooks. An existing ``.grad`` is added to in place (the same Tensor and
    array, as torch). A first gradient is taken as it is unless it overlaps memory already
    given to another leaf (or the seed's): ``taken`` lists those arrays by the id of the array
    owning their memory, and an overlapping gradient is copied, so that adding into one
    ``.grad`` never changes another (the slices cat's backward hands out do not overlap).
    So is the array of a leaf with post-accumulate hooks, which may write into it while the
    engine (or another leaf) still reads that array."""
    g = run_hooks(leaf._hooks, g)
    if isinstance(g, Tensor):  # create_graph: .grad is a Tensor of the new graph (torch's
        _accumulate_graph(leaf, g, taken)  # rule: added out of place, so it stays in it)
    elif leaf._grad is not None:
        leaf._grad.data += g
    else:
        given = taken.setdefault(id(memory_root(g)), [])
        shares = backend.get_array_module(g).shares_memory
        if leaf._post_accumulate_hooks or any(shares(g, other) for other in given):
            leaf._grad = Tensor(g.copy())
        else:
            leaf._grad = Tensor(g)
            given.append(g)
    _run_post_accumulate_hooks(leaf)


def _accumulate_graph(leaf, g, taken):
    """``_accumulate`` for a gradient Tensor (create_graph): a first gradient whose memory
    another leaf already holds is cloned, differentiably; a later one is added out of place."""
    if leaf._grad is not None:
        leaf._grad = leaf._grad + g
        return
    given = taken.setdefault(id(memory_root(g.data)), [])
    shares = backend.get_array_module(g.data).shares_memory
    if leaf._post_accumulate_hooks or any(shares(g.data, other) for other in given):
        g = g.clone()
    else:
        given.append(g.data)
    leaf._grad = g


def _run_post_accumulate_hooks(leaf):
    if leaf._post_accumulate_hooks:
        with no_grad():  # as torch: a hook's own ops are not recorded
            for hook in list(leaf._post_accumulate_hooks):
                returned = hook(leaf)
                if returned is not None:
                    raise RuntimeError("post accumulate grad hooks should return None, got "
                                       f"{type(returned).__name__}")
