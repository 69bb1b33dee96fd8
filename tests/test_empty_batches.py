"""A batch of 0 through every op and layer, forward and backward, as torch 2.13: weights get
zero gradients, reductions over the non-empty dims give empty results, a mean over nothing is
nan; only what torch refuses is refused."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import nn
from tests.helpers import FLOATS, assert_matches_torch

LONG = np.int64
# name -> (scratchnet op, torch op, input shapes or arrays); every input that is a float array
# requires grad
CASES = {
    "conv2d": (F.conv2d, TF.conv2d, [(0, 3, 5, 5), (4, 3, 3, 3), (4,)]),
    "conv2d 1x1": (F.conv2d, TF.conv2d, [(0, 3, 5, 5), (4, 3, 1, 1), (4,)]),
    "conv2d groups, padding": (lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=3),
                               lambda x, w, b: TF.conv2d(x, w, b, padding=1, groups=3),
                               [(0, 3, 5, 5), (6, 1, 3, 3), (6,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
                   [(0, 3, 4, 4)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1),
                   [(0, 3, 4, 4)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, 3),
                            lambda x: TF.adaptive_avg_pool2d(x, 3), [(0, 3, 5, 5)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 3),
                            lambda x: TF.adaptive_max_pool2d(x, 3), [(0, 3, 5, 5)]),
    "adaptive_max_pool2d even": (lambda x: F.adaptive_max_pool2d(x, 2),
                                 lambda x: TF.adaptive_max_pool2d(x, 2), [(0, 3, 4, 4)]),
    "local_response_norm": (lambda x: F.local_response_norm(x, 3, 1.0, 0.75, 2.0),
                            lambda x: TF.local_response_norm(x, 3, 1.0, 0.75, 2.0),
                            [(0, 3, 4, 4)]),
    "local_response_norm no channels": (lambda x: F.local_response_norm(x, 3),
                                        lambda x: TF.local_response_norm(x, 3), [(2, 0, 4)]),
    "batch_norm eval": (lambda x, w, b: F.batch_norm(x, np.zeros(3), np.ones(3), w, b),
                        lambda x, w, b: TF.batch_norm(x, torch.zeros(3, dtype=x.dtype),
                                                      torch.ones(3, dtype=x.dtype), w, b),
                        [(0, 3, 4, 4), (3,), (3,)]),
    "batch_norm train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
                         [(0, 3, 2), (3,), (3,)]),
    "linear": (F.linear, TF.linear, [(0, 3), (4, 3), (4,)]),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b, [(0, 3), (3, 4)]),
    "relu": (F.relu, TF.relu, [(0, 3)]),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu, [(0, 3)]),
    "sigmoid": (F.sigmoid, torch.sigmoid, [(0, 3)]),
    "tanh": (F.tanh, torch.tanh, [(0, 3)]),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), [(0, 3)]),
    "log_softmax over an empty dim": (lambda x: F.log_softmax(x, 1),
                                      lambda x: TF.log_softmax(x, 1), [(2, 0)]),
    "sum": (lambda x: x.sum(), lambda x: x.sum(), [(0, 3)]),
    "sum(0)": (lambda x: x.sum(0), lambda x: x.sum(0), [(0, 3)]),
    "mean(1)": (lambda x: x.mean(1), lambda x: x.mean(1), [(0, 3)]),
    "mean": (lambda x: x.mean(), lambda x: x.mean(), [(0, 3)]),
    "var(1)": (lambda x: x.var(1), lambda x: x.var(1), [(0, 3)]),
    "max(1)": (lambda x: x.max(1).values, lambda x: x.max(1).values, [(0, 3)]),
    "min(1)": (lambda x: x.min(1).values, lambda x: x.min(1).values, [(0, 3)]),
    "argmax(1)": (lambda x: x.argmax(1), lambda x: x.argmax(1), [(0, 3)]),
    "cross_entropy": (lambda x, t: F.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t),
                      [(0, 3), np.zeros(0, LONG)]),
    "cross_entropy sum": (lambda x, t: F.cross_entropy(x, t, reduction="sum"),
                          lambda x, t: TF.cross_entropy(x, t, reduction="sum"),
                          [(0, 3), np.zeros(0, LONG)]),
    "cross_entropy none": (lambda x, t: F.cross_entropy(x, t, reduction="none"),
                           lambda x, t: TF.cross_entropy(x, t, reduction="none"),
                           [(0, 3), np.zeros(0, LONG)]),
    "cross_entropy smoothed": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                               lambda x, t: TF.cross_entropy(x, t, label_smoothing=0.1),
                               [(0, 3), np.zeros(0, LONG)]),
    "cross_entropy probabilities": (F.cross_entropy, TF.cross_entropy, [(0, 3), (0, 3)]),
    "nll_loss": (F.nll_loss, TF.nll_loss, [(0, 3), np.zeros(0, LONG)]),
    "mse_loss": (F.mse_loss, TF.mse_loss, [(0, 3), (0, 3)]),
    "pad reflect": (lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"),
                    lambda x: TF.pad(x, (1, 1, 1, 1), mode="reflect"), [(0, 3, 2, 2)]),
    "cat": (lambda a, b: sn.cat([a, b]), lambda a, b: torch.cat([a, b]), [(0, 3), (2, 3)]),
    "stack": (lambda a, b: sn.stack([a, b]), lambda a, b: torch.stack([a, b]),
              [(0, 3), (0, 3)]),
    "flatten(1)": (lambda x: x.flatten(1), lambda x: x.flatten(1), [(0, 3, 2)]),
    "[:, 1]": (lambda x: x[:, 1], lambda x: x[:, 1], [(0, 3)]),
    "permute": (lambda x: x.permute(1, 0), lambda x: x.permute(1, 0), [(0, 3)]),
    "clamp, pow, exp": (lambda x: (x.clamp(-1, 1) ** 2).exp(),
                        lambda x: (x.clamp(-1, 1) ** 2).exp(), [(0, 3)]),
}


@pytest.mark.filterwarnings("ignore:var\\(\\)")  # var(1) of (0, 3) warns in both, as torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", CASES)
def test_an_empty_batch_goes_forward_and_backward_as_torch(name, dtype):
    ours, theirs, inputs = CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(a) if isinstance(a, tuple) else a for a in inputs]
    assert_matches_torch(ours, theirs, arrays, dtype)


def test_a_convolution_of_no_channels_is_its_bias():
    """An empty sum over input channels is 0, so the output is the bias, (N, O, OH, OW); torch
    2.13 returns (N, 0, OH, OW) instead (README, Differences from PyTorch)."""
    x = sn.randn(2, 0, 5, 5)
    w, b = sn.randn(4, 0, 3, 3, requires_grad=True), sn.randn(4, requires_grad=True)
    y = F.conv2d(x, w, b)
    assert y.shape == (2, 4, 3, 3)
    np.testing.assert_array_equal(y.data, np.broadcast_to(b.data[:, None, None], y.shape))
    y.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), np.full(4, 18.0))
    assert w.grad.shape == (4, 0, 3, 3)


def test_dropout_of_an_empty_batch():
    x = sn.randn(0, 3, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    assert y.shape == (0, 3) and x.grad.shape == (0, 3)


def test_batch_norm_layers_leave_their_statistics_alone_on_an_empty_batch_as_torch():
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    for bn, x in ((ours, sn.randn(0, 3, 4, 4)), (theirs, torch.randn(0, 3, 4, 4))):
        assert bn(x).shape == (0, 3, 4, 4)
    np.testing.assert_array_equal(ours.running_mean, theirs.running_mean.numpy())
    np.testing.assert_array_equal(ours.running_var, theirs.running_var.numpy())
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 1


def test_a_zoo_model_trains_on_an_empty_batch_with_zero_gradients():
    model = sn.models.resnet18(num_classes=10)
    x = sn.randn(0, 3, 32, 32)
    loss = F.cross_entropy(model(x), sn.zeros(0, dtype=sn.int64), reduction="sum")
    loss.backward()
    assert loss.item() == 0.0
    for name, p in model.named_parameters():
        assert p.grad is not None and not p.grad.numpy().any(), name


@pytest.mark.parametrize("call", [
    lambda fw, F: F.max_pool2d(fw.randn(2, 0, 4, 4), 2),
    lambda fw, F: F.avg_pool2d(fw.randn(2, 3, 0, 4), 2),
    lambda fw, F: F.adaptive_max_pool2d(fw.randn(2, 0, 4, 4), 2),
    lambda fw, F: F.adaptive_avg_pool2d(fw.randn(2, 3, 0, 4), 2),
    lambda fw, F: F.conv2d(fw.randn(2, 3, 0, 5), fw.randn(4, 3, 1, 1)),
    lambda fw, F: fw.randn(0, 3).max(),
    lambda fw, F: fw.randn(0, 3).argmax(),
    lambda fw, F: fw.randn(0, 3).max(0),
    lambda fw, F: F.batch_norm(fw.randn(1, 3), None, None, training=True),
])
def test_what_torch_refuses_on_empty_input_is_refused(call):
    with pytest.raises((RuntimeError, ValueError, IndexError)):
        call(torch, TF)
    with pytest.raises((RuntimeError, ValueError, IndexError)):
        call(sn, F)


def test_an_empty_tensor_shows_its_shape_as_torch():
    for shape in [(0,), (0, 3), (2, 0, 4)]:
        assert repr(sn.zeros(*shape)) == repr(torch.zeros(*shape))
