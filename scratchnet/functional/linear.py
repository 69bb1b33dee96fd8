"""The fully connected layer."""
from ..function import Function
from ..kernels.threads import matmul
from . import arithmetic as F
from ._operands import check_same_float_dtype


class LinearFunction(Function):
    def forward(self, x, weight, bias):
        self.save_for_backward(x, weight)
        y = matmul(x, weight.T)                               # (*, in) @ (in, out) -> (*, out)
        if bias is not None:
            y += bias
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        gx = gW = gb = None
        if self.needs_input_grad[0]:
            gx = matmul(gy, weight)                           # (*, out) @ (out, in) -> (*, in)
        if self.needs_input_grad[1]:
            x2 = x.reshape(-1, x.shape[-1])                   # (*, in) -> (M, in)
            gy2 = gy.reshape(-1, gy.shape[-1])                # (*, out) -> (M, out)
            gW = matmul(gy2.T, x2)                            # (out, M) @ (M, in) -> (out, in)
        if self.needs_input_grad[2]:
            gb = gy.reshape(-1, gy.shape[-1]).sum(axis=0)     # (out,)
        return gx, gW, gb

    def backward_graph(self, gy):
        """The same formulas with scratchnet ops (create_graph)."""
        x, weight = self.saved_tensors
        X, W = self.graph_input(0, x), self.graph_input(1, weight)
        gx = gW = gb = None
        gy2 = gy.reshape(-1, gy.shape[-1])
        if self.needs_input_grad[0]:
            gx = F.matmul(gy, W)
        if self.needs_input_grad[1]:
            gW = F.matmul(gy2.T, X.reshape(-1, x.shape[-1]))
        if self.needs_input_grad[2]:
            gb = gy2.sum(dim=0)
        return gx, gW, gb


def linear(input, weight, bias=None):
    """y = x Wᵀ + b.  x (*, in), W (out, in), b (out,) -> y (*, out).

    Backward: gx = gy W, gW = gyᵀ x (over all leading dims), gb = Σ gy over leading dims.
    """
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1] or weight.ndim != 2:
        raise ValueError(f"linear: input of shape {input.shape} does not match weight of shape "
                         f"{weight.shape} (expected input (*, {weight.shape[-1]}))")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape} does not match weight of shape "
                         f"{weight.shape}")
    check_same_float_dtype("linear", input, weight, bias)
    return LinearFunction()(input, weight, bias)
