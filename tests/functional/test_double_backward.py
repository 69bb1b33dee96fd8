"""Double backward of every op: ``gradgradcheck`` (second derivatives against central
differences of the analytic first derivatives) on float64 inputs of at most 64 elements.

Piecewise linear ops (relu, max, pooling, sort, clamp) get distinct values kept away from
their kinks, through a cube so that the first derivative still varies with x and the check
tests something."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from scratchnet.utils.checkpoint import checkpoint
from tests.strategies import distinct_values, seeds


def normal(*shapes):
    return lambda rng, n: [rng.standard_normal(_sized(s, n)) for s in shapes]


def positive(*shapes):
    return lambda rng, n: [rng.uniform(0.2, 0.8, _sized(s, n)) for s in shapes]


def distinct(*shapes):
    """One draw of pairwise distinct values (away from 0) split into ``shapes``."""
    def build(rng, n):
        sized = [_sized(s, n) for s in shapes]
        flat = distinct_values(rng, (sum(int(np.prod(s)) for s in sized),))
        cuts = np.cumsum([int(np.prod(s)) for s in sized])[:-1]
        return [part.reshape(s) for part, s in zip(np.split(flat, cuts), sized)]
    return build


def _sized(shape, n):
    """``shape`` with every "n" replaced by the drawn size n (1 to 3)."""
    return tuple(n if side == "n" else side for side in shape)


def cube(x):
    return x * x * x


LABELS = np.array([1, 0, 2])
INDEX = np.array([[0, 1], [2, 2], [3, 0]])

# name: (function of tensors, builder(rng, n) -> arrays). All inputs require grad.
OPS = {
    "add_sub": (lambda a, b: (a + b) * (a - b), normal(("n", 4), (4,))),
    "mul": (lambda a, b: a * b * a, normal(("n", 4), (1, 4))),
    "div": (lambda a, b: a / b, lambda rng, n: [rng.standard_normal((n, 3)),
                                                rng.uniform(1, 2, (3,))]),
    "pow": (lambda a, p: a ** p, lambda rng, n: [rng.uniform(0.5, 2, (n, 3)),
                                                 rng.standard_normal(3)]),
    "exp_log_sqrt": (lambda a: a.exp() + a.log() * a.sqrt(), positive(("n", 3))),
    "abs": (lambda a: cube(a).abs() * a, distinct(("n", 3))),
    "remainder": (lambda a, b: F.remainder(cube(a), b * b + 1), normal(("n", 3), (3,))),
    "matmul": (lambda a, b: a @ b, normal((2, "n", 3), (3, 2))),
    "matmul_vector": (lambda a, b: a @ b, normal((3,), (3, "n"))),
    "linear": (F.linear, normal(("n", 4), (3, 4), (3,))),
    "einsum": (lambda a, b: sn.einsum("ij,jk->ik", a, b) * a.sum(),
               normal(("n", 3), (3, 2))),
    "relu": (lambda a: F.relu(cube(a)), distinct(("n", 4))),
    "leaky_relu": (lambda a: F.leaky_relu(cube(a), 0.1), distinct(("n", 4))),
    "sigmoid_tanh": (lambda a: a.sigmoid() * a.tanh(), normal(("n", 4))),
    "softmax": (lambda a: F.softmax(a, 1), normal(("n", 4))),
    "log_softmax": (lambda a: F.log_softmax(a, 0), normal(("n", 4))),
    "gelu": (lambda a: F.gelu(a) + F.gelu(a, approximate="tanh"), normal(("n", 4))),
    "softplus_logsigmoid": (lambda a: F.softplus(a, beta=2) * F.logsigmoid(a),
                            normal(("n", 4))),
    "dropout": (lambda a: _seeded(lambda: F.dropout(cube(a), 0.5, True)), normal(("n", 6))),
    "sum_mean": (lambda a: (a * a).sum(1) * (a * a).mean(), normal(("n", 4))),
    "var_std": (lambda a: a.var(1) + F.std(a), normal((3, "n"))),
    "max_min": (lambda a: cube(a).max() * cube(a).min(1)[0].sum(), distinct(("n", 4))),
    "amax": (lambda a: F.amax(cube(a), 1), distinct(("n", 4))),
    "logsumexp": (lambda a: F.logsumexp(a, 1), normal(("n", 4))),
    "norm": (lambda a: F.norm(a) * F.norm(a, 3, dim=1), normal(("n", 4))),
    "prod": (lambda a: F.prod(a, 1) + F.prod(a), normal(("n", 3))),
    "cumsum": (lambda a: F.cumsum(a * a, 1), normal(("n", 4))),
    "sort_topk": (lambda a: F.sort(cube(a), 1)[0] * F.topk(cube(a), 4)[0],
                  distinct(("n", 4))),
    "reshape_permute": (lambda a: (a * a).reshape(4, -1).T.permute(1, 0), normal(("n", 4))),
    "getitem": (lambda a: (a * a)[..., 1:, ::2], normal(("n", 3, 4))),
    "cat_stack_split": (lambda a, b: [t * b.sum() for t in F.split(
        F.cat([a * a, F.stack([b, b], 0)], 0), 2, 1)], normal((2, 4), (4,))),
    "expand_repeat": (lambda a: (a * a).expand(3, 4) * (a * a).repeat(3, 1),
                      normal((1, 4))),
    "pad": (lambda a: F.pad(a * a, (1, 2), value=3.0) + F.pad(a * a, (2, 1), mode="reflect"),
            normal((1, "n", 4))),
    "where_masked_fill": (lambda a, b: F.where(a > 0, a * a, b * b) * F.masked_fill(
        cube(a), a < 0, 2.0), distinct(("n", 4), ("n", 4))),
    "maximum_clamp": (lambda a, b: F.maximum(cube(a), cube(b)) * cube(a).clamp(-1e-3, 1e-3)
                      + F.clamp(cube(a), cube(b), None), distinct(("n", 4), ("n", 4))),
    "gather_index_select": (lambda a: F.gather(a * a, 1, sn.tensor(INDEX)) * F.index_select(
        a, 1, sn.tensor(np.array([0, 3]))), normal((3, 4))),
    "scatter_add": (lambda a, s: F.scatter_add(a * a, 1, sn.tensor(INDEX), s * s),
                    normal((3, 4), (3, 2))),
    "embedding": (lambda w: F.embedding(sn.tensor(np.array([[0, 2], [2, 1]])), w * w),
                  normal((3, "n"))),
    "setitem_inplace": (lambda a, v: _written_in_place(a, v), normal((4,), (2,))),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
               normal(("n", 2, 4, 4), (3, 2, 3, 3), (3,))),
    "conv2d_groups_dilation": (lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=2),
                               normal((1, 4, 4, 4), (2, 2, 2, 2))),
    "conv2d_same": (lambda x, w: F.conv2d(x, w, padding="same"),
                    normal((1, 2, 4, 4), (2, 2, 2, 2))),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                            output_padding=1),
                         normal((1, 2, "n", 3), (2, 2, 3, 3), (2,))),
    "max_pool2d": (lambda x: F.max_pool2d(cube(x), 3, 2, padding=1), distinct(("n", 1, 5, 5))),
    "max_pool2d_overlap": (lambda x: F.max_pool2d(cube(x), 2, 1), distinct((1, "n", 4, 4))),
    "avg_pool2d": (lambda x: F.avg_pool2d(x * x, 3, 2, 1, count_include_pad=False),
                   normal((1, "n", 5, 5))),
    "adaptive_pools": (lambda x: F.adaptive_max_pool2d(cube(x), 2).sum() * F.adaptive_avg_pool2d(
        x * x, (2, 3)), distinct((1, "n", 5, 5))),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         normal((3, "n", 2, 2), ("n",), ("n",))),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(x * x, sn.tensor(np.zeros(2) + 0.1),
                                                     sn.tensor(np.ones(2) + 0.5), w, b),
                        normal((3, 2, 2, "n"), (2,), (2,))),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), normal(("n", 4), (4,), (4,))),
    "local_response_norm": (lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0),
                            normal((2, 4, "n", 2))),
    "cross_entropy": (lambda x: F.cross_entropy(x, sn.tensor(LABELS)), normal((3, 4))),
    "cross_entropy_weights_smoothing": (lambda x: F.cross_entropy(
        x, sn.tensor(LABELS), weight=sn.tensor(np.array([1.0, 2.0, 0.5, 1.0])),
        label_smoothing=0.1, reduction="sum"), normal((3, 4))),
    "cross_entropy_probabilities": (lambda x, t: F.cross_entropy(x, t.softmax(1)),
                                    normal(("n", 4), ("n", 4))),
    "nll_loss": (lambda x: F.nll_loss(F.log_softmax(x, 1), sn.tensor(LABELS),
                                      reduction="none"), normal((3, 4))),
    "binary_cross_entropy": (lambda x, t: F.binary_cross_entropy(x, t), positive(("n", 4),
                                                                                 ("n", 4))),
    "bce_with_logits": (lambda x, t: F.binary_cross_entropy_with_logits(
        x, t.sigmoid(), pos_weight=sn.tensor(np.array([0.5, 1.0, 2.0, 3.0]))),
        normal(("n", 4), ("n", 4))),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), normal(("n", 4), ("n", 4))),
    "checkpoint": (lambda a: checkpoint(lambda t: (t * t).tanh(), a), normal(("n", 3))),
    # gradients as functions: gradgradcheck of these checks third derivatives, through the
    # double backward of conv's input and weight gradients, the pooling scatter, composites
    "conv2d_gradient": (lambda x, w: _gradient(
        lambda x, w: F.conv2d(x, w, stride=2, padding=1).tanh(), x, w),
        normal((1, 2, "n", 4), (2, 2, 3, 3))),
    "conv_transpose2d_gradient": (lambda x, w: _gradient(
        lambda x, w: F.conv_transpose2d(x, w, stride=2).tanh(), x, w),
        normal((1, 2, 2, "n"), (2, 2, 2, 2))),
    "max_pool2d_gradient": (lambda x: _gradient(lambda x: F.max_pool2d(cube(x), 2) ** 2, x),
                            distinct((1, 2, "n", 4))),
    "batch_norm_gradient": (lambda x, w: _gradient(
        lambda x, w: F.batch_norm(x, None, None, w, None, training=True) ** 3, x, w),
        normal((3, 2, "n"), (2,))),
    "cross_entropy_gradient": (lambda x: _gradient(
        lambda x: F.cross_entropy(x, sn.tensor(LABELS)), x), normal((3, 4))),
}


def _gradient(fn, *inputs):
    """∂(Σ fn(inputs))/∂inputs, kept differentiable."""
    return sn.autograd.grad(fn(*inputs).sum(), inputs, create_graph=True)


def _seeded(draw):
    sn.manual_seed(0)   # the same dropout mask at every evaluation of the function
    return draw()


def _written_in_place(a, v):
    y = a * 1.0
    y[1:3] = v * v        # SetItemFunction
    y.mul_(a)             # SnapshotFunction and an in-place multiply
    return y


def _check(name, seed, n):
    fn, build = OPS[name]
    arrays = build(np.random.default_rng(seed), n)
    assert all(a.size <= 64 for a in arrays)
    inputs = [sn.tensor(a, requires_grad=True) for a in arrays]
    assert sn.gradgradcheck(fn, inputs, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradgradcheck_every_op(name):
    _check(name, seed=0, n=2)


@given(st.sampled_from(sorted(OPS)), seeds, st.integers(1, 3))
def test_gradgradcheck_random_op_values_and_sizes(name, seed, n):
    _check(name, seed, n)
