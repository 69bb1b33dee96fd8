"""Smooth activations: softplus, logsigmoid, gelu, each with torch's formula (named in its
docstring) so that results agree with torch to the last bits in both tails."""
import functools
import math

import numba

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import as_float, check_float
from .selection import where


class SoftplusFunction(Function):
    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.save_for_backward(x)
        bx = x * x.dtype.type(self.beta)
        # exp only below the threshold (the values above it are not used): no overflow
        below = xp.minimum(bx, x.dtype.type(self.threshold))
        soft = xp.log1p(xp.exp(below)) / x.dtype.type(self.beta)
        return xp.where(bx > self.threshold, x, soft)

    def backward(self, gy):
        (x,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        bx = x * x.dtype.type(self.beta)
        z = xp.exp(xp.minimum(bx, x.dtype.type(self.threshold)))
        return xp.where(bx > self.threshold, gy, gy * z / (z + 1))    # gy · sigmoid(βx)

    def backward_graph(self, gy):
        (x,) = self.saved_tensors
        X = self.graph_input(0, x)
        above = Tensor(x * x.dtype.type(self.beta) > self.threshold)
        return where(above, gy, gy * (X * self.beta).sigmoid())


def softplus(input, beta=1.0, threshold=20.0):
    """y = log(1 + exp(βx)) / β, and y = x where βx > threshold (torch's rule, which keeps
    exp from overflowing). Backward: gx = gy·σ(βx), as torch computes it: gy·z / (z + 1)
    with z = exp(βx); gy above the threshold."""
    check_float("softplus", input)
    return SoftplusFunction(beta, threshold)(input)


class LogSigmoidFunction(Function):
    def forward(self, x):
        xp = backend.get_array_module(x)
        self.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        (x,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        z = xp.exp(-xp.abs(x))                               # never overflows
        # σ(−x) = 1 / (1 + e^x) for x < 0, e^−x / (1 + e^−x) for x ≥ 0
        return gy * xp.where(x < 0, 1 / (1 + z), z / (1 + z))

    def backward_graph(self, gy):
        return gy * (-self.graph_input(0, self.saved_tensors[0])).sigmoid()


def logsigmoid(input):
    """y = log σ(x) = min(x, 0) − log(1 + exp(−|x|)) (torch's formula: exact in both tails).
    Backward: gx = gy·σ(−x)."""
    check_float("logsigmoid", input)
    return LogSigmoidFunction()(input)


SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
TANH_CUBIC = 0.044715


class GELUFunction(Function):
    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.save_for_backward(x)
        half = x.dtype.type(0.5)
        if self.approximate == "tanh":
            inner = x.dtype.type(SQRT_2_OVER_PI) * (x + x.dtype.type(TANH_CUBIC) * x ** 3)
            return half * x * (1 + xp.tanh(inner))
        return half * x * (1 + erf(x * x.dtype.type(math.sqrt(0.5))))

    def backward(self, gy):
        (x,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        t = x.dtype.type
        if self.approximate == "tanh":
            inner = t(SQRT_2_OVER_PI) * (x + t(TANH_CUBIC) * x ** 3)
            th = xp.tanh(inner)
            d_inner = t(SQRT_2_OVER_PI) * (1 + t(3 * TANH_CUBIC) * x * x)
            return gy * (t(0.5) * (1 + th) + t(0.5) * x * (1 - th * th) * d_inner)
        cdf = t(0.5) * (1 + erf(x * t(math.sqrt(0.5))))             # Φ(x)
        pdf = xp.exp(t(-0.5) * x * x) * t(1 / math.sqrt(2 * math.pi))  # φ(x)
        return gy * (cdf + x * pdf)

    def backward_graph(self, gy):
        """The same formulas with scratchnet ops; Φ is ``NormalCDFFunction`` (Φ' = φ)."""
        (x,) = self.saved_tensors
        X = self.graph_input(0, x)
        if self.approximate == "tanh":
            inner = SQRT_2_OVER_PI * (X + TANH_CUBIC * X ** 3)
            th = inner.tanh()
            d_inner = SQRT_2_OVER_PI * (1 + 3 * TANH_CUBIC * X * X)
            return gy * (0.5 * (1 + th) + 0.5 * X * (1 - th * th) * d_inner)
        return gy * (NormalCDFFunction()(X) + X * normal_pdf(X))


def normal_pdf(x):
    """φ(x) = e^(−x²/2)/√(2π) with scratchnet ops."""
    return (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))


class NormalCDFFunction(Function):
    """y = Φ(x) = (1 + erf(x/√2))/2. Backward: gx = gy·φ(x). Only GELU's double backward
    uses it."""

    def forward(self, x):
        self.save_for_backward(x)
        return x.dtype.type(0.5) * (1 + erf(x * x.dtype.type(math.sqrt(0.5))))

    def backward(self, gy):
        (x,) = self.saved_tensors
        xp = backend.get_array_module(x)
        return gy * xp.exp(x.dtype.type(-0.5) * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))

    def backward_graph(self, gy):
        return gy * normal_pdf(self.graph_input(0, self.saved_tensors[0]))


def gelu(input, approximate="none"):
    """y = x·Φ(x) = x/2·(1 + erf(x/√2)) with Φ the standard normal CDF; ``approximate="tanh"``:
    y = x/2·(1 + tanh(√(2/π)(x + 0.044715x³))). Backward: gx = gy·(Φ(x) + x·φ(x)), φ the
    normal density; for tanh the derivative of that formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction(approximate)(as_float(input))


def erf(x):
    """The error function of an array (NumPy has none: a Numba ufunc on the CPU, CuPy's on
    the GPU)."""
    if backend.is_cupy(x):
        return backend.cupy_submodule("cupyx.scipy.special").erf(x)
    return _erf_ufunc()(x).astype(x.dtype, copy=False)


@functools.cache
def _erf_ufunc():
    """Compiled on first use (once per machine: cached on disk), not at import."""
    return numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)(_erf_scalar)


def _erf_scalar(v):
    return math.erf(v)

