"""Array-level kernels (no autograd): im2col/col2im, conv2d's products, max pooling, LRN, batch
norm, the SGD and Adam updates, the im2col workspace and the threading policy (threads.py).

Each hot kernel is a NumPy reference (the tests' oracle), a Numba twin (CPU) and a CuPy twin
(GPU) behind one dispatcher that picks the twin from the array's module.
"""
from .im2col import col2im, col2im_reference, im2col, im2col_reference
from .lrn import lrn_backward, lrn_backward_reference, lrn_forward, lrn_forward_reference
from .pool import (max_pool_backward, max_pool_backward_reference, max_pool_forward,
                   max_pool_forward_reference)
from .threads import get_num_threads, set_num_threads
from .workspace import get_workspace_limit, set_workspace_limit
