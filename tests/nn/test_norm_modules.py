"""nn.BatchNorm1d/2d, nn.LocalResponseNorm, nn.Dropout/Dropout2d against torch.nn."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from tests.helpers import DEVICES

torch = pytest.importorskip("torch")


def _pair(name, *args, **kwargs):
    """The same layer in scratchnet and torch, torch's parameters copied into ours."""
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kwargs", [{}, dict(affine=False), dict(track_running_stats=False),
                                    dict(bias=False), dict(eps=1e-3, momentum=None)])
def test_batch_norm_state_dict_and_repr_match_torch(kwargs):
    ours, theirs = nn.BatchNorm2d(5, **kwargs), torch.nn.BatchNorm2d(5, **kwargs)
    mine, ref = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(ref)
    for key in ref:
        np.testing.assert_array_equal(mine[key], ref[key].numpy())
        assert mine[key].dtype == ref[key].numpy().dtype, key    # num_batches_tracked: int64
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape", [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (6, 3)),
                                         ("BatchNorm1d", (4, 3, 7))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_follow_torch_through_training_then_eval(device, name, shape,
                                                                     momentum):
    """Four training steps (outputs, input and parameter gradients, buffers after each), then
    eval mode on a fresh batch. momentum=None is the cumulative average."""
    ours, theirs = _pair(name, 3, momentum=momentum)
    ours.to(device)
    rng = np.random.default_rng(0)
    for step in range(5):
        if step == 4:
            ours.eval(), theirs.eval()
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        gy = rng.standard_normal(shape).astype(np.float32)
        xs, xt = sn.tensor(x, device=device, requires_grad=True), torch.tensor(x,
                                                                               requires_grad=True)
        ys, yt = ours(xs), theirs(xt)
        ys.backward(sn.tensor(gy, device=device))
        yt.backward(torch.tensor(gy))
        np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
        for p, q in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-4)
            p.grad, q.grad = None, None
        for key, ref in theirs.state_dict().items():
            np.testing.assert_allclose(sn.Tensor(ours.state_dict()[key]).numpy(), ref.numpy(),
                                       rtol=1e-5, err_msg=f"{key} after step {step}")


def test_untracked_statistics_use_the_batch_in_eval():
    ours, theirs = _pair("BatchNorm2d", 2, track_running_stats=False)
    ours.eval(), theirs.eval()
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(sn.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_googlenet_eps_is_used():
    ours, theirs = _pair("BatchNorm2d", 2, eps=1e-3)
    ours.eval(), theirs.eval()
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 3)).astype(np.float32)
    out = ours(sn.tensor(x)).detach().numpy()
    np.testing.assert_allclose(out, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6,
                               atol=1e-6)
    w, b = ours.weight.detach().numpy(), ours.bias.detach().numpy()   # running stats 0 and 1
    np.testing.assert_allclose(out, x * (w / np.sqrt(1 + 1e-3))[:, None, None]
                               + b[:, None, None], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layer, shape, message", [
    (nn.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d: expected 4D input, got 3D input"),
    (nn.BatchNorm1d(3), (2, 3, 4, 4), r"BatchNorm1d: expected 2D or 3D input, got 4D"),
    (nn.BatchNorm2d(3), (2, 4, 5, 5), r"BatchNorm2d: expected 3 channels .*\(2, 4, 5, 5\)"),
    (nn.BatchNorm1d(3), (1, 3), r"more than 1 value per channel when training.*\(1, 3\)"),
])
def test_batch_norm_bad_input(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(sn.ones(*shape))
    if layer.track_running_stats:
        assert int(layer.num_batches_tracked) == 0          # a refused batch is not counted


def test_local_response_norm_module_matches_torch():
    ours, theirs = nn.LocalResponseNorm(4, alpha=2.0, beta=0.6, k=1.5), torch.nn.LocalResponseNorm(
        4, alpha=2.0, beta=0.6, k=1.5)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(sn.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["Dropout", "Dropout2d"])
def test_dropout_modules_train_and_eval(name):
    ours, theirs = getattr(nn, name)(0.25), getattr(torch.nn, name)(0.25)
    assert repr(ours) == repr(theirs)
    x = sn.ones(8, 6, 3, 3)
    sn.manual_seed(0)
    y = ours(x).numpy()
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    ours.eval()
    assert ours(x) is x


def test_dropout_module_rejects_bad_probability():
    with pytest.raises(ValueError, match="Dropout: dropout probability has to be between 0 and "
                                         "1, but got 1.5"):
        nn.Dropout(1.5)
