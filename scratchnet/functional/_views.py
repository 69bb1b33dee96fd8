"""Views: tensors whose arrays are views of another tensor's array, as torch has them.

A view op (reshape/view/flatten/squeeze/unsqueeze, permute/transpose, indexing with ints,
slices, None and Ellipsis, split/chunk) whose output array shares memory with its input
passes the output to ``track``. The view then

- shares the version counter of its root (``_base``, always the root tensor, as torch's), so
  that a write through any of them is seen by every Function that saved any of them;
- keeps ``_view_path``, the steps that take the root's array to its own, so that an in-place
  op on the view, recorded by autograd, is recorded as a write into the root through that
  path (functional/inplace.py), and
- is listed in the root's ``_views``, so that when the root's history changes (an in-place
  op on it or on one of its views) every live view gets a grad_fn that takes it again from the
  root's new history (``regenerate_views``; torch does the same, lazily).

``_view_kind`` records how the view was made: "grad" (grad mode on), "no_grad", or "multiple"
(one of several views returned by one op): torch refuses in-place ops on the last two when
the root requires grad, and so does scratchnet. ``detach()`` shares the counter only: it is
not a view for autograd.
"""
import weakref

from .. import backend
from ..function import Function, is_grad_enabled, leave_history


class ViewPath:
    """The steps (each a function array -> view of it) from a root's array to a view's."""

    __slots__ = ("steps",)

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, array):
        for step in self.steps:
            array = step(array)
        return array


def track(view, base, step, multiple=False):
    """Record that ``view`` was made from ``base`` by ``step`` (a function on arrays), if its
    array is a view of base's (NumPy may have copied instead). Returns ``view``."""
    if view is base or not backend.get_array_module(view.data).may_share_memory(view.data,
                                                                                 base.data):
        return view
    root = base if base._base is None else base._base
    steps = (step,) if base._base is None else base._view_path.steps + (step,)
    kind = "multiple" if multiple else "grad" if is_grad_enabled() else "no_grad"
    if base._view_kind in ("no_grad", "multiple"):  # a view of such a view inherits it
        kind = base._view_kind
    view._base, view._view_path, view._view_kind = root, ViewPath(steps), kind
    view._version_counter = root._version_counter
    if root._views is None:
        root._views = weakref.WeakSet()
    root._views.add(view)
    return view


class ViewFunction(Function):
    """y = path(x): a view taken again from its root. Backward: gx = zeros of x's shape with
    gx[path] = gy (the path of a view op is a view of any fresh array too)."""
    linear = True  # forward is its own Jacobian map (higher_order.py)


    def __init__(self, path):
        self.path = path

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return self.path(x)

    def backward(self, gy):
        gx = backend.get_array_module(gy).zeros(self.x_shape, self.x_dtype)
        self.path(gx)[...] = gy
        return gx


def regenerate_views(root):
    """After ``root``'s history changed: each live view made with grad mode on becomes the
    output of a ViewFunction of the root's new history (its array is unchanged: it already
    shows the new values)."""
    for view in list(root._views or ()):
        if view._view_kind == "no_grad":
            continue
        fresh = ViewFunction(view._view_path)(root)
        if fresh.grad_fn is None:
            continue
        if view.grad_fn is not None:
            leave_history(view)
        view.grad_fn, view._output_index, view._requires_grad = fresh.grad_fn, 0, True
        fresh.grad_fn.outputs[0] = weakref.ref(view)
