"""summary(): totals against torchvision's and the papers' figures, receptive fields computed
by hand, and the model left as it was found.

Building the big models takes seconds each (VGG's 133 M weights), so CI checks a subset;
the rest carries the slow marker and runs with SCRATCHNET_SLOW=1.
"""
import functools
import re

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models, nn

slow = pytest.mark.slow  # skipped unless SCRATCHNET_SLOW=1 (tests/conftest.py)


@functools.cache
def _summary(name, **kwargs):
    sn.manual_seed(0)
    return sn.summary(models.get_model(name, **kwargs))


# ../shared/REFERENCE.md: parameters and GMACs at 224x224 (torchvision 0.29, conv + linear)
TORCHVISION = {
    "alexnet": (61_100_840, 0.714), "resnet18": (11_689_512, 1.814),
    "googlenet": (13_004_888, 1.498),
    "vgg11": (132_863_336, 7.609), "vgg11_bn": (132_868_840, 7.609),
    "vgg13": (133_047_848, 11.308), "vgg13_bn": (133_053_736, 11.308),
    "vgg16": (138_357_544, 15.470), "vgg16_bn": (138_365_992, 15.470),
    "vgg19": (143_667_240, 19.632), "vgg19_bn": (143_678_248, 19.632),
    "resnet34": (21_797_672, 3.664), "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801), "resnet152": (60_192_808, 11.514),
    "densenet121": (7_978_856, 2.834), "densenet169": (14_149_480, 3.360),
    "densenet201": (20_013_928, 4.291), "densenet161": (28_681_000, 7.728),
}
CI = {"resnet18", "googlenet"}


@pytest.mark.parametrize("name", [n if n in CI else pytest.param(n, marks=slow)
                                  for n in TORCHVISION])
def test_totals_match_torchvision(name):
    params, gmacs = TORCHVISION[name]
    s = _summary(name)
    assert s.input_size == (1, 3, 224, 224)
    assert s.total_params == params
    assert round(s.total_macs / 1e9, 3) == gmacs  # REFERENCE.md prints three decimals


def test_googlenet_without_aux_heads():
    """The aux heads do not run in eval mode: same MACs, 6,624,904 parameters without them."""
    s = sn.summary(models.get_model("googlenet", aux_logits=False))
    assert s.total_params == 6_624_904
    assert s.total_macs == _summary("googlenet").total_macs


def test_alexnet_v1_matches_the_paper_exactly():
    s = _summary("alexnet_v1")
    assert s.input_size == (1, 3, 227, 227)
    assert (s.total_params, s.total_macs) == (60_965_224, 724_406_816)
    # conv1 96@11x11/4 on 227x227 -> 55x55: 96·55·55·3·11·11 MACs
    assert (s.rows[0].output_shape, s.rows[0].macs) == ((1, 96, 55, 55), 96 * 55**2 * 3 * 121)
    # conv2 with two towers: each output channel sees 96/2 input channels
    conv2 = next(r for r in s.rows if r.name == "features.4")
    assert conv2.macs == 256 * 27 * 27 * 48 * 25
    # after the last pool, AlexNet's receptive field is 195 pixels with a jump of 32
    # (Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019: alexnet_v2)
    last_pool = [r for r in s.rows if r.name.startswith("features.")][-1]
    assert (last_pool.type, last_pool.receptive_field, last_pool.jump) == ("MaxPool2d", 195, 32)


@slow
def test_alexnet_v1_one_tower():
    s = sn.summary(models.get_model("alexnet_v1", towers=1))
    assert s.total_params == 62_378_344


# ResNet paper, Table 1 (FLOPs, truncated to one decimal) and REFERENCE.md's exact figures
PAPER = {"resnet18": (1.8, 1.814), "resnet34": (3.6, 3.664), "resnet50": (3.8, 3.858),
         "resnet101": (7.6, 7.570), "resnet152": (11.3, 11.282)}


@pytest.mark.parametrize("name", [pytest.param(n, marks=slow) if n != "resnet50" else n
                                  for n in PAPER])
def test_paper_resnets_match_table_1(name):
    table, exact = PAPER[name]
    s = _summary(name, variant="paper")
    assert s.total_macs / 1e9 == pytest.approx(table, rel=0.03)
    assert round(s.total_macs / 1e9, 3) == exact
    assert s.total_params == TORCHVISION.get(name, (11_689_512,))[0]  # the same weights


def _rows(model, size):
    return sn.summary(model, size).rows


def test_two_3x3_convs_see_a_5x5_field_with_18_instead_of_25_c_squared_weights():
    c, hw = 8, 16
    stacked = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.ReLU(),
                            nn.Conv2d(c, c, 3, padding=1, bias=False))
    single = nn.Sequential(nn.Conv2d(c, c, 5, padding=2, bias=False))
    a, b = sn.summary(stacked, (c, hw, hw)), sn.summary(single, (c, hw, hw))
    assert a.rows[-1].receptive_field == b.rows[-1].receptive_field == 5
    assert (a.total_params, b.total_params) == (18 * c * c, 25 * c * c)
    assert (a.total_macs, b.total_macs) == (18 * c * c * hw * hw, 25 * c * c * hw * hw)

    three = nn.Sequential(*[nn.Conv2d(c, c, 3, padding=1, bias=False) for _ in range(3)])
    seven = nn.Conv2d(c, c, 7, padding=3, bias=False)
    a, b = sn.summary(three, (c, hw, hw)), sn.summary(seven, (c, hw, hw))
    assert a.rows[-1].receptive_field == b.rows[-1].receptive_field == 7
    assert (a.total_params, b.total_params) == (27 * c * c, 49 * c * c)


def test_a_1x1_bottleneck_costs_17_times_less_than_two_3x3_convs_at_256_channels():
    hw = 14
    bottleneck = nn.Sequential(nn.Conv2d(256, 64, 1, bias=False), nn.ReLU(),
                               nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU(),
                               nn.Conv2d(64, 256, 1, bias=False))
    basic = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.ReLU(),
                          nn.Conv2d(256, 256, 3, padding=1, bias=False))
    a, b = sn.summary(bottleneck, (256, hw, hw)), sn.summary(basic, (256, hw, hw))
    assert a.total_params == 256 * 64 + 64 * 64 * 9 + 64 * 256 == 69_632
    assert b.total_params == 2 * 256 * 256 * 9 == 1_179_648
    assert (a.total_macs, b.total_macs) == (69_632 * hw * hw, 1_179_648 * hw * hw)
    assert (a.rows[-1].receptive_field, b.rows[-1].receptive_field) == (3, 5)


def test_receptive_field_and_jump_of_a_known_stack():
    stack = nn.Sequential(
        nn.Conv2d(1, 2, 3),                       # r = 3, j = 1
        nn.Conv2d(2, 2, 3, stride=2, padding=1),  # r = 3 + 2·1 = 5, j = 2
        nn.MaxPool2d(2),                          # r = 5 + 1·2 = 7, j = 4
        nn.ReLU(),                                # unchanged
        nn.Conv2d(2, 2, 3, dilation=2),           # effective kernel 5: r = 7 + 4·4 = 23
        nn.AvgPool2d((3, 1), stride=(1, 2)),      # h: 23 + 2·4 = 31, j 4; w: 23, j 8
        nn.Flatten(),                             # a window over the whole 2x2 map:
        nn.Linear(2 * 2 * 2, 3),                  # h: 31 + 1·4 = 35, j 8; w: 23 + 1·8 = 31, j 16
    )
    rows = _rows(stack, (1, 33, 29))
    fields = [(r.receptive_field, r.jump) for r in rows]
    assert fields == [(3, 1), (5, 2), (7, 4), (7, 4), (23, 4), ((31, 23), (4, 8)),
                      ((35, 31), (8, 16)), ((35, 31), (8, 16))]
    assert [r.output_shape for r in rows][4:] == [(1, 2, 4, 3), (1, 2, 2, 2), (1, 8), (1, 3)]


class _Branches(nn.Module):
    """concat(1x1 conv, two 3x3 convs) then + a 7x7 conv: the fields of 1, 5 and 7 meet."""

    def __init__(self):
        super().__init__()
        self.narrow = nn.Conv2d(2, 2, 1)
        self.wide = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1))
        self.widest = nn.Conv2d(2, 4, 7, padding=3)
        self.after_cat = nn.ReLU()
        self.after_add = nn.ReLU()

    def forward(self, x):
        y = self.after_cat(sn.cat([self.narrow(x), self.wide(x)], dim=1))
        return self.after_add(y + self.widest(x))


def test_where_branches_meet_the_field_is_the_largest_of_the_inputs():
    fields = {r.name: r.receptive_field for r in _rows(_Branches(), (2, 9, 9))}
    assert fields == {"narrow": 1, "wide.0": 3, "wide.1": 5, "after_cat": 5, "widest": 7,
                      "after_add": 7}


def test_cifar_resnet_fields_through_residual_stages():
    """resnet20 at 32x32: 19 convs of 3x3, each adding 2 jumps of its input; the stride-2
    convs opening stages 2 and 3 see jumps 1 and 2, so 8 convs see jump 1, 6 see 2 and 5 see 4:
    r = 1 + 2·(8·1 + 6·2 + 5·4) = 81 after the last conv, then the global pool over 8x8."""
    s = sn.summary(models.get_model("resnet20"))
    last_conv = [r for r in s.rows if r.type == "Conv2d"][-1]
    assert (last_conv.receptive_field, last_conv.jump) == (81, 4)
    assert s.rows[-1].receptive_field == 81 + 7 * 4
    assert s.total_params == 269_722


def test_rows_params_macs_shapes_and_activation_memory_of_lenet5():
    s = sn.summary(models.get_model("lenet5"), (4, 1, 32, 32))
    assert [(r.type, r.output_shape[1:]) for r in s.rows if r.type != "ReLU"] == [
        ("Conv2d", (6, 28, 28)), ("MaxPool2d", (6, 14, 14)), ("Conv2d", (16, 10, 10)),
        ("MaxPool2d", (16, 5, 5)), ("Flatten", (400,)), ("Linear", (120,)), ("Linear", (84,)),
        ("Linear", (10,))]
    assert all(r.input_shape[0] == r.output_shape[0] == 4 for r in s.rows)
    assert [r.params for r in s.rows if r.params] == [156, 2_416, 48_120, 10_164, 850]
    assert [r.macs for r in s.rows if r.macs] == [6 * 784 * 25, 16 * 100 * 150, 48_000,
                                                   10_080, 840]
    assert s.total_macs == 416_520  # per image, although the batch is 4
    relu = 6 * 784 + 16 * 100 + 120 + 84
    outputs = 6 * 784 + 6 * 196 + 1_600 + 400 + 400 + 120 + 84 + 10 + relu
    assert s.activation_bytes == 4 * (32 * 32 + outputs)


class _Reuse(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


def test_a_module_called_twice_gives_two_rows_and_its_parameters_once():
    s = sn.summary(_Reuse(), (1, 1, 4))  # Linear acts on the last dim of (1, 1, 1, 4)
    assert [(r.name, r.params, r.macs) for r in s.rows] == [("fc", 20, 16), ("fc", 0, 16)]
    assert s.total_params == 20


def test_runs_in_eval_mode_without_a_graph_and_restores_every_mode():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5),
                        nn.Flatten(), nn.Linear(2 * 4 * 4, 2))
    net.train()
    net[2].eval()  # a mixed state must come back as it was
    bn_before = {k: v.copy() for k, v in net[1].state_dict().items()}
    seen = []
    for m in net:
        m.register_forward_hook(lambda m, i, o: seen.append((m.training, o.requires_grad)))
    sn.summary(net, (1, 6, 6))
    assert seen == [(False, False)] * 5
    assert [m.training for m in net.modules()] == [True, True, True, False, True, True]
    for key, value in net[1].state_dict().items():  # eval mode: running statistics untouched
        np.testing.assert_array_equal(value, bn_before[key])
    assert all(len(m._forward_hooks) == 1 for m in net)  # summary's own hooks are gone


def test_the_table_lists_every_layer_and_the_totals():
    s = sn.summary(models.get_model("lenet5"))
    text = str(s)
    assert text.splitlines()[0] == "LeNet5 on input 1x1x32x32"
    for r in s.rows:
        assert re.search(rf"^{re.escape(r.name)}\s+{r.type}\s", text, re.M)
    assert "Total params:          61,706" in text
    assert re.search(r"^features\.c1\s+Conv2d\s+6x28x28\s+156\s+117,600\s+5\s+1$", text, re.M)


def test_input_size_errors():
    with pytest.raises(ValueError, match=r"summary: Sequential has no default_input_size"):
        sn.summary(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\) or \(N, C, H, W\)"):
        sn.summary(models.get_model("lenet5"), (1, 1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"LeNet5: expected input \(N, 1, H, W\)"):
        sn.summary(models.get_model("lenet5"), (32, 32))      # read as 32 vectors of 32
    with pytest.raises(ValueError, match=r"LeNet5: expected input \(N, 1, H, W\)"):
        sn.summary(models.get_model("lenet5"), (3, 32, 32))


def test_a_model_of_vectors():
    mlp = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    s = sn.summary(mlp, (784,))
    assert s.input_size == (1, 784)
    assert s.total_params == 784 * 128 + 128 + 128 * 10 + 10          # 101,770
    assert s.total_macs == 784 * 128 + 128 * 10                       # per sample
    assert [r.output_shape for r in s.rows] == [(1, 128), (1, 128), (1, 10)]
    text = str(s)
    assert "Sequential on input 1x784" in text and "Output (per sample)" in text
    assert "RF" not in text and "Total MACs per sample: 101,632" in text
    assert sn.summary(mlp, (32, 784)).input_size == (32, 784)        # with a batch
