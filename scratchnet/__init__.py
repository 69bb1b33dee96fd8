"""scratchnet: a deep-learning framework written from scratch on NumPy (CPU) and CuPy (GPU).

    import scratchnet as sn
    x = sn.randn(3, 4, requires_grad=True)
    (x.relu() * 2).sum().backward()     # x.grad now holds 2 where x > 0
    sn.save({"model": model.state_dict(), "epoch": 3}, "ckpt.npz"); sn.load("ckpt.npz")
"""
from . import accelerator, backend, backends, cuda, functional, random
from .backend import (cuda_is_available, device, get_default_device, set_default_device,
                      show_config)
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint, randint_like, randn,
                       randn_like, tensor, zeros, zeros_like)
from .dtypes import (bool_, double, float16, float32, float64, half, int8, int16, int32, int64,
                     long, short, uint8)
from .function import (Function, enable_grad, inference_mode, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .functional import (abs, add, all, amax, amin, any, argmax, argmin, argsort, bitwise_and,
                         bitwise_not, bitwise_or, bitwise_xor, cat, chunk, clamp, clone, cumsum,
                         div, einsum, exp, flatten, gather, index_select, log, log_softmax,
                         logical_and, logical_not, logical_or, logical_xor, logsumexp,
                         masked_fill, matmul, max, maximum, mean, min, minimum, mul, neg, norm,
                         permute, pow, prod, relu, reshape, scatter_add, sigmoid, softmax, sort,
                         split, sqrt, squeeze, stack, std, sub, sum, tanh, topk, transpose,
                         unsqueeze, var, where)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .kernels import get_num_threads, set_num_threads, set_workspace_limit
from .random import Generator, initial_seed, manual_seed, seed
from .tensor import Tensor
from . import io  # noqa: E402
from .io import load_nested as load, save_nested as save  # noqa: E402

# packages built on the core (each imports the names above)
from . import autograd, nn, optim, utils  # noqa: E402
from . import models, profiler, viz  # noqa: E402
from .summary import LayerRow, Summary, summary  # noqa: E402

__version__ = "0.1.0"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()

# torch's aliases that shadow Python builtins inside this namespace only: sn.bool, sn.float,
# sn.int are dtypes, as torch.bool, torch.float, torch.int are
from .dtypes import bool, float, int  # noqa: E402,A004
