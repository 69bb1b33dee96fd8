"""The Adam/AdamW update (optim/adam.py) as one pass over each parameter.

In array operations the update reads and writes θ, m and v several times and makes
temporaries as large as the parameter (the decayed gradient, lerp's difference, g², √v, the
denominator, the step); here every element is done in one pass, in the parameter's dtype (the
scalars cast to it first, as torch casts them). The Numba twin takes a contiguous chunk per
worker (kernels/threads.py); its CUDA twin (``_ADAM_SRC``, one thread per element, a CuPy
ElementwiseKernel run on the CPU by the tests' harness: kernels/_cupy.py) does the same on
the GPU.

Rounding follows torch's single-tensor step on the CPU operation by operation, fused
multiply-adds included: ``grad.add(param, alpha=λ)``, ``lerp_`` and ``addcmul_`` round once
(torch's vector kernels use FMA instructions), ``param.addcdiv_(m, denom, value=-s)`` is
θ + (−s·m)/denom. So m, v and v̂ come out bit for bit as torch's, and θ too wherever torch's
√v (a vectorized library square root, within 0.75 ulp on the CPU) is the correctly rounded
one. On the GPU nvcc also contracts θ·(1 − γλ) + step into one FMA (AdamW): last bits.

``adam_update_reference`` is the same sequence in array operations, without the fused
rounding; it serves what neither twin takes: float16 parameters, and arrays that are not
C-contiguous.
"""
import math
from fractions import Fraction

import numba
import numpy as np
from numba.extending import intrinsic, overload

from ..backend import get_array_module, is_cupy
from . import threads
from ._cupy import elementwise


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
                weight_decay, decoupled_weight_decay, maximize, step_size,
                bias_correction2_sqrt):
    """θ (``param``), m (``exp_avg``), v (``exp_avg_sq``) and, unless it is None (no amsgrad),
    v̂ (``max_exp_avg_sq``) updated in place by the formulas of optim.Adam. ``step_size`` =
    γ / (1 − β1^t) and ``bias_correction2_sqrt`` = √(1 − β2^t) come computed in double
    precision, as torch computes them."""
    arrays = (param, grad, exp_avg, exp_avg_sq) + (() if max_exp_avg_sq is None
                                                     else (max_exp_avg_sq,))
    if not _can_fuse(arrays):
        adam_update_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1,
                              beta2, eps, weight_decay, decoupled_weight_decay, maximize,
                              step_size, bias_correction2_sqrt)
        return
    amsgrad = max_exp_avg_sq is not None
    stand_in = max_exp_avg_sq if amsgrad else param    # without amsgrad nothing reads v̂
    scalars = _kernel_scalars(param.dtype, lr, beta1, beta2, eps, weight_decay,
                              decoupled_weight_decay, step_size, bias_correction2_sqrt)
    if is_cupy(param):
        kernel = elementwise(
            "T grad, raw T max_exp_avg_sq, T l2, T decay, T lerp_coefficient, "
            "bool lerp_from_end, T one_minus_beta2, T beta2, T neg_step_size, "
            "T bias_correction2_sqrt, T eps, bool maximize, bool amsgrad",
            "T param, T exp_avg, T exp_avg_sq", _ADAM_SRC, "scratchnet_adam")
        # raw v̂ is read at θ's flat index: both C-contiguous (_can_fuse)
        kernel(grad, stand_in, *scalars, bool(maximize), amsgrad, param, exp_avg, exp_avg_sq)
        return
    flat = [a.reshape(-1) for a in (param, grad, exp_avg, exp_avg_sq, stand_in)]  # views
    threads.parallel_range(param.size, lambda start, stop: _adam_numba(
        *(a[start:stop] for a in flat), *scalars, bool(maximize), amsgrad), param.size)


def adam_update_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                          eps, weight_decay, decoupled_weight_decay, maximize, step_size,
                          bias_correction2_sqrt):
    """The same update in array operations (NumPy or CuPy), in torch's order: several passes,
    temporaries, each product rounded before its sum."""
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    weight = 1 - beta1                     # exp_avg.lerp_(grad, weight): torch's two formulas
    if abs(weight) < 0.5:
        exp_avg += weight * (grad - exp_avg)
    else:
        exp_avg[...] = grad - (grad - exp_avg) * (1 - weight)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        exp_avg_sq = max_exp_avg_sq
    denom = xp.sqrt(exp_avg_sq) / bias_correction2_sqrt
    denom += eps
    param += (-step_size * exp_avg) / denom


def _can_fuse(arrays):
    """The twins run on C-contiguous float32/float64 arrays of one module and dtype."""
    kind = type(arrays[0])
    return (all(type(a) is kind and a.flags.c_contiguous for a in arrays)
            and (kind is np.ndarray or is_cupy(arrays[0]))
            and all(a.dtype == arrays[0].dtype for a in arrays)
            and arrays[0].dtype in (np.float32, np.float64))


def _kernel_scalars(dtype, lr, beta1, beta2, eps, weight_decay, decoupled, step_size,
                    bias_correction2_sqrt):
    """The twins' scalar arguments, in their order, cast to the parameter's dtype:
    l2 (λ of the L2 penalty, 0 for AdamW), decay (1 − γλ for AdamW, else 1: θ·1 = θ exactly),
    lerp's coefficient and formula, 1 − β2, β2, −step_size, √(1 − β2^t), ε."""
    cast = dtype.type
    weight = cast(1 - beta1)                   # torch casts lerp's weight first, then compares
    from_end = not abs(weight) < 0.5           # m ← g + (w − 1)(g − m): rounds better there
    return (cast(0 if decoupled else weight_decay),
            cast(1 - lr * weight_decay if decoupled else 1),
            weight - cast(1) if from_end else weight, from_end,   # w − 1: exact in T
            cast(1 - beta2), cast(beta2), cast(-step_size), cast(bias_correction2_sqrt),
            cast(eps))


def fma(a, b, c):
    """a·b + c rounded once, in the NumPy float type of a (all three of one type), as C's
    ``fma``. In jitted code it is LLVM's fma (``_llvm_fma``); this body is what runs with the
    JIT disabled (the coverage run), in exact rational arithmetic."""
    dtype = type(a)
    if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)):
        return dtype(a * b + c)                        # inf or NaN: nothing to round
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if exact == 0:
        return dtype(a * b + c)                        # exact, with IEEE's sign of zero
    nearest = float(exact)                             # correctly rounded to float64
    if dtype is np.float32 and Fraction(nearest) != exact and _is_even(nearest):
        # rounded to odd instead, float64's 29 spare bits make the rounding to float32 exact
        nearest = np.nextafter(nearest, math.inf if exact > nearest else -math.inf)
    return dtype(nearest)


def _is_even(x):
    return int(np.float64(x).view(np.int64)) % 2 == 0


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    """LLVM's fma on three values of one float type (a vector FMA where the loop vectorizes)."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return a(a, b, c), codegen


@overload(fma)
def _fma_jitted(a, b, c):
    return lambda a, b, c: _llvm_fma(a, b, c)


# Each worker's chunk is a slice, looped over from 0: see threads.planes. Every scalar is of
# the arrays' dtype, so no product is promoted to float64. error_model="numpy": a division
# follows IEEE (x/0 is ±inf, as in torch) instead of testing for zero to raise Python's
# ZeroDivisionError, a branch per element that kept the loop from vectorizing (3x slower).
@numba.njit(cache=True, nogil=True, error_model="numpy")
def _adam_numba(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, l2, decay, lerp_coefficient,
                lerp_from_end, one_minus_beta2, beta2, neg_step_size, bias_correction2_sqrt,
                eps, maximize, amsgrad):
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if l2 != 0:
            g = fma(param[i], l2, g)                         # torch: grad.add(param, alpha=λ)
        m = fma(lerp_coefficient, g - exp_avg[i], g if lerp_from_end else exp_avg[i])    # lerp_
        exp_avg[i] = m
        v = fma(one_minus_beta2 * g, g, exp_avg_sq[i] * beta2)   # mul_(β2).addcmul_(g, g)
        exp_avg_sq[i] = v
        if amsgrad:
            v_max = max_exp_avg_sq[i]
            v = v_max if v_max >= v or v_max != v_max else v    # NaN wins, as torch.maximum
            max_exp_avg_sq[i] = v
        param[i] = param[i] * decay + neg_step_size * m / (np.sqrt(v) / bias_correction2_sqrt
                                                           + eps)


# One thread per element i: the loop body of _adam_numba. θ, m and v are outputs the thread
# also reads; v̂ is raw (indexed by i) so that without amsgrad any array can stand in for it.
_ADAM_SRC = r"""
    T g = maximize ? -grad : grad;
    if (l2 != 0) g = fma(param, l2, g);
    const T m = fma(lerp_coefficient, g - exp_avg, lerp_from_end ? g : exp_avg);
    exp_avg = m;
    T v = fma(one_minus_beta2 * g, g, exp_avg_sq * beta2);
    exp_avg_sq = v;
    if (amsgrad) {
        const T v_max = max_exp_avg_sq[i];
        v = (v_max >= v || v_max != v_max) ? v_max : v;
        max_exp_avg_sq[i] = v;
    }
    param = param * decay + neg_step_size * m / (sqrt(v) / bias_correction2_sqrt + eps);
"""
