"""One training step of each model family on the CuPy stand-in (tests/standin): the whole CUDA
path (every op through ``xp``, every kernel through its CUDA twin, run on the CPU by the
harness, the SGD update included) at the smallest input each family accepts. The logits,
loss and gradients equal the CPU path's to 1e-3 relative (issue 12's parity bar), and the
step makes no device-to-host copy: the stand-in counts them. Left to the GPU run
(benchmarks/gpu_check.sh), for CI's time: VGG (11 s here for VGG-11's 133M parameters), and
the larger members of the other families (ResNet-34 and up, DenseNet-161/169/201).
CIFAR ResNet-20 stands for the plain and residual CIFAR nets."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import backend, models
from tests.standin import fake_cupy

# (model, input (C, H, W), batch, dtype): batch 2 where batch norm meets a 1×1 map (batch 1
# has a single value per channel there, which torch's batch norm refuses in training), and
# float64 with batch norm: over two values it amplifies float32 rounding beyond any useful
# tolerance. float32 elsewhere (AlexNet's 61M parameters in float64 would take 20 s).
FAMILIES = [("lenet5", (1, 32, 32), 1, np.float32), ("alexnet", (3, 63, 63), 1, np.float32),
            ("zfnet", (3, 207, 207), 1, np.float32),
            ("googlenet", (3, 32, 32), 2, np.float64), ("resnet18", (3, 32, 32), 2, np.float64),
            ("resnet20", (3, 8, 8), 2, np.float64), ("densenet121", (3, 32, 32), 2, np.float64)]


def _step(model, x, labels, device):
    """Forward, cross-entropy, backward, one SGD step with momentum: (logits, loss, grads,
    updated weights), all as NumPy arrays. No host copy on the way: asserted by the caller."""
    model.zero_grad()
    logits = model(sn.tensor(x, device=device))
    logits = getattr(logits, "logits", logits)     # GoogLeNet in training: (logits, aux...)
    loss = F.cross_entropy(logits, sn.tensor(labels, device=device))
    loss.backward()
    grads = [None if p.grad is None else p.grad.data.copy() for p in model.parameters()]
    sn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9).step()
    return logits.data, loss.data, grads, [p.data.copy() for p in model.parameters()]


@pytest.mark.standin
@pytest.mark.parametrize("name, size, batch, dtype", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_training_step_on_the_stand_in_matches_the_cpu(name, size, batch, dtype):
    sn.manual_seed(0)
    model = models.get_model(name).train().to(dtype)
    for m in model.modules():                  # the two devices draw different dropout masks
        if isinstance(m, sn.nn.Dropout):
            m.eval()
    state = {k: v.copy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + size).astype(dtype)
    labels = rng.integers(0, 10, batch)
    expected = _step(model, x, labels, "cpu")

    model.load_state_dict(state)
    model.to("cuda")
    before = fake_cupy.host_copies
    got = _step(model, x, labels, "cuda")
    assert fake_cupy.host_copies == before, ("the training step copied to the host at "
                                             + ", ".join(fake_cupy.host_copy_sites[-5:]))
    assert all(backend.is_cupy(a) for a in got[2] + got[3] if a is not None)
    _assert_close(name, got, expected)


def _assert_close(name, got, expected):
    """Each array within 1e-3 of the CPU's (relative, in norm); a gradient that is rounding
    noise around 0 (a conv bias before batch norm) within 1e-6 of the largest gradient."""
    floor = 1e-6 * max(np.linalg.norm(g) for g in expected[2] if g is not None)
    for what, ours, ref in zip(("logits", "loss", "gradient", "updated weight"), got, expected):
        pairs = zip(ours, ref) if isinstance(ref, list) else [(ours, ref)]
        for i, (o, r) in enumerate(pairs):
            assert (o is None) == (r is None), f"{name}: {what} {i} exists on one device only"
            if r is not None:
                error = np.linalg.norm(o.get() - r)
                assert error <= 1e-3 * np.linalg.norm(r) + floor, f"{name}: {what} {i}: {error}"
