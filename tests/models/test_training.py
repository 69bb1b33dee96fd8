"""One training step through whole networks: gradients and batch-norm statistics equal
torch's (torch.nn twins in torch_reference.py, same weights), checkpointed DenseNet layers
give the same gradients with less memory kept, and a 150-layer backward runs."""
import inspect
import sys
import tracemalloc

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import models

from .weights import formula_weight

torch = pytest.importorskip("torch")
from . import torch_reference as R  # noqa: E402  (needs torch)


def _load_both(ours, theirs):
    """Formula weights (the fixture README's) for every parameter, default buffers, into
    both models; returns the state loaded."""
    params = dict(ours.named_parameters())
    state = {k: formula_weight(k, v.shape) if k in params else v.copy()
             for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    return state


def _train_step(ours, theirs, size, dtype=np.float64, seed=0):
    """Forward a batch of 2 in training mode, cross-entropy against random labels, backward
    in both frameworks; returns (our loss, torch's loss)."""
    ours.to(dtype).train()
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32).train()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2,) + size).astype(dtype)
    labels = rng.integers(0, ours_classes(ours), 2)
    loss = F.cross_entropy(ours(sn.tensor(x)), sn.tensor(labels))
    loss.backward()
    ref = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(labels))
    ref.backward()
    return loss.item(), ref.item()


def ours_classes(model):
    last = [m for m in model.modules() if isinstance(m, sn.nn.Linear)][-1]
    return last.out_features


def _assert_grads_match(ours, theirs):
    """float64 gradients within 1e-7 of each tensor's largest: batch norm over 2 samples (the
    last stages' 1x1 maps at 32x32 input) amplifies rounding differences to ~2e-8."""
    ref_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = ref_params[name].grad.numpy()
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-6,
                                   atol=1e-7 * np.abs(expected).max(), err_msg=name)


def _assert_step_matches(ours, theirs, loss, ref_loss):
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    _assert_grads_match(ours, theirs)
    ref_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():  # running statistics after one training step
        expected = ref_buffers[name].numpy()
        np.testing.assert_allclose(b, expected, rtol=1e-7, atol=1e-10 * np.abs(expected).max(),
                                   err_msg=name)


def test_resnet18_training_step_matches_torch(skip_init):
    ours, theirs = models.resnet18(), R.resnet(18)
    _load_both(ours, theirs)
    _assert_step_matches(ours, theirs, *_train_step(ours, theirs, (3, 32, 32)))


def test_densenet121_training_step_matches_torch(skip_init):
    ours, theirs = models.densenet121(), R.DenseNet()
    _load_both(ours, theirs)
    _assert_step_matches(ours, theirs, *_train_step(ours, theirs, (3, 32, 32)))


def test_memory_efficient_densenet_gives_the_same_gradients(skip_init):
    """Recomputing concat-BN-ReLU-conv1x1 in backward changes nothing but the memory kept;
    norm1's running statistics are updated twice (once more in the recomputation), as with
    torch.utils.checkpoint, so only norm2's are compared."""
    ours, theirs = models.densenet121(memory_efficient=True), R.DenseNet()
    _load_both(ours, theirs)
    loss, ref_loss = _train_step(ours, theirs, (3, 32, 32))
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    _assert_grads_match(ours, theirs)
    ref_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        if ".norm2." in name:
            np.testing.assert_allclose(b, ref_buffers[name].numpy(), rtol=1e-7, err_msg=name)


def test_memory_efficient_densenet_keeps_less_for_backward(skip_init):
    """Arrays alive between forward and backward (what the graph keeps), measured with
    tracemalloc: checkpointing keeps each layer's inputs only, not their concatenation, its
    normalised copy and the ReLU's output."""
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
    kept = {}
    for efficient in (False, True):
        model = models.densenet121(memory_efficient=efficient)
        tracemalloc.start()
        out = model(x)
        kept[efficient] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert out.requires_grad
        del out
    assert kept[True] < 0.6 * kept[False], kept


@pytest.mark.parametrize("name, n, residual", [("resnet20", 3, True), ("plain20", 3, False)])
def test_cifar_training_step_matches_torch(name, n, residual):
    """Option-A shortcuts (subsample, zero channels) against torch's F.pad version."""
    ours, theirs = models.get_model(name), R.CifarResNet(n, residual)
    _load_both(ours, theirs)
    _assert_step_matches(ours, theirs, *_train_step(ours, theirs, (3, 32, 32)))


def test_resnet152_backward_through_150_layers(skip_init):
    """~1,200 Functions deep; the backward engine must not recurse: forward and backward run
    here with the recursion limit 150 frames above the caller's depth (after a first forward
    outside it, which may have Numba load its compiled kernels, a deep call chain of its own).
    Eval mode: at 16x16 the last stages' maps are 1x1, and training-mode batch norm over 2
    values per channel makes float32 gradients overflow through 50 blocks."""
    model = models.resnet152(num_classes=10).eval()
    params = dict(model.named_parameters())
    model.load_state_dict({k: formula_weight(k, v.shape) if k in params else v
                           for k, v in model.state_dict().items()})
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32))
    with sn.no_grad():
        model(x)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 150)
    try:
        loss = F.cross_entropy(model(x), sn.tensor(np.array([1, 7])))
        loss.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert np.isfinite(loss.item())
    for name, p in model.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all(), name
    assert np.abs(params["conv1.weight"].grad.numpy()).max() > 0
