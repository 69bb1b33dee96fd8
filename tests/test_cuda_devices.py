"""Devices with an index, the one-device rule of every op, ``sn.cuda`` and TF32's switch, on
the CuPy stand-in (two simulated GPUs: tests/standin) and without any GPU."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import backend


def test_without_a_gpu_cuda_says_so():
    assert sn.cuda.is_available() is False and sn.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        sn.cuda.memory_allocated()
    with pytest.raises(RuntimeError, match="not available"):
        sn.ones(2).to("cuda:1")


def test_device_equality_keeps_the_index():
    assert sn.device("cuda:1") != sn.device("cuda:0")
    assert sn.device("cuda:1") == "cuda:1" and sn.device("cuda:1") == "cuda"
    assert sn.device("cuda", 1).index == 1 and str(sn.device("cuda", 1)) == "cuda:1"
    assert sn.device("cpu") != "cuda" and sn.device("cpu") == "cpu"


def test_allow_tf32_is_torchs_name_and_default():
    matmul = sn.backends.cuda.matmul
    assert matmul.allow_tf32 is False
    matmul.allow_tf32 = True
    try:
        assert matmul.allow_tf32 is True
    finally:
        matmul.allow_tf32 = False


@pytest.mark.standin
def test_to_cuda_1_keeps_the_index_through_forward_and_backward():
    x = sn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.to("cuda:1")
    assert y.device == "cuda:1" and y.device.index == 1 and repr(y.device).endswith("index=1)")
    z = (F.relu(y) * 2).sum()                    # the stand-in raises if a kernel ran on GPU 0
    assert z.device.index == 1
    z.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), np.where(np.arange(6.0) > 0, 2.0, 0.0)
                                  .reshape(2, 3))
    back = y.to("cuda:0")
    assert back.device.index == 0 and np.array_equal(back.detach().numpy(), y.detach().numpy())


@pytest.mark.standin
def test_ops_refuse_inputs_on_two_gpus():
    a, b = sn.ones(3).to("cuda:0"), sn.ones(3).to("cuda:1")
    with pytest.raises(RuntimeError, match="same device.*cuda:0.*cuda:1"):
        a + b


@pytest.mark.standin
def test_a_layer_on_cuda_1_trains_there():
    layer = sn.nn.Linear(4, 2).to("cuda:1")
    assert all(p.device == "cuda:1" for p in layer.parameters())
    out = layer(sn.ones(3, 4, device="cuda:1")).sum()
    out.backward()
    assert all(p.grad.device.index == 1 for p in layer.parameters())


@pytest.mark.standin
def test_cuda_api_on_the_stand_in():
    assert sn.cuda.is_available() and sn.cuda.device_count() == 2
    assert sn.cuda.current_device() == 0
    sn.cuda.synchronize()
    assert sn.cuda.max_memory_allocated() >= sn.cuda.memory_allocated() >= 0
    sn.cuda.reset_peak_memory_stats()
    sn.cuda.empty_cache()
    sn.cuda.manual_seed(3)
    assert backend.device_of(backend.to_device(np.ones(2), "cuda")).index == 0


@pytest.mark.standin
def test_pinned_batches_go_to_the_gpu_without_blocking():
    data = sn.data.TensorDataset(np.arange(12, dtype=np.float32).reshape(4, 3), np.arange(4))
    loader = sn.data.DataLoader(data, batch_size=2, pin_memory=True)
    for x, y in loader:
        xt = sn.tensor(x).to("cuda", non_blocking=True)
        assert xt.device == "cuda" and xt.shape == (2, 3)


@pytest.mark.standin
def test_a_checkpoint_moves_between_devices(tmp_path):
    """Saved from a model on GPU 1, loaded onto the CPU and onto GPU 0, with the optimizer."""
    sn.manual_seed(0)
    model = sn.nn.Sequential(sn.nn.Conv2d(1, 2, 3), sn.nn.BatchNorm2d(2)).to("cuda:1")
    opt = sn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(sn.randn(2, 1, 5, 5, device="cuda:1")).sum().backward()
    opt.step()
    sn.io.save(model.state_dict(), tmp_path / "model.npz")
    sn.io.save_nested(opt.state_dict(), tmp_path / "opt.npz")
    saved = {k: backend.to_numpy(v) for k, v in model.state_dict().items()}
    for device in ("cpu", "cuda:0"):
        sn.manual_seed(1)
        other = sn.nn.Sequential(sn.nn.Conv2d(1, 2, 3), sn.nn.BatchNorm2d(2)).to(device)
        other.load_state_dict(sn.io.load(tmp_path / "model.npz"))
        other_opt = sn.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
        other_opt.load_state_dict(sn.io.load_nested(tmp_path / "opt.npz"))
        for k, v in other.state_dict().items():
            assert backend.device_of(v) == device
            np.testing.assert_array_equal(backend.to_numpy(v), saved[k], err_msg=k)
        other(sn.randn(2, 1, 5, 5, device=device)).sum().backward()
        other_opt.step()                        # the momentum buffers are on ``device`` too
