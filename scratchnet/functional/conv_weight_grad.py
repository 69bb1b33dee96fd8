"""conv2d's weight gradient as an op of its own, so that conv2d can be differentiated twice.

With the geometry (stride, padding, dilation, groups) of a convolution y = W ⋆ x, its weight
gradient is the correlation of the input with the output gradient (Chainer's
``Convolution2DGradW``):

    forward:   gW = conv2d_weight_grad(x, gy)        gW[g] = Σ_n gy[n, g] · col[n, g]ᵀ
    backward:  gx  = conv2d_input_grad(gy, ggW)      a transposed convolution of gy by ggW
               ggy = conv2d(x, ggW)                  the convolution itself, weight ggW

It is bilinear in (x, gy), so each gradient is linear in the other argument. With
``ConvTranspose2dFunction`` (conv's input gradient) and ``Conv2dFunction`` the three ops
close under differentiation: each one's differentiable backward is made of the three.
"""
from ..function import Function
from ..kernels.conv import conv2d_forward, conv2d_input_grad, conv2d_weight_grad


class Conv2dWeightGradFunction(Function):
    """x (N, C, H, W), gy (N, O, OH, OW) -> gW of ``weight_shape`` (O, C/G, KH, KW)."""

    def __init__(self, geometry, weight_shape):
        self.geometry, self.weight_shape = geometry, tuple(weight_shape)

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        return conv2d_weight_grad(x, gy, self.weight_shape, *self.geometry)

    def backward(self, ggw):
        x, gy = self.saved_tensors
        need_x, need_gy = self.needs_input_grad
        gx = conv2d_input_grad(gy, ggw, x.shape, *self.geometry) if need_x else None
        ggy = (conv2d_forward(x, ggw, None, *self.geometry, out_size=gy.shape[2:])
               if need_gy else None)
        return gx, ggy

    def backward_graph(self, ggw):
        x, gy = self.saved_tensors
        X, GY = self.graph_input(0, x), self.graph_input(1, gy)
        need_x, need_gy = self.needs_input_grad
        gx = input_grad(self.geometry, x.shape)(GY, ggw, None) if need_x else None
        ggy = convolution(self.geometry, gy.shape)(X, ggw, None) if need_gy else None
        return gx, ggy


def input_grad(geometry, x_shape):
    """conv's input gradient as a Function: the transposed convolution to ``x_shape``."""
    from .conv_transpose import ConvTranspose2dFunction
    return ConvTranspose2dFunction(geometry, tuple(x_shape[2:]))


def convolution(geometry, y_shape):
    """The convolution with ``geometry`` whose output has ``y_shape``, as a Function."""
    from .conv import Conv2dFunction
    return Conv2dFunction(*geometry, tuple(y_shape[2:]))
