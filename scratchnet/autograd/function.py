"""Custom autograd functions the torch way: static ``forward(ctx, ...)`` and
``backward(ctx, ...)`` on Tensors, called through ``apply``.

    class Exp(sn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    y = Exp.apply(x)

This is a front end to the engine's own ``scratchnet.Function`` (arrays in, arrays out, one
instance per call), which the built-in ops are made of: ``apply`` builds one such node per
call, named after the class (``ExpBackward``, as torch names ``grad_fn``). The node's forward
runs the user's ``forward`` on the original arguments with grad mode off; its backward wraps
the incoming gradients as Tensors, runs the user's ``backward`` (grad mode off) and hands the
arrays back, so the engine's checks (count, shape, dtype, device of every gradient) apply to
these Functions too. Arguments that are not Tensors pass through to ``forward`` and must get
None as their gradient.

Under ``create_graph=True`` the user's ``backward`` runs with grad mode on, on the saved
tensors themselves (a saved output is the output ``apply`` returned), so a backward written
with scratchnet ops is differentiable, as in torch. ``@once_differentiable`` on ``backward``
says it is not: its gradients then raise if differentiated again.
"""
import functools
import weakref

from ..function import Function as ArrayFunction
from ..function import no_grad
from ..tensor import Tensor


def once_differentiable(backward):
    """Decorator for a custom Function's ``backward`` that cannot be differentiated: it runs
    with grad mode off, and gradients it returns under ``create_graph=True`` raise, naming
    the Function, if a later backward reaches them (torch's decorator of that name)."""
    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with no_grad():
            return backward(ctx, *grad_outputs)
    wrapper.once_differentiable = True
    return wrapper


class FunctionCtx:
    """The ``ctx`` that ``forward`` fills and ``backward`` reads. Besides the methods below it
    takes any attribute (``ctx.dim = dim``)."""

    def __init__(self, node, needs_input_grad):
        self._node = weakref.ref(node)             # the node holds ctx: no reference cycle
        self.needs_input_grad = needs_input_grad   # a bool per forward argument
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or None) for backward; freed once it has run."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors, but argument {i} "
                                f"is of type {type(t).__name__}")
        self._node().save_for_backward(*tensors)

    @property
    def saved_tensors(self):
        node = self._node()
        saved = node.saved_tensors
        if node.graph_outputs is not None:   # create_graph: a saved output is the graph's
            saved = tuple(node.graph_outputs.get(id(t), t) for t in saved)
        return saved

    def mark_non_differentiable(self, *outputs):
        """These outputs (e.g. indices) need no gradient: they come out with
        ``requires_grad=False``, and backward receives zeros for them."""
        self._non_differentiable.update(id(t) for t in outputs)


class Function:
    """Base class of torch-style custom Functions: subclass it, write ``forward(ctx, *args)``
    and ``backward(ctx, *grad_outputs)`` as static methods, call ``YourFunction.apply``.

    ``forward`` may instead take only the inputs if the class defines
    ``setup_context(ctx, inputs, output)`` (torch's newer split)."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a custom Function must define forward as a staticmethod")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a custom Function must define backward as a staticmethod "
                                  "to be differentiated")

    @classmethod
    def apply(cls, *args):
        """Run forward on ``args`` and record one node in the graph (when grad mode is on and
        some Tensor argument requires grad). Returns what forward returned."""
        node = _node_type(cls)(cls, args)
        outputs = node(*(a for a in args if isinstance(a, Tensor)))
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        for y, keep in zip(outputs, node.differentiable):
            if not keep and y.grad_fn is not None:
                y.grad_fn, y.requires_grad = None, False
        return outputs[0] if single else outputs


_node_types = {}


def _node_type(cls):
    """The engine Function class for one torch-style class: ``Exp`` -> ``ExpBackward``."""
    if cls not in _node_types:
        _node_types[cls] = type(f"{cls.__name__}Backward", (_Node,),
                                {"__module__": cls.__module__})
    return _node_types[cls]


class _Node(ArrayFunction):
    """One call of a torch-style Function, as an engine Function (module docstring)."""

    graph_outputs = None  # {id(inner output): output of the graph}, during backward_graph

    def __init__(self, function, args):
        self.function, self.args = function, args
        self.is_tensor = [isinstance(a, Tensor) for a in args]   # which got an engine input

    def forward(self, *arrays):
        tensor_needs = iter(self.needs_input_grad)
        needs = tuple(next(tensor_needs) if t else False for t in self.is_tensor)
        self.ctx = ctx = FunctionCtx(self, needs)
        uses_setup = "setup_context" in _defined(self.function)
        with no_grad():
            if uses_setup:
                output = self.function.forward(*self.args)
                self.function.setup_context(ctx, self.args, output)
            else:
                output = self.function.forward(ctx, *self.args)
        outputs = output if isinstance(output, tuple) else (output,)
        for i, y in enumerate(outputs):
            if not isinstance(y, Tensor):
                raise TypeError(f"{self.function.__name__}.forward must return Tensors (or a "
                                f"tuple of them), but output {i} is {type(y).__name__}")
        self.differentiable = [id(y) not in ctx._non_differentiable for y in outputs]
        self.output_ids = [id(y) for y in outputs]
        self.args = None                   # forward is done: keep only what ctx saved
        arrays = tuple(y.data for y in outputs)
        return arrays if isinstance(output, tuple) else arrays[0]

    def backward(self, *grad_outputs):
        with no_grad():
            grads = self.function.backward(self.ctx, *(Tensor(g) for g in grad_outputs))
        return self._checked(grads, graph=False)

    def backward_graph(self, *grad_outputs):
        """The user's backward on Tensors with grad mode on (``create_graph``)."""
        from ..higher_order import not_differentiable_twice

        if getattr(self.function.backward, "once_differentiable", False):
            return not_differentiable_twice(self, grad_outputs)
        saved = self._saved if isinstance(self._saved, tuple) else ()
        self.graph_outputs = {k: self.graph_output(self.output_ids.index(k), t.data)
                              for k, t in ((id(t), t) for t in saved if t is not None)
                              if k in self.output_ids}
        try:
            grads = self.function.backward(self.ctx, *grad_outputs)
        finally:
            self.graph_outputs = None
        return self._checked(grads, graph=True)

    def _checked(self, grads, graph):
        """The user's gradients, one per Tensor argument: arrays, or Tensors if ``graph``."""
        name = self.function.__name__
        grads = grads if isinstance(grads, tuple) else (grads,)
        needs = self.ctx.needs_input_grad
        if len(grads) > len(needs) and all(g is None for g in grads[len(needs):]):
            grads = grads[:len(needs)]             # torch allows extra trailing Nones
        if len(grads) != len(needs):
            raise RuntimeError(f"function {name}Backward returned an incorrect number of "
                               f"gradients (expected {len(needs)}, got {len(grads)})")
        arrays = []
        for i, (g, is_tensor) in enumerate(zip(grads, self.is_tensor)):
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"{name}.backward must return Tensors or None, but gradient "
                                f"{i} is {type(g).__name__}")
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(f"function {name}Backward returned a gradient different "
                                       f"than None at position {i + 1}, but the corresponding "
                                       "forward input was not a Tensor")
                continue
            arrays.append(g if g is None or graph else g.data)
        return tuple(arrays)


def _defined(cls):
    """The attribute names defined by ``cls`` and its bases below ``Function``."""
    names = set()
    for klass in cls.__mro__:
        if klass is Function:
            break
        names.update(vars(klass))
    return names
