"""Record what backprop does, Function by Function, in the order it does it.

    with sn.viz.trace_backward() as trace:
        loss.backward()
    print(trace)

Each row is one Function's ``backward``: the gradients it received for its outputs (dL/dy),
the gradients it returned for its inputs (dL/dx = dL/dy · dy/dx, the local chain rule), their
L2 norms, and the time it took. The engine runs a Function only after every consumer of its
outputs has run, so reading the rows top to bottom is reading the chain rule from the loss
back to the leaves.
"""
import weakref
from dataclasses import dataclass, field

from .. import backend
from .. import function as _function


@dataclass
class BackwardStep:
    """One Function's backward. Shapes and norms are per input / per output (None where an
    input was None or got no gradient). ``function()`` is the Function while it is alive."""

    name: str
    input_shapes: list
    output_shapes: list
    grad_output_norms: list
    grad_input_norms: list
    seconds: float
    function: weakref.ref = field(repr=False)


class trace_backward:
    """Context manager recording every Function whose backward runs inside it (``steps``, in
    execution order). ``print(trace)`` shows the table; ``trace.names`` the Function names.

    A row is written when its Function's backward returns. So a backward nested inside
    another (gradient checkpointing recomputes its segment and backpropagates through it)
    shows its rows just above the row of the Function that ran it, whose time includes
    theirs. On the GPU the times are launch times, since CuPy runs kernels asynchronously.
    """

    def __init__(self):
        self.steps = []

    def __enter__(self):
        _function.backward_observers.append(self._observe)
        return self

    def __exit__(self, *exc):
        _function.backward_observers.remove(self._observe)

    def _observe(self, fn, grad_outputs, grad_inputs, seconds):
        inputs = getattr(fn, "inputs", ())
        self.steps.append(BackwardStep(
            name=type(fn).__name__,
            input_shapes=[None if x is None else x.shape for x in inputs],
            output_shapes=[tuple(g.shape) for g in grad_outputs],
            grad_output_norms=[_norm(g) for g in grad_outputs],
            grad_input_norms=[_norm(g) for g in grad_inputs],
            seconds=seconds,
            function=weakref.ref(fn)))

    @property
    def names(self):
        return [s.name for s in self.steps]

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    def __str__(self):
        if not self.steps:
            return "trace_backward: no backward ran inside the with block"
        header = ("step", "function", "output shape", "|dL/dy|", "input shapes", "|dL/dx|",
                  "ms")
        rows = [header]
        for i, s in enumerate(self.steps):
            rows.append((str(i), s.name, _join(s.output_shapes), _join(s.grad_output_norms),
                         _join(s.input_shapes), _join(s.grad_input_norms),
                         f"{s.seconds * 1e3:.3f}"))
        total = sum(s.seconds for s in self.steps) * 1e3
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"{len(self.steps)} Functions, {total:.3f} ms in backward() calls")
        return "\n".join(lines)

    __repr__ = __str__


def _norm(g):
    """L2 norm of an array as a Python float (None for a missing gradient)."""
    if g is None:
        return None
    xp = backend.get_array_module(g)
    return float(xp.sqrt(xp.sum(xp.square(g.astype(xp.float64)))))


def _join(values):
    cells = []
    for v in values:
        if v is None:
            cells.append("-")
        elif isinstance(v, float):
            cells.append(f"{v:.4g}")
        else:
            cells.append(str(v))
    return ", ".join(cells)
