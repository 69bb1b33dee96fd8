"""scratchnet.functional (import as F): every op, as torch / torch.nn.functional name them.

One file per family; each op is a Function class (forward and backward on arrays) directly
above the public function that checks its arguments and calls it.
"""
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import (abs, add, clamp, compare, div, exp, log, matmul, mul, neg, pow, sqrt,
                         sub)
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
