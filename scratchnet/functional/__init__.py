"""scratchnet.functional (import as F): every op, as torch / torch.nn.functional name them.

One file per family; each op is a Function class (forward and backward on arrays) directly
above the public function that checks its arguments and calls it.
"""
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import (abs, add, clamp, compare, div, exp, log, matmul, mul, neg, pow, sqrt,
                         sub)
from .conversion import cast, to_device
from .linear import linear
from .loss import cross_entropy, mse_loss, nll_loss
from .reduction import argmax, argmin, max, mean, min, sum, var
from .shape import (cat, chunk, flatten, getitem, permute, reshape, split, squeeze, stack,
                    transpose, unsqueeze, view)
