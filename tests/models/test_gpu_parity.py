"""On a real GPU (marked ``gpu``: skipped without CuPy and a CUDA GPU; benchmarks/gpu_check.sh
runs them): the zoo's logits against torchvision's, one training step of ResNet-18 and
DenseNet-121 against torch on CUDA, and ``sn.cuda``'s memory functions against CuPy's pool.
TF32 is off on both sides (torch's two switches, and ours). The op-by-op parity runs are the
``cuda`` parameters of the op tests (tests/helpers.DEVICES)."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import models

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def no_tf32():
    torch = pytest.importorskip("torch")
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    assert sn.backends.cuda.matmul.allow_tf32 is False          # the default, as torch's
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "vgg11_bn", "vgg16", "googlenet",
                                  "resnet18", "resnet50", "resnet152", "densenet121",
                                  "densenet201"])
def test_zoo_logits_on_the_gpu_match_torchvision(name, zoo, skip_init):
    meta = zoo.meta[name]
    model = models.get_model(name, **meta["kwargs"])
    model.load_state_dict(zoo.state_dict(name))
    model.eval().to("cuda")
    expected = zoo.arrays[f"{name}.logits"]
    scale = max(1.0, float(np.abs(expected).max()))
    with sn.no_grad():
        out = model(sn.tensor(zoo.input(name), device="cuda")).numpy()
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-3 * scale)


@pytest.mark.parametrize("depth_or_dense", ["resnet18", "densenet121"])
def test_training_step_gradients_match_torch_on_cuda(depth_or_dense, skip_init):
    torch = pytest.importorskip("torch")
    from . import torch_reference as R
    from .test_training import _load_both
    ours = models.get_model(depth_or_dense)
    theirs = R.resnet(18) if depth_or_dense == "resnet18" else R.DenseNet()
    _load_both(ours, theirs)
    ours.to("cuda").train()
    theirs.to("cuda").train()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    labels = rng.integers(0, 1000, 4)
    loss = F.cross_entropy(ours(sn.tensor(x, device="cuda")), sn.tensor(labels, device="cuda"))
    loss.backward()
    ref = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x).cuda()),
                                            torch.from_numpy(labels).cuda())
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-4)
    ref_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = ref_grads[name].grad.cpu().numpy()
        error = np.linalg.norm(p.grad.numpy() - expected)
        assert error <= 1e-3 * np.linalg.norm(expected) + 1e-7, name


def test_memory_functions_follow_the_pool():
    sn.cuda.synchronize()
    sn.cuda.empty_cache()
    sn.cuda.reset_peak_memory_stats()
    before = sn.cuda.memory_allocated()
    x = sn.zeros(1 << 20, device="cuda")                      # 4 MiB
    assert sn.cuda.memory_allocated() >= before + (4 << 20)
    del x
    assert sn.cuda.memory_allocated() == before
    assert sn.cuda.max_memory_allocated() >= before + (4 << 20)
    sn.cuda.reset_peak_memory_stats()
    assert sn.cuda.max_memory_allocated() == before


def test_device_index_and_count():
    assert sn.cuda.is_available() and sn.cuda.device_count() >= 1
    assert sn.cuda.current_device() == 0
    t = sn.ones(3).to("cuda:0")
    assert t.device.index == 0 and str(t.device) == "cuda:0"
