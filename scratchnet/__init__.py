"""scratchnet: a deep-learning framework written from scratch on NumPy (CPU) and CuPy (GPU).

    import scratchnet as sn
    x = sn.randn(3, 4, requires_grad=True)
    (x.relu() * 2).sum().backward()     # x.grad now holds 2 where x > 0
"""
from . import backend, functional, random
from .backend import cuda_is_available, get_default_device, set_default_device, show_config
from .creation import (arange, bool_, float32, float64, full, int64, ones, ones_like, rand,
                       randn, tensor, zeros, zeros_like)
from .function import Function, enable_grad, is_grad_enabled, no_grad
from .functional import (abs, add, argmax, argmin, cat, chunk, clamp, div, exp, flatten, log,
                         matmul, max, mean, min, mul, neg, permute, pow, reshape, sigmoid,
                         softmax, split, sqrt, squeeze, stack, sub, sum, tanh, transpose,
                         unsqueeze, var)
from .gradcheck import GradcheckError, gradcheck
from .kernels import get_num_threads, set_num_threads, set_workspace_limit
from .random import manual_seed
from .tensor import Tensor

# packages built on the core (each imports the names above)
from . import nn, optim, utils  # noqa: E402
from . import models, viz  # noqa: E402
from .summary import LayerRow, Summary, summary  # noqa: E402

__version__ = "0.1.0"
