"""The empirical receptive field of one unit: which input pixels its gradient reaches.

The analytic receptive field (``summary``'s ``receptive_field`` and ``jump`` columns) follows
the recurrence r_out = r_in + (k - 1)·d·j_in, j_out = j_in·s over the layers. The empirical one
backpropagates from a single output unit to the input image and looks where the gradient is
not zero. Max pooling sends the gradient to one element of each window and a ReLU blocks it
where its input was negative, so one image shows only part of the field; the union over a
batch of random images (one backward, since images do not interact in eval mode) fills it.
"""
import difflib
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..function import enable_grad
from ..models import model_input_size
from ..tensor import Tensor


@dataclass
class ReceptiveField:
    """``size`` (height, width) of the box of input pixels ``rows`` x ``cols`` (half-open
    ranges) where the gradient of ``layer``'s unit ``unit`` (row, col of its output map) is not
    zero. ``clipped`` is True when the box touches the image border, so the field may reach
    beyond the input (make the input larger to see all of it). ``gradient`` is the (H, W) map
    of mean |dy/dx| over the samples and input channels, for plotting."""

    layer: str
    unit: tuple
    size: tuple
    rows: tuple
    cols: tuple
    clipped: bool
    gradient: np.ndarray

    def __str__(self):
        clip = " (touches the image border: may be clipped)" if self.clipped else ""
        return (f"{self.layer} unit {self.unit}: receptive field {self.size[0]}x{self.size[1]} "
                f"at rows {self.rows[0]}..{self.rows[1] - 1}, cols {self.cols[0]}.."
                f"{self.cols[1] - 1}{clip}")


class _Stop(Exception):
    """Raised by the hook once the layer's output is in hand: the rest of the net is skipped."""


def receptive_field(model, input_size, layer, unit=None, channel=None, samples=16, seed=0):
    """The empirical receptive field of one unit of ``layer`` (a name from
    ``model.named_modules()``), for inputs of ``input_size`` (C, H, W), or the model's
    ``default_input_size`` when None.

    ``unit`` (row, col) defaults to the centre of the layer's output map; ``channel`` picks one
    channel, or None for all of them at that position (the same field, and no risk that one
    dead channel hides it). The model runs in eval mode on ``samples`` standard-normal images
    drawn with ``seed``; its mode, its parameters' ``requires_grad`` and ``.grad`` are left as
    they were. Returns a :class:`ReceptiveField`.
    """
    module = module_by_name(model, layer, "receptive_field")
    input_size = model_input_size(model, input_size, "receptive_field")
    params = list(model.parameters())
    dtype = params[0].dtype if params else np.float32
    device = params[0].device if params else "cpu"
    images = np.random.default_rng(seed).standard_normal((samples, *input_size)).astype(dtype)
    x = Tensor(backend.to_device(images, device), requires_grad=True)

    captured = []

    def hook(mod, inputs, output):
        captured.append(output)
        raise _Stop

    was_training, needs_grad = model.training, [p.requires_grad for p in params]
    handle = module.register_forward_hook(hook)
    try:
        model.eval()
        for p in params:  # only the image needs a gradient; the weights' .grad stay untouched
            p.requires_grad = False
        with enable_grad():
            try:
                model(x)
            except _Stop:
                pass
            if not captured:
                raise RuntimeError(f"receptive_field: layer {layer!r} was not called by "
                                   f"{type(model).__name__}.forward")
            y = captured[0]
            unit = _check_unit(layer, y, unit, channel)
            seed_grad = np.zeros(y.shape, y.dtype)
            seed_grad[(slice(None), slice(channel, None if channel is None else channel + 1),
                       *unit)] = 1  # dL/dy = 1 at the chosen unit of every image, 0 elsewhere
            y.backward(backend.to_device(seed_grad, device))
    finally:
        handle.remove()
        model.train(was_training)
        for p, flag in zip(params, needs_grad):
            p.requires_grad = flag

    grad = np.abs(backend.to_numpy(x.grad.data)).mean(axis=(0, 1))  # (N, C, H, W) -> (H, W)
    rows, cols = np.flatnonzero(grad.any(axis=1)), np.flatnonzero(grad.any(axis=0))
    if rows.size == 0:
        raise RuntimeError(f"receptive_field: the gradient of {layer!r} unit {unit} is zero on "
                           f"every pixel of {samples} images (dead ReLUs?); try another unit, "
                           "channel=None or more samples")
    H, W = input_size[1:]
    box_rows, box_cols = (int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)
    clipped = box_rows[0] == 0 or box_cols[0] == 0 or box_rows[1] == H or box_cols[1] == W
    return ReceptiveField(layer, unit, (box_rows[1] - box_rows[0], box_cols[1] - box_cols[0]),
                          box_rows, box_cols, clipped, grad)


def module_by_name(model, name, who):
    """``model``'s submodule called ``name``, or a ValueError listing the names it has."""
    modules = dict(model.named_modules())
    if name and name in modules:
        return modules[name]
    known = [n for n in modules if n]
    close = difflib.get_close_matches(str(name), known, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(known[:30]) + (f", ... ({len(known)} in all)" if len(known) > 30 else "")
    raise ValueError(f"{who}: {type(model).__name__} has no layer named {name!r}.{hint} "
                     f"Its layers (model.named_modules()): {shown}")


def _check_unit(layer, y, unit, channel):
    if not isinstance(y, Tensor) or y.ndim != 4:
        shape = y.shape if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(f"receptive_field: layer {layer!r} gives {shape}, not a feature map "
                         "(N, C, H, W); pick a convolution or pooling layer")
    _, C, OH, OW = y.shape
    unit = (OH // 2, OW // 2) if unit is None else tuple(int(v) for v in unit)
    if len(unit) != 2 or not (0 <= unit[0] < OH and 0 <= unit[1] < OW):
        raise ValueError(f"receptive_field: unit {unit} is outside {layer!r}'s output map "
                         f"{OH}x{OW}")
    if channel is not None and not 0 <= channel < C:
        raise ValueError(f"receptive_field: channel {channel} is outside {layer!r}'s {C} "
                         "channels")
    return unit
