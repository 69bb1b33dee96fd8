"""Module, Parameter and the containers behave as torch.nn's do."""
from collections import OrderedDict

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn

torch = pytest.importorskip("torch")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.register_buffer("count", np.zeros(2, np.int64))
        self.act = nn.ReLU()
        self.head = nn.Sequential(nn.Linear(4, 2), nn.Tanh())

    def forward(self, x):
        return self.head(self.act(self.fc(x)))


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.register_buffer("count", torch.zeros(2, dtype=torch.int64))
        self.act = torch.nn.ReLU()
        self.head = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Tanh())

    def forward(self, x):
        return self.head(self.act(self.fc(x)))


def test_state_dict_keys_order_and_shapes_match_torch():
    ours, theirs = Block().state_dict(), TorchBlock().state_dict()
    assert list(ours) == list(theirs)
    assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    assert ours["count"].dtype == np.int64


def test_loaded_torch_weights_give_torch_outputs():
    ref = TorchBlock()
    model = Block()
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(model(sn.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_load_state_dict_accepts_tensors_and_keeps_dtype():
    model = Block()
    state = {k: sn.tensor(np.ones(v.shape, np.float64)) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.fc.weight.dtype == np.float32 and np.all(model.fc.weight.data == 1)
    assert model.count.dtype == np.int64


def test_load_state_dict_error_lists_missing_unexpected_and_mismatched():
    model = Block()
    state = dict(model.state_dict())
    del state["fc.bias"]
    state["extra.weight"] = np.zeros(3)
    state["head.0.weight"] = np.zeros((5, 5), np.float32)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state)
    text = str(err.value)
    assert "fc.bias" in text and "extra.weight" in text
    assert "head.0.weight: checkpoint (5, 5), model (2, 4)" in text


def test_load_state_dict_non_strict_reports_keys():
    model = Block()
    state = dict(model.state_dict())
    del state["fc.bias"]
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == []


def test_registration_traversal_and_modes():
    model = Block()
    assert [n for n, _ in model.named_parameters()] == [
        "fc.weight", "fc.bias", "head.0.weight", "head.0.bias"]
    assert [n for n, _ in model.named_buffers()] == ["count"]
    assert [n for n, _ in model.named_children()] == ["fc", "act", "head"]
    assert [n for n, _ in model.named_modules()] == ["", "fc", "act", "head", "head.0",
                                                      "head.1"]
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.fc = None  # assigning None keeps the slot, as torch
    assert "fc" in model._modules and model.fc is None


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(2, 2)
    model = nn.Sequential(lin, lin)
    assert len(list(model.parameters())) == 2


def test_apply_visits_children_first():
    seen = []
    Block().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Tanh", "Sequential", "Block"]


def test_zero_grad_and_to_dtype():
    model = Block()
    model(sn.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    params = list(model.parameters())
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert list(model.parameters())[0] is params[0]  # same objects: optimizers keep working
    assert model.count.dtype == np.int64


def test_forward_hooks_and_pre_hooks():
    model = Block()
    calls = []
    h1 = model.fc.register_forward_pre_hook(lambda m, inp: calls.append(("pre", inp[0].shape)))
    h2 = model.fc.register_forward_hook(lambda m, inp, out: out * 0)
    out = model(sn.randn(2, 3))
    assert calls == [("pre", (2, 3))]
    # the hook zeroed fc's output: the head sees zeros and gives tanh(bias)
    np.testing.assert_allclose(out.detach().numpy(),
                               np.tanh(np.broadcast_to(model.head[0].bias.data, (2, 2))),
                               rtol=1e-6)
    h1.remove()
    h2.remove()
    model(sn.randn(2, 3))
    assert len(calls) == 1


def test_repr_is_a_tree():
    text = repr(Block())
    assert "(fc): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(head): Sequential(\n    (0): Linear" in text


def test_sequential_from_ordered_dict_and_indexing():
    seq = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias"]
    assert isinstance(seq[1], nn.ReLU) and len(seq) == 2
    assert list(seq[:1].state_dict()) == ["conv.weight", "conv.bias"]


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2)])
    ml.append(nn.Linear(2, 2))
    assert [n for n, _ in ml.named_parameters()][-1] == "2.bias" and len(ml) == 3
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.Identity()
    assert list(md.keys()) == ["a", "b"] and "a" in md


@pytest.mark.parametrize("layer, torch_layer, kwargs", [
    (nn.ReLU, torch.nn.ReLU, {}), (nn.LeakyReLU, torch.nn.LeakyReLU, {"negative_slope": 0.2}),
    (nn.Sigmoid, torch.nn.Sigmoid, {}), (nn.Tanh, torch.nn.Tanh, {}),
    (nn.Softmax, torch.nn.Softmax, {"dim": 1}), (nn.LogSoftmax, torch.nn.LogSoftmax, {"dim": 0}),
    (nn.Flatten, torch.nn.Flatten, {}), (nn.Identity, torch.nn.Identity, {}),
])
def test_layers_match_torch(layer, torch_layer, kwargs):
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    np.testing.assert_allclose(layer(**kwargs)(sn.tensor(x)).detach().numpy(),
                               torch_layer(**kwargs)(torch.tensor(x)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_layers_match_torch(reduction):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    y = rng.standard_normal((4, 5))
    pairs = [(nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1),
              torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1), t),
             (nn.NLLLoss(reduction=reduction), torch.nn.NLLLoss(reduction=reduction), t),
             (nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), y)]
    for ours, theirs, target in pairs:
        np.testing.assert_allclose(ours(sn.tensor(x), sn.tensor(target)).numpy(),
                                   theirs(torch.tensor(x), torch.tensor(target)).numpy(),
                                   rtol=1e-12)


def test_linear_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"Linear: expected input \(\*, 3\), got \(2, 4\)"):
        nn.Linear(3, 1)(sn.randn(2, 4))


def test_parameter_requires_grad_and_module_init_order():
    p = nn.Parameter(sn.zeros(2))
    assert p.requires_grad and p.is_leaf

    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sn.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()
