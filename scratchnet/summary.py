"""summary(model): one forward pass that lists every layer with its output shape, parameters,
multiply-accumulates and receptive field.

Counting follows torchvision's convention (its docs call the figure GFLOPS): a convolution
costs Cout·Hout·Wout·(Cin/groups)·KH·KW MACs per image, a linear layer in·out per row; batch
norm, activations, pooling, additions and concatenations cost nothing.

The receptive field r (how many input pixels one output pixel sees, per axis) and the jump j
(how many input pixels apart neighbouring outputs are) follow the analytic recurrence of a
window of size k, dilation d and stride s:

    r_out = r_in + d·(k - 1)·j_in        j_out = j_in · s

starting from r = j = 1 at the input. Padding moves the field but does not change its size;
nothing caps r at the image size (ResNet-50's last stage sees 427 pixels of a 224 image, most
of them padding). Convolutions and poolings called as modules use their exact kernel; any
other op that shrinks the map (adaptive pooling, a functional pool, a strided slice) is read
as the window that maps its input size onto its output size (stride I // O, kernel
I - (O - 1)·stride), and flattening a map into a vector is a window over all of it. Where
branches meet (an addition, a concatenation) the output's field is the largest of the
inputs': during the pass every op's output is tagged with its field, derived from its inputs'
tags, so the tags flow through residual additions and Inception concatenations.
"""
import contextlib
import weakref
from dataclasses import dataclass

import numpy as np

from . import backend, nn
from .function import forward_observers, no_grad
from .models import model_input_size
from .tensor import Tensor


@dataclass
class LayerRow:
    """One call of a leaf module (a module without children), in execution order.

    Shapes include the batch dimension. ``params`` counts the module's parameters on its
    first call and 0 on later calls (a ReLU module reused within a block); ``macs`` is per
    image. ``receptive_field`` and ``jump`` are ints, or (h, w) pairs where the two differ.
    """

    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    params: int
    macs: int
    receptive_field: object
    jump: object


@dataclass
class Summary:
    """What ``summary`` measured: ``model`` is the model's class name and ``input_size`` the
    (N, C, H, W) (or (N, F)) that ran. ``total_params`` counts every parameter of the model, also
    those of layers the pass did not run (GoogLeNet's auxiliary heads in eval mode);
    ``total_macs`` is per image; ``activation_bytes`` is one image's input plus every layer
    output, in the model's dtype, as if all were kept for backward."""

    model: str
    input_size: tuple
    rows: list
    total_params: int
    total_macs: int
    activation_bytes: int

    def __str__(self):
        return _table(self)


def summary(model, input_size=None):
    """Run ``model`` once on a random input of ``input_size`` ((C, H, W) or (N, C, H, W) for
    images, (F,) or (N, F) for vectors; default ``model.default_input_size``) in eval mode
    without recording a graph, and return a ``Summary``. Every module's training flag is
    restored afterwards."""
    input_size = model_input_size(model, input_size, "summary", batched=True, vectors=True)
    dtype, device = _dtype_and_device(model)
    x = np.random.default_rng(0).standard_normal(input_size).astype(dtype)
    x = Tensor(backend.to_device(x, device))
    batch = input_size[0]

    fields = _Fields()
    fields.set(x, _Field((1, 1), (1, 1)))
    rows, seen = [], set()
    handles = []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            handles.append(module.register_forward_hook(
                _row_recorder(name, rows, seen, fields, batch)))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad(), _propagating(fields):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes:
            object.__setattr__(m, "training", training)

    itemsize = np.dtype(dtype).itemsize
    activations = x.data.size // batch + sum(_numel(r.output_shape) for r in rows) // batch
    return Summary(type(model).__name__, input_size, rows,
                   sum(int(p.data.size) for p in model.parameters()),
                   sum(r.macs for r in rows), activations * itemsize)


@dataclass(frozen=True)
class _Field:
    rf: tuple    # (h, w)
    jump: tuple  # (h, w)

    def window(self, kernel, stride, dilation=(1, 1)):
        rf = tuple(r + d * (k - 1) * j for r, k, d, j in zip(self.rf, kernel, dilation,
                                                              self.jump))
        return _Field(rf, tuple(j * s for j, s in zip(self.jump, stride)))

    def through(self, in_shape, out_shape):
        """The field after an op known only by its shapes (see the module docstring)."""
        if len(in_shape) == 4 and len(out_shape) == 2:  # (N, C, H, W) -> (N, F): flatten
            return self.window(in_shape[2:], in_shape[2:])
        if len(in_shape) >= 3 and len(out_shape) == len(in_shape):
            sizes = list(zip(in_shape[-2:], out_shape[-2:]))
            if all(0 < o <= i for i, o in sizes) and any(o < i for i, o in sizes):
                stride = tuple(i // o for i, o in sizes)
                kernel = tuple(i - (o - 1) * s for (i, o), s in zip(sizes, stride))
                return self.window(kernel, stride)
        return self


class _Fields:
    """Tensor -> _Field, holding tensors weakly (a dead tensor's id may be reused)."""

    def __init__(self):
        self._table = {}

    def get(self, tensor):
        entry = self._table.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def set(self, tensor, field):
        self._table[id(tensor)] = (weakref.ref(tensor), field)


@contextlib.contextmanager
def _propagating(fields):
    """Tag every op's outputs with the largest field among its tagged inputs, carried
    through the op by its shapes: a forward observer, registered for the pass only."""

    def observe(fn, inputs, outputs):
        tagged = [(t, fields.get(t)) for t in inputs if isinstance(t, Tensor)]
        tagged = [(t, f) for t, f in tagged if f is not None]
        if tagged:
            widest = max(tagged, key=lambda tf: tf[1].rf[0] * tf[1].rf[1])[0]
            merged = _Field(tuple(max(f.rf[i] for _, f in tagged) for i in (0, 1)),
                            tuple(max(f.jump[i] for _, f in tagged) for i in (0, 1)))
            for y in outputs:
                fields.set(y, merged.through(widest.shape, y.shape))

    forward_observers.append(observe)
    try:
        yield
    finally:
        forward_observers.remove(observe)


def _row_recorder(name, rows, seen, fields, batch):
    def record(module, inputs, output):
        x = next((t for t in inputs if isinstance(t, Tensor)), None)
        outs = _tensors(output)
        if x is None or not outs:
            return
        field_in = fields.get(x) or _Field((1, 1), (1, 1))
        field = _layer_field(module, field_in, x.shape, outs[0].shape)
        for y in outs:
            fields.set(y, field)
        params = 0
        if id(module) not in seen:
            seen.add(id(module))
            params = sum(int(p.data.size) for p in module.parameters())
        out_shape = outs[0].shape if len(outs) == 1 else tuple(y.shape for y in outs)
        rows.append(LayerRow(name or type(module).__name__, type(module).__name__, x.shape,
                             out_shape, params, _macs(module, x, outs[0]) // batch,
                             _square(field.rf), _square(field.jump)))
    return record


def _layer_field(module, field, in_shape, out_shape):
    if isinstance(module, nn.Conv2d):
        return field.window(module.kernel_size, module.stride, module.dilation)
    if isinstance(module, nn.MaxPool2d):
        return field.window(_pair(module.kernel_size), _pair(module.stride),
                            _pair(module.dilation))
    if isinstance(module, nn.AvgPool2d):
        return field.window(_pair(module.kernel_size), _pair(module.stride))
    return field.through(in_shape, out_shape)


def _macs(module, x, y):
    """Multiply-accumulates of the whole batch, torchvision's convention."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return int(y.data.size) * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return int(y.data.size) * module.in_features
    return 0


def _dtype_and_device(model):
    for array in (*(p.data for p in model.parameters()), *model.buffers()):
        if array.dtype.kind == "f":
            return array.dtype, backend.device_of(array)
    return np.dtype(np.float32), "cpu"


def _tensors(output):
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [y for y in output if isinstance(y, Tensor)]
    return []


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _square(pair):
    return pair[0] if pair[0] == pair[1] else pair


def _numel(shape):
    if shape and isinstance(shape[0], tuple):  # a layer with several outputs
        return sum(_numel(s) for s in shape)
    return int(np.prod(shape, dtype=np.int64))


def _table(s):
    def shape(sh):
        if sh and isinstance(sh[0], tuple):
            return ", ".join(shape(x) for x in sh)
        return "x".join(str(d) for d in sh[1:])

    def pair(v):
        return str(v) if isinstance(v, int) else f"{v[0]}x{v[1]}"

    header = ("Layer", "Type", "Output (per image)", "Params", "MACs", "RF", "Jump")
    cells = [(r.name, r.type, shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}",
              pair(r.receptive_field), pair(r.jump)) for r in s.rows]
    if len(s.input_size) != 4:   # vectors: no receptive field, and a sample is no image
        header = ("Layer", "Type", "Output (per sample)", "Params", "MACs")
        cells = [c[:5] for c in cells]
    widths = [max(len(row[i]) for row in [header] + cells) for i in range(len(header))]
    align = "<<<>>>>"

    def line(row):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip()

    rule = "-" * len(line(header))
    lines = [f"{s.model} on input {'x'.join(map(str, s.input_size))}", rule, line(header),
             rule]
    lines += [line(row) for row in cells]
    run = sum(r.params for r in s.rows)
    lines += [rule, f"Total params:          {s.total_params:,}"]
    if run != s.total_params:
        lines.append(f"  of which in layers this pass did not run: {s.total_params - run:,}")
    unit = "image:" if len(s.input_size) == 4 else "sample:"
    lines += [f"Total MACs per {unit:<7} {s.total_macs:,} ({_si(s.total_macs)})",
              f"Activations per {unit:<6} {s.activation_bytes / 2**20:,.2f} MiB"]
    return "\n".join(lines)


def _si(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3f} {unit}"
    return str(n)
