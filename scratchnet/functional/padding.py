"""Padding: F.pad with constant, reflect, replicate and circular modes, in torch's pad-tuple
order.

``pad = (left_last, right_last, left_second_last, right_second_last, ...)``: pairs apply from
the last dim backwards. Negative amounts crop. Forward pads by the positive amounts (NumPy's
``pad``: constant, reflect, edge), then crops the negative ones, so that a reflection is taken
about the original border as torch's kernels do. Circular padding crops first and then wraps
the cropped part around, as torch does.

Backward undoes this one padded dim at a time (the padding is separable): the gradient of the
cropped part is zero, and each padded position sends its gradient back to the input element it
copied. For reflect, output position l−1−i (i < l) copied x[i+1]; for replicate every left
position copied x[0] and every right one x[n−1]; for circular the left block copied the last l
elements and the right block the first r.
"""
from .. import backend
from ..function import Function
from ..higher_order import fresh

_NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}


class PadFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, widths, mode, value):
        self.widths, self.mode, self.value = widths, mode, value    # one (left, right) per dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        grow = [(max(l, 0), max(r, 0)) for l, r in self.widths]
        if self.mode == "circular":                      # crop first, then wrap around
            self.x_shape = x.shape
            return xp.pad(x[self._crop(x.shape)], grow, mode="wrap")
        if self.mode == "constant":
            y = xp.pad(x, grow, mode="constant", constant_values=x.dtype.type(self.value))
        else:
            y = xp.pad(x, grow, mode=_NUMPY_MODE[self.mode])
        self.padded_shape = y.shape
        return y[self._crop(y.shape)]

    def jvp(self, dx):
        """J·dx: the same padding with 0 as the constant (forward is affine for value ≠ 0)."""
        op = fresh(self)
        op.value = 0
        return op.forward(dx)

    def _crop(self, shape):
        """The slices that drop the negative amounts from an array of ``shape``: the padded
        array, or (circular) the input itself."""
        return tuple(slice(max(-l, 0), n - max(-r, 0))
                     for (l, r), n in zip(self.widths, shape))

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        g = gy
        if self.mode != "circular" and any(l < 0 or r < 0 for l, r in self.widths):
            g = xp.zeros(self.padded_shape, gy.dtype)
            g[self._crop(self.padded_shape)] = gy
        for dim, (l, r) in enumerate(self.widths):
            l, r = max(l, 0), max(r, 0)
            if l or r:
                g = self._fold(xp, g, dim, l, r)
        if self.mode == "circular":                      # undo the crop made before padding
            gx = xp.zeros(self.x_shape, gy.dtype)
            gx[self._crop(self.x_shape)] = g
            return gx
        return g if g is not gy else gy.copy()

    def _fold(self, xp, g, dim, l, r):
        """The gradient of one dim padded by (l, r) >= 0, summed back onto its n inputs."""
        n = g.shape[dim] - l - r

        def at(start, stop):            # the index of start:stop along ``dim``
            return (slice(None),) * dim + (slice(start, stop),)

        core = g[at(l, l + n)].copy()
        if self.mode == "constant":
            return core
        if self.mode == "circular":
            # left: output i < l holds x[n − l + i]; right: output l+n+i holds x[i]
            core[at(n - l, n)] += g[at(0, l)]
            core[at(0, r)] += g[at(l + n, l + n + r)]
        elif self.mode == "reflect":
            # left: output i < l holds x[l − i], so the reversed left block lands on x[1..l];
            # right: output l+n+i holds x[n−2−i], the reversed right block lands on x[n−1−r..n−2]
            core[at(1, l + 1)] += xp.flip(g[at(0, l)], axis=dim)
            core[at(n - 1 - r, n - 1)] += xp.flip(g[at(l + n, l + n + r)], axis=dim)
        else:
            core[at(0, 1)] += g[at(0, l)].sum(axis=dim, keepdims=True)
            core[at(n - 1, n)] += g[at(l + n, l + n + r)].sum(axis=dim, keepdims=True)
        return core


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative amounts, crop) the last len(pad)//2 dims (torch.nn.functional.pad).

    Shapes: dim d of size n padded by (l, r) becomes n + l + r. Modes: "constant" fills with
    ``value`` (default 0) and pads any number of dims; "reflect" mirrors without repeating the
    border element (needs l, r < n); "replicate" repeats the border element; "circular"
    wraps around (needs l, r ≤ n, negative amounts crop first). As torch, the
    non-constant modes pad the last 1, 2 or 3 dims of an input with 1 or 2 more dims.

    Backward: gx = the gradient of the copied region, plus, for reflect and replicate, the
    gradient of every padded position added to the element it copied.
    """
    op = "pad"
    pad = tuple(int(p) for p in pad)
    if mode not in _NUMPY_MODE:
        raise ValueError(f"{op}: unknown padding mode {mode!r}; expected one of "
                         f"{tuple(_NUMPY_MODE)}")
    if len(pad) % 2:
        raise ValueError(f"{op}: padding length must be divisible by 2, got {pad}")
    k = len(pad) // 2
    if k > input.ndim:
        raise ValueError(f"{op}: padding {pad} pads {k} dims but the input of shape "
                         f"{input.shape} has {input.ndim}")
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f"{op}: padding mode {mode!r} doesn't take a value argument")
        if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
            raise ValueError(f"{op}: {mode} padding of {k} dims needs an input of {k + 1} or "
                             f"{k + 2} dims, got shape {input.shape} (it supports padding "
                             "the last 1, 2 or 3 dims)")
    # pad pairs run from the last dim backwards; widths is one (left, right) per dim, in order
    widths = [(0, 0)] * (input.ndim - k) + [(pad[2 * i], pad[2 * i + 1])
                                            for i in reversed(range(k))]
    for dim, (l, r) in enumerate(widths):
        n = input.shape[dim]
        if n + min(l, 0) + min(r, 0) < 0:
            raise ValueError(f"{op}: padding ({l}, {r}) crops more than the {n} elements of "
                             f"dim {dim} of the input of shape {input.shape}")
        if mode == "reflect" and (l >= n or r >= n) and (l or r):
            raise ValueError(f"{op}: reflect padding ({l}, {r}) must be less than the size "
                             f"{n} of dim {dim} of the input of shape {input.shape}")
        if mode == "circular" and (l > n + min(r, 0) or r > n + min(l, 0)):
            raise ValueError(f"{op}: circular padding ({l}, {r}) of dim {dim} of the input of "
                             f"shape {input.shape} wraps around more than once")
        if mode == "replicate" and n == 0 and (l > 0 or r > 0):
            raise ValueError(f"{op}: cannot replicate-pad the empty dim {dim} of the input of "
                             f"shape {input.shape}")
    return PadFunction(widths, mode, 0 if value is None else value)(input)
