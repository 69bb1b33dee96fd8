"""scratchnet.functional (import as F): every op, as torch / torch.nn.functional name them.

One file per family; each op is a Function class (forward and backward on arrays) directly
above the public function that checks its arguments and calls it.
"""
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import (abs, add, clamp, compare, div, exp, floor_divide, log, matmul, mul,
                         neg, pow, remainder, sqrt, sub)
from .conversion import cast, to_device
from .conv import conv2d
from .dropout import dropout, dropout2d
from .linear import linear
from .loss import cross_entropy, mse_loss, nll_loss
from .normalization import batch_norm, local_response_norm
from .padding import pad
from .pooling import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d,
                      max_pool2d)
from .reduction import argmax, argmin, max, mean, min, sum, var
from .shape import (cat, chunk, flatten, getitem, permute, reshape, split, squeeze, stack,
                    transpose, unsqueeze, view)
from . import inplace  # Tensor's in-place methods: F.inplace.add_, ...

# the idioms torch users type (issue 15), one file per family
from .aggregate import all, any, cumsum, logsumexp, norm, prod, std
from .binary_loss import binary_cross_entropy, binary_cross_entropy_with_logits
from .conv_transpose import conv_transpose2d
from .einsum import einsum
from .indexing import embedding, gather, index_select, one_hot, scatter_add
from .layer_norm import layer_norm
from .logical import (bitwise_and, bitwise_not, bitwise_or, bitwise_xor, logical_and,
                      logical_not, logical_or, logical_xor)
from .selection import amax, amin, masked_fill, maximum, minimum, where
from .smooth_activation import gelu, logsigmoid, softplus
from .sorting import argsort, sort, topk
from .tiling import clone, expand, repeat

# reductions also take NumPy's keyword names, as torch's do: sum(x, axis=1, keepdims=True)
from ._operands import numpy_names  # noqa: E402
(sum, mean, var, std, max, min, argmax, argmin, amax, amin, prod, logsumexp, norm, any,
 all) = map(numpy_names, (sum, mean, var, std, max, min, argmax, argmin, amax, amin, prod,
                         logsumexp, norm, any, all))
