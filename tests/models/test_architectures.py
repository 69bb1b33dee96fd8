"""The networks outside torchvision's fixture (LeNet-5, the paper's AlexNet, ZFNet, the
v1 ResNet) against torch.nn twins with the same weights, plus what the fixture cannot see:
feature-map sizes, initialisation, GoogLeNet's outputs, the option-A shortcut."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models, nn

from .weights import formula_weight

torch = pytest.importorskip("torch")
from . import torch_reference as R  # noqa: E402  (needs torch)


def _same_weights(ours, theirs):
    params = dict(ours.named_parameters())
    state = {k: formula_weight(k, v.shape) if k in params else v.copy()
             for k, v in ours.state_dict().items()}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})


def _assert_eval_logits_match(ours, theirs, input_shape, dtype=np.float32):
    ours.eval().to(dtype)
    theirs.eval().to(torch.float64 if dtype == np.float64 else torch.float32)
    x = np.random.default_rng(7).standard_normal(input_shape).astype(dtype)
    with sn.no_grad():
        out = ours(sn.tensor(x)).numpy()
    with torch.no_grad():
        ref = theirs(torch.from_numpy(x)).numpy()
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("activation, pooling", [("relu", "max"), ("tanh", "avg")])
def test_lenet5_matches_torch(activation, pooling):
    ours = models.lenet5(activation=activation, pooling=pooling)
    theirs = R.lenet5(activation, pooling)
    _same_weights(ours, theirs)
    _assert_eval_logits_match(ours, theirs, (4, 1, 32, 32), np.float64)


def test_alexnet_v1_matches_torch(skip_init):
    ours, theirs = models.alexnet_v1(), R.alexnet_v1(towers=2)
    _same_weights(ours, theirs)
    _assert_eval_logits_match(ours, theirs, (1, 3, 227, 227))


@pytest.mark.slow
def test_alexnet_v1_one_tower_matches_torch(skip_init):
    ours, theirs = models.alexnet_v1(towers=1), R.alexnet_v1(towers=1)
    _same_weights(ours, theirs)
    _assert_eval_logits_match(ours, theirs, (1, 3, 227, 227))


def test_zfnet_matches_torch(skip_init):
    ours, theirs = models.zfnet(), R.zfnet()
    _same_weights(ours, theirs)
    _assert_eval_logits_match(ours, theirs, (1, 3, 224, 224))


def _map_sizes(model, x):
    """Output height of every conv and pool in ``model.features``, in order."""
    sizes = []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            sizes.append(x.shape[2])
    return sizes, x.shape


def test_paper_feature_map_sizes(skip_init):
    """ZFNet's Figure 3: 110, 55, 26, 13, 13, 13, 6; AlexNet at 227: 55, 27, 27, 13, ..., 6."""
    x = sn.zeros(1, 3, 224, 224)
    with sn.no_grad():
        assert _map_sizes(models.zfnet(), x) == ([110, 55, 26, 13, 13, 13, 13, 6],
                                                 (1, 256, 6, 6))
        assert _map_sizes(models.alexnet_v1(), sn.zeros(1, 3, 227, 227)) == (
            [55, 27, 27, 13, 13, 13, 13, 6], (1, 256, 6, 6))
        assert _map_sizes(models.lenet5(), sn.zeros(1, 1, 32, 32)) == ([28, 14, 10, 5],
                                                                       (1, 16, 5, 5))


def test_alexnet_v1_towers_are_groups(skip_init):
    convs = [m for m in models.alexnet_v1().features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert [c.groups for c in models.alexnet_v1(towers=1).features
            if isinstance(c, nn.Conv2d)] == [1] * 5
    lrn = models.alexnet_v1().features[2]
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 5e-4, 0.75, 2.0)


@pytest.mark.parametrize("depth", [50])
def test_resnet_paper_variant_strides_the_first_1x1(depth, skip_init):
    paper, v15 = (models.get_model(f"resnet{depth}", variant=v) for v in ("paper", "torchvision"))
    assert paper.layer2[0].conv1.stride == (2, 2) and paper.layer2[0].conv2.stride == (1, 1)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    # the same weights load into both; they compute different functions of the input
    assert list(paper.state_dict()) == list(v15.state_dict())
    theirs = R.resnet(depth)
    for block in theirs.layer2[0], theirs.layer3[0], theirs.layer4[0]:
        block.conv1.stride, block.conv2.stride = (2, 2), (1, 1)
    _same_weights(paper, theirs)
    _assert_eval_logits_match(paper, theirs, (2, 3, 32, 32), np.float64)


def test_zero_pad_shortcut_by_hand():
    from scratchnet.models.resnet_cifar import ZeroPadShortcut
    x = np.arange(2 * 3 * 5 * 5, dtype=np.float64).reshape(2, 3, 5, 5)
    out = ZeroPadShortcut(3, 8, stride=2)(sn.tensor(x)).numpy()
    expected = np.zeros((2, 8, 3, 3))
    expected[:, :3] = x[:, :, ::2, ::2]
    np.testing.assert_array_equal(out, expected)
    block = models.resnet20().layer2[0]
    assert isinstance(block.downsample, ZeroPadShortcut) and block.downsample.stride == 2
    assert models.plain20().layer2[0].downsample is None


def test_googlenet_outputs_in_training_and_eval(skip_init):
    model = models.googlenet(num_classes=7)
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    with sn.no_grad():
        out = model(x)
        assert isinstance(out, models.GoogLeNetOutputs)
        assert out._fields == ("logits", "aux_logits2", "aux_logits1")
        assert [o.shape for o in out] == [(2, 7)] * 3
        assert model.eval()(x).shape == (2, 7)
        no_aux = models.googlenet(num_classes=7, aux_logits=False)
        assert no_aux.aux1 is None and no_aux(x).shape == (2, 7)


def test_googlenet_transform_input(skip_init):
    """transform_input=True equals feeding x_c·std_c/0.5 + (mean_c − 0.5)/0.5 (by hand)."""
    plain, transformed = models.googlenet(), models.googlenet(transform_input=True)
    transformed.load_state_dict(plain.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32))
    std, mean = np.array([0.229, 0.224, 0.225]), np.array([0.485, 0.456, 0.406])
    by_hand = x * (std / 0.5)[:, None, None] + ((mean - 0.5) / 0.5)[:, None, None]
    plain.eval().double(), transformed.eval().double()
    with sn.no_grad():
        np.testing.assert_allclose(transformed(sn.tensor(x)).numpy(),
                                   plain(sn.tensor(by_hand)).numpy(), rtol=1e-12, atol=1e-12)


def _std(p):
    return float(np.std(p.data))


def test_resnet_init_as_torchvision():
    model = models.resnet18(zero_init_residual=True)
    w = model.layer1[0].conv1.weight  # (64, 64, 3, 3): fan_out = 64·9
    assert _std(w) == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.03)
    assert (model.bn1.weight.data == 1).all() and (model.bn1.bias.data == 0).all()
    assert (model.layer1[0].bn2.weight.data == 0).all()  # zero_init_residual
    assert (models.resnet18().layer1[0].bn2.weight.data == 1).all()


def test_densenet_init_as_torchvision():
    model = models.densenet121()
    w = model.features.denseblock1.denselayer1.conv2.weight  # (32, 128, 3, 3): fan_in 128·9
    assert _std(w) == pytest.approx(np.sqrt(2 / (128 * 9)), rel=0.05)
    assert (model.classifier.bias.data == 0).all()
    assert (model.features.norm5.weight.data == 1).all()


def test_googlenet_and_paper_init():
    g = models.googlenet()
    assert _std(g.inception4a.branch2[1].conv.weight) == pytest.approx(0.01, rel=0.03)
    assert _std(g.aux1.fc1.weight) == pytest.approx(0.01, rel=0.03)
    a = models.alexnet_v1()
    convs = [m for m in a.features if isinstance(m, nn.Conv2d)]
    fcs = [m for m in a.classifier if isinstance(m, nn.Linear)]
    assert [float(m.bias.data.mean()) for m in convs + fcs] == [0, 1, 0, 1, 1, 1, 1, 1]
    assert _std(fcs[0].weight) == pytest.approx(0.01, rel=0.01)


@pytest.mark.slow
def test_vgg_init_as_torchvision():
    model = models.vgg11_bn()
    conv = model.features[0]  # (64, 3, 3, 3): fan_out = 64·9
    assert _std(conv.weight) == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.1)
    assert (conv.bias.data == 0).all() and (model.features[1].weight.data == 1).all()
    assert _std(model.classifier[0].weight) == pytest.approx(0.01, rel=0.01)
