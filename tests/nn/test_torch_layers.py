"""The layers of issue 15 against torch's own modules with the same weights (outputs, input
and parameter gradients, state_dict keys, reprs), Conv2d's padding modes, and Module's
requires_grad_, half and full backward hooks."""
import contextlib

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from tests.helpers import assert_matches_torch

torch = pytest.importorskip("torch")


def _same_weights(ours, theirs):
    """Give torch's module our parameters, both in float64."""
    ours.double()
    theirs.double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def _check_module(ours, theirs, x, requires_grad=None):
    """Outputs and input gradients (assert_matches_torch), then parameter gradients."""
    _same_weights(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_matches_torch(ours, theirs, [x], requires_grad=requires_grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if q.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=name)


RNG = np.random.default_rng(0)
LAYERS = [
    (lambda m: m.LayerNorm(4), RNG.standard_normal((2, 3, 4))),
    (lambda m: m.LayerNorm((3, 4), eps=0.1, bias=False), RNG.standard_normal((2, 3, 4))),
    (lambda m: m.LayerNorm([4], elementwise_affine=False), RNG.standard_normal((3, 4))),
    (lambda m: m.GELU(), RNG.standard_normal((2, 5)) * 3),
    (lambda m: m.GELU(approximate="tanh"), RNG.standard_normal((2, 5)) * 3),
    (lambda m: m.Softplus(beta=2, threshold=3), RNG.standard_normal((2, 5)) * 3),
    (lambda m: m.LogSigmoid(), RNG.standard_normal((2, 5)) * 10),
    (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     RNG.standard_normal((2, 4, 3, 5))),
    (lambda m: m.ConvTranspose2d(3, 2, (2, 3), dilation=2, bias=False),
     RNG.standard_normal((1, 3, 4, 4))),
    (lambda m: m.ConvTranspose2d(2, 2, 3, stride=3, output_padding=2, dilation=2),
     RNG.standard_normal((1, 2, 3, 2))),
] + [(lambda m, mode=mode, pad=pad: m.Conv2d(2, 3, (3, 2), padding=pad, padding_mode=mode),
      RNG.standard_normal((2, 2, 5, 6)))
     for mode in ("reflect", "replicate", "circular") for pad in (1, (2, 1), "same")]


@pytest.mark.parametrize("make, x", LAYERS)
def test_layer_matches_torch_with_the_same_weights(make, x):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    _check_module(ours, theirs, x)


def test_conv_transpose2d_init_and_output_size_as_torch():
    sn.manual_seed(0)
    layer = nn.ConvTranspose2d(8, 4, 3, stride=2, groups=2)
    assert layer.weight.shape == (8, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 9)                      # fan_in from the weight's second dim
    for p in (layer.weight, layer.bias):
        assert 0.8 * bound < np.abs(p.detach().numpy()).max() <= bound
    x = sn.randn(1, 8, 4, 4)
    assert layer(x).shape == (1, 4, 9, 9)
    assert layer(x, output_size=(10, 10)).shape == (1, 4, 10, 10)
    theirs = torch.nn.ConvTranspose2d(8, 4, 3, stride=2, groups=2)
    assert tuple(theirs(torch.randn(1, 8, 4, 4), output_size=[10, 10]).shape) == (1, 4, 10, 10)
    with pytest.raises(ValueError, match=r"requested an output size of \(12, 12\), but valid "
                                         r"sizes range from \(9, 9\) to \(10, 10\)"):
        layer(x, output_size=(12, 12))


def test_embedding_matches_torch_and_from_pretrained_freezes():
    index = np.array([[0, 2, 2], [3, 1, 0]])
    ours, theirs = nn.Embedding(4, 3, padding_idx=1), torch.nn.Embedding(4, 3, padding_idx=1)
    assert np.all(ours.weight.detach().numpy()[1] == 0)
    _same_weights(ours, theirs)
    assert_matches_torch(lambda i: ours(i), lambda i: theirs(i), [index])
    ours(sn.tensor(index)).sum().backward()
    theirs(torch.tensor(index)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    frozen = nn.Embedding.from_pretrained(sn.ones(5, 2))
    assert not frozen.weight.requires_grad and frozen(sn.tensor([4])).tolist() == [[1.0, 1.0]]
    assert repr(ours) == repr(theirs) == "Embedding(4, 3, padding_idx=1)"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_loss_modules_match_torch(reduction):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    w, pw = sn.tensor(rng.uniform(0.5, 2, 3)), sn.tensor(rng.uniform(0.5, 2, 3))
    tw, tpw = torch.tensor(w.numpy()), torch.tensor(pw.numpy())
    assert_matches_torch(nn.BCEWithLogitsLoss(w, reduction=reduction, pos_weight=pw),
                         torch.nn.BCEWithLogitsLoss(tw, reduction=reduction, pos_weight=tpw),
                         [x, t])
    p = 1 / (1 + np.exp(-x))
    assert_matches_torch(nn.BCELoss(w, reduction=reduction),
                         torch.nn.BCELoss(tw, reduction=reduction), [p, t])


def test_requires_grad_and_half_on_modules():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model[2].requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [False] * 4 + [True] * 2
    model(sn.randn(5, 3)).sum().backward()
    assert model[0].weight.grad is None and model[2].weight.grad is not None
    assert {p.dtype for p in model.half().parameters()} == {np.dtype(np.float16)}
    assert model.to(sn.float32, "cpu").to(dtype=sn.float64)[0].weight.dtype == np.float64


class TwoInTwoOut(torch.nn.Module):
    """forward(x, k, z) -> (x·k + z, x): one non-Tensor argument, one output unused."""

    def forward(self, x, k, z):
        return x * k + z, x


class OursTwoInTwoOut(nn.Module):
    def forward(self, x, k, z):
        return x * k + z, x


def _hook_record(module, record):
    def hook(mod, grad_input, grad_output):
        assert mod is module
        record.append(("hook", [None if g is None else g.numpy().tolist() for g in grad_input],
                       [None if g is None else g.numpy().tolist() for g in grad_output]))

    def pre_hook(mod, grad_output):
        record.append(("pre", [None if g is None else g.numpy().tolist() for g in grad_output]))
    return hook, pre_hook


def _zeros_for_none(grads):
    """torch passes None for an output that did not reach the loss, scratchnet zeros (README,
    Differences from PyTorch): compare them as zeros."""
    return [[0.0, 0.0] if g is None else g for g in grads]


@pytest.mark.parametrize("x_grad, z_grad", [(True, False), (False, True), (True, True)])
def test_full_backward_hooks_see_torchs_gradients(x_grad, z_grad):
    records = {}
    for lib, module in (("sn", OursTwoInTwoOut()), ("torch", TwoInTwoOut())):
        make = sn.tensor if lib == "sn" else torch.tensor
        record = records.setdefault(lib, [])
        hook, pre_hook = _hook_record(module, record)
        module.register_full_backward_pre_hook(pre_hook)
        module.register_full_backward_hook(hook)
        w = make([0.5, -1.0], requires_grad=True)
        x = make([1.0, 2.0], requires_grad=x_grad)
        z = make([3.0, 4.0], requires_grad=z_grad)
        a, _ = module(x * w if x_grad else x, 3.0, z)
        (a * make([1.0, 10.0])).sum().backward()
    normalised = [(kind, rest[0], _zeros_for_none(rest[-1])) if kind == "hook"
                  else (kind, _zeros_for_none(rest[0])) for kind, *rest in records["torch"]]
    assert records["sn"] == normalised
    assert [r[0] for r in records["sn"]] == ["pre", "hook"]


def test_without_input_gradients_the_hook_runs_at_the_outputs_as_torch():
    seen = {}
    for lib, layer in (("sn", nn.Linear(2, 3)), ("torch", torch.nn.Linear(2, 3))):
        def hook(module, grad_input, grad_output, lib=lib):
            seen[lib] = grad_input, tuple(grad_output[0].shape)
        layer.register_full_backward_hook(hook)
        make = sn.ones if lib == "sn" else torch.ones
        with pytest.warns(UserWarning) if lib == "torch" else contextlib.nullcontext():
            layer(make(4, 2)).sum().backward()
    assert seen["sn"] == seen["torch"] == ((None,), (4, 3))


def test_a_full_backward_hook_may_replace_the_input_gradients():
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0 + 1,))
    x = sn.ones(1, 2, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0]]
