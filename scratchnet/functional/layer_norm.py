"""Layer normalization (Ba, Kiros, Hinton 2016): each sample normalized over its last dims.

Notation: the last k dims (``normalized_shape``, M elements) are normalized, the leading
dims are the batch. Per sample, μ and σ² are the mean and the biased variance of its M
elements, r = 1 / √(σ² + eps), x̂ = (x − μ)·r.

    forward:   y = x̂ ⊙ w + b                       (w, b of normalized_shape, or absent)
    backward:  g = gy ⊙ w
               gx = r·(g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))      means over the M elements
               gw = Σ_batch gy ⊙ x̂,   gb = Σ_batch gy
The two subtracted means are what μ and σ² depend on x contribute (as in batch norm, over
features instead of samples).
"""
from .. import backend
from ..function import Function
from ._operands import check_float, check_same_float_dtype


class LayerNormFunction(Function):
    def __init__(self, k, eps):
        self.k, self.eps = k, eps            # k: how many trailing dims are normalized

    def forward(self, x, weight, bias):
        xp = backend.get_array_module(x)
        axes = tuple(range(x.ndim - self.k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        r = 1 / xp.sqrt((centred * centred).mean(axis=axes, keepdims=True) + x.dtype.type(
            self.eps))
        x_hat = centred * r
        self.save_for_backward(x_hat, r, weight)
        y = x_hat if weight is None else x_hat * weight
        return y if bias is None else y + bias

    def backward(self, gy):
        x_hat, r, weight = self.saved_tensors
        axes = tuple(range(gy.ndim - self.k, gy.ndim))
        batch = tuple(range(gy.ndim - self.k))
        need_x, need_w, need_b = self.needs_input_grad
        gx = gw = gb = None
        if need_x:
            g = gy if weight is None else gy * weight
            gx = r * (g - g.mean(axis=axes, keepdims=True)
                      - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
        if need_w:
            gw = (gy * x_hat).sum(axis=batch)
        if need_b:
            gb = gy.sum(axis=batch)
        return gx, gw, gb

    def composite_inputs(self):
        """x, weight, bias as tensors of the graph. x is not saved; x̂/r = x − mean differs
        from it by a shift per row, which changes no derivative of layer norm."""
        x_hat, r, weight = self.saved_tensors
        return (self.graph_input(0, x_hat / r), self.graph_input(1, weight),
                self.graph_input(2, None))

    def composite(self, x, weight, bias):
        axes = tuple(range(x.ndim - self.k, x.ndim))
        centred = x - x.mean(dim=axes, keepdim=True)
        y = centred / ((centred * centred).mean(dim=axes, keepdim=True) + self.eps).sqrt()
        y = y if weight is None else y * weight
        return y if bias is None else y + bias


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last dims ``normalized_shape``, then scale and shift, as
    ``torch.nn.functional.layer_norm``. input (*, normalized_shape); weight and bias of
    ``normalized_shape`` or None. Formulas: module docstring."""
    op = "layer_norm"
    normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                        else tuple(normalized_shape))
    k = len(normalized_shape)
    check_float(op, input)
    check_same_float_dtype(op, input, weight, bias)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"{op}: expected an input whose last {k} dims are normalized_shape "
                         f"{normalized_shape}, got {input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != normalized_shape:
            raise ValueError(f"{op}: {name} of shape {t.shape} does not match normalized_shape "
                             f"{normalized_shape}")
    return LayerNormFunction(k, eps)(input, weight, bias)
