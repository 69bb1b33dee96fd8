"""In-place ops: ``x += y``, ``x.add_(y)``, ``x[index] = v``, ``fill_``, ``copy_``, ... (torch's
Tensor methods whose name ends in ``_``). Each writes into the tensor's own array, returns the
same Tensor and counts a version (the engine's side: function.py's module docstring).

Autograd sees them as torch does:
- with grad mode on, a leaf that requires grad (or a view of one) cannot be written;
- if the tensor or the value requires grad, the write is recorded: the tensor's grad_fn
  becomes the op, with an edge to its previous history. Arithmetic (``x += y``) is computed
  out of place, on a copy of x when recorded (so nothing the op saved is overwritten), then
  written by ``SetItemFunction``, the one Function every write goes through:

      forward:   x[region] = v                                 (in place)
      backward:  gx = gy with gy[region] = 0,   gv = gy[region] summed to v's shape

  A recorded write into a view is a write into its root, the region being the view's path
  and then the index; the root's views then see its new history (functional/_views.py).
- ``relu_``/``F.relu(inplace=True)``, ``leaky_relu`` and ``dropout`` have in-place Functions
  of their own (forward writes into x's array), so ``nn.ReLU(inplace=True)`` allocates nothing.
"""
import numpy as np

from .. import backend, random
from ..function import Function, is_grad_enabled, no_grad
from ..tensor import Tensor
from . import _views
from ._operands import can_cast, check_scalar_fits, torch_name, unbroadcast
from .arithmetic import add, clamp, div, floor_divide, mul, pow, remainder, sub
from .conversion import to_device
from .shape import unwrap_index

LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF = ("a view of a leaf Variable that requires grad is being used in an in-place "
                "operation.")
OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to tensor "
           "refer to a single memory location. Please clone() the tensor before performing the "
           "operation.")
NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block "
    "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
    "to be tracked).")


class SetItemFunction(Function):
    """x[region] = v, written into x's array; ``region`` is ``path(x)[index]``, ``path`` the
    steps from x's array to one of its views (None: x itself).
    Backward: gx = gy with gy[region] = 0, gv = gy[region] summed to v's shape."""

    inplace = True

    def __init__(self, index, path=None):
        self.index, self.path = index, path

    def _region(self, array):
        return array if self.path is None else self.path(array)

    def forward(self, x, v):
        self.v_shape = v.shape
        self._region(x)[self.index] = v
        return x

    def backward(self, gy):
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = gy.copy()
            self._region(gx)[self.index] = 0
        if self.needs_input_grad[1]:
            g = self._region(gy)[self.index]
            # NumPy lets a value with extra leading 1s fill a region: give them back first
            g = g.reshape((1,) * (len(self.v_shape) - g.ndim) + g.shape)
            gv = unbroadcast(g, self.v_shape)
        return gx, gv

    def jvp(self, dx, dv):
        """J·d: dx with the region replaced by dv (forward on the tangents, not in place)."""
        xp = backend.get_array_module(dx if dx is not None else dv)
        shape, dtype = self._output_meta[0]
        dy = xp.zeros(shape, dtype) if dx is None else dx.copy()
        self._region(dy)[self.index] = 0 if dv is None else dv
        return dy


class SnapshotFunction(Function):
    """y = a copy of x (torch's clone): arithmetic in place computes on it when recorded.
    Backward: gx = gy."""

    linear = True

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def check_writable(target, through_view=False):
    """torch's refusals of an in-place op with grad mode on, before anything is written."""
    if not is_grad_enabled():
        return
    root = target._base
    if root is None:
        if target.requires_grad and target.grad_fn is None:
            raise RuntimeError(VIEW_OF_LEAF if through_view else LEAF)
        return
    if not root.requires_grad:
        return
    if root.grad_fn is None:
        raise RuntimeError(VIEW_OF_LEAF)
    if target._view_kind == "no_grad":
        raise RuntimeError(NO_GRAD_VIEW)
    if target._view_kind == "multiple":
        made_by = type(target.grad_fn).__name__ if target.grad_fn is not None else "a view op"
        raise RuntimeError(
            f"Output {target._output_index} of {made_by} is a view and is being modified "
            "inplace. This view is the output of a function that returns multiple views. Such "
            "functions do not allow the output views to be modified inplace. You should "
            "replace the inplace operation by an out-of-place one.")


def write(target, index, value):
    """target[index] = value (a Tensor), in place; recorded through the root for a view."""
    if index is Ellipsis or _is_basic(index):
        _check_no_partial_overlap(target.data[index], value.data)
    root = target._base
    if root is not None and is_grad_enabled() and (root.requires_grad or value.requires_grad):
        SetItemFunction(index, target._view_path)(root, value)
        _views.regenerate_views(root)
        return target
    SetItemFunction(index)(target, value)
    if target._views and target.grad_fn is not None and is_grad_enabled():
        _views.regenerate_views(target)
    return target


def run(op, target, fn, compute):
    """Apply the in-place Function ``fn`` to ``target``; for a view whose write must be
    recorded through its root, compute ``compute(target)`` out of place and write that."""
    check_writable(target)
    if target._base is not None and is_grad_enabled() and target.requires_grad:
        return _update(op, target, compute, check=False)
    fn(target)
    if target._views and target.grad_fn is not None and is_grad_enabled():
        _views.regenerate_views(target)
    return target


def _update(op, target, compute, *others, check=True):
    """target = compute(target), written in place: the arithmetic ops."""
    if check:
        check_writable(target)
    for other in others:
        if isinstance(other, Tensor):
            _check_no_partial_overlap(target.data, other.data)
    record = is_grad_enabled() and (target.requires_grad or any(
        isinstance(o, Tensor) and o.requires_grad for o in others))
    if record:
        value = compute(SnapshotFunction()(target))
    else:
        with no_grad():
            value = compute(target)
    if value.shape != target.shape:
        raise RuntimeError(f"{op}: output with shape {list(target.shape)} doesn't match the "
                           f"broadcast shape {list(value.shape)}")
    if not can_cast(value.dtype, target.dtype):
        raise RuntimeError(f"{op}: result type {torch_name(value.dtype)} can't be cast to the "
                           f"desired output type {torch_name(target.dtype)}")
    return write(target, Ellipsis, value)


def add_(input, other, alpha=1):
    """input += alpha·other, in place (``Tensor.add_``, ``+=``)."""
    return _update("add_", input, lambda t: add(t, other, alpha), other)


def sub_(input, other, alpha=1):
    """input −= alpha·other, in place (``Tensor.sub_``, ``-=``)."""
    return _update("sub_", input, lambda t: sub(t, other, alpha), other)


def mul_(input, other):
    """input ·= other, in place (``Tensor.mul_``, ``*=``); its gradient is mul's."""
    return _update("mul_", input, lambda t: mul(t, other), other)


def div_(input, other, rounding_mode=None):
    """input /= other, in place (``Tensor.div_``, ``/=``); its gradient is div's."""
    return _update("div_", input, lambda t: div(t, other, rounding_mode), other)


def floor_divide_(input, other):
    """input //= other, in place (``//=``); not differentiable, as torch's."""
    return _update("floor_divide_", input, lambda t: floor_divide(t, other), other)


def remainder_(input, other):
    """input %= other, in place (``%=``); its gradient is remainder's."""
    return _update("remainder_", input, lambda t: remainder(t, other), other)


def pow_(input, exponent):
    """input **= exponent, in place (``**=``); its gradient is pow's."""
    return _update("pow_", input, lambda t: pow(t, exponent), exponent)


def clamp_(input, min=None, max=None):
    """input clamped to [min, max], in place (``Tensor.clamp_``); its gradient is clamp's."""
    return _update("clamp_", input, lambda t: clamp(t, min, max), min, max)


def setitem_(input, index, value):
    """``input[index] = value``: basic, integer-array or boolean ``index``; ``value`` a number
    or a Tensor that broadcasts to the indexed region."""
    index = unwrap_index(index)
    value = _value("setitem", input, value)
    check_writable(input, through_view=_is_basic(index))
    if value.ndim:
        _check_fills(input, index, value)
    write(input, index, value)


def fill_(input, value):
    """Every element of ``input`` set to ``value`` (a number or a 0-d Tensor)."""
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    value = _value("fill_", input, value)
    check_writable(input)
    return write(input, Ellipsis, value)


def copy_(input, src):
    """``input`` overwritten by ``src`` (a Tensor broadcasting to its shape, or a number), cast
    to input's dtype and moved to its device. Backward: gsrc = gy summed to src's shape."""
    if not isinstance(src, Tensor):
        if not isinstance(src, (bool, int, float, np.number)):
            kind = type(src)
            raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not "
                            f"{kind.__module__ + '.' if kind.__module__ != 'builtins' else ''}"
                            f"{kind.__qualname__}")
        src = _value("copy_", input, src)
    try:
        shape = np.broadcast_shapes(src.shape, input.shape)
    except ValueError:
        shape = None
    if shape != input.shape:
        raise RuntimeError(f"copy_: output with shape {list(input.shape)} doesn't match the "
                           f"broadcast shape of the source {list(src.shape)}")
    check_writable(input)
    return write(input, Ellipsis, to_device(src, input.device))


def _draw_dtype(tensor):
    """Draw float32 numbers for float32 tensors (VGG's 138M weights: no float64 detour)."""
    return np.float32 if tensor.dtype == np.float32 else np.float64


def uniform_(input, a=0.0, b=1.0):
    """``input`` filled with draws from U[a, b) (the generator ``manual_seed`` seeds)."""
    _check_random("check_uniform_bounds", input)
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a} > to={b}")
    dtype = _draw_dtype(input)
    values = random.generator().random(input.shape, dtype=dtype)
    values *= dtype(b - a)
    values += dtype(a)
    return _write_values(input, values)


def normal_(input, mean=0.0, std=1.0):
    """``input`` filled with draws from N(mean, std²)."""
    _check_random("normal_kernel_cpu", input)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    dtype = _draw_dtype(input)
    values = random.generator().standard_normal(input.shape, dtype=dtype)
    values *= dtype(std)
    values += dtype(mean)
    return _write_values(input, values)


def _check_random(kernel, input):
    if input.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{torch_name(input.dtype)}'")


def _write_values(input, values):
    check_writable(input)
    return write(input, Ellipsis, Tensor(backend.to_device(values.astype(input.dtype,
                                                                         copy=False),
                                                           input.device)))


def _value(op, target, value):
    """The value of a write as a Tensor; a number is checked to fit target's dtype (torch
    refuses 300 for int8, 1e300 for float32)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float, np.number)):
        check_scalar_fits(value, target.dtype)
        xp = backend.get_array_module(target.data)
        return Tensor(xp.asarray(value).astype(target.dtype))
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else \
        f"{kind.__module__}.{kind.__qualname__}"
    raise TypeError(f"{op}: can't assign a {name} to a {target.dtype} Tensor; make it a "
                    "Tensor with sn.tensor(...) or assign a number")


def _is_basic(index):
    """Only ints, slices, None and Ellipsis: the indexed region is a view of the array."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, slice) or (
        isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)))
        for p in parts)


def _check_no_partial_overlap(written, read):
    """torch refuses a write whose operand shares some, but not all, of its memory element for
    element (``x.add_(x[0])``, ``x[1:] = x[:-1]``); the very same array is fine (``x += x``)."""
    xp = backend.get_array_module(written)
    if written is read or not xp.may_share_memory(written, read):
        return
    same = (written.shape == read.shape and written.strides == read.strides
            and _address(written) == _address(read))
    if not same and xp.shares_memory(written, read):
        raise RuntimeError(OVERLAP)


def _address(array):
    return array.data.ptr if backend.is_cupy(array) else array.ctypes.data


def _check_fills(target, index, value):
    """The value must broadcast to the indexed region (leading 1s allowed, as NumPy)."""
    xp = backend.get_array_module(target.data)
    region = xp.broadcast_to(xp.empty((), target.dtype), target.shape)[index].shape
    shape = value.shape
    while len(shape) > len(region) and shape[0] == 1:
        shape = shape[1:]
    try:
        fits = np.broadcast_shapes(shape, region) == region
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"setitem: a value of shape {list(value.shape)} cannot fill the "
                           f"region of shape {list(region)} indexed in a tensor of shape "
                           f"{list(target.shape)}")
