"""viz.receptive_field: the empirical field of a known conv/pool stack equals the analytic one.

Analytic fields by hand with r_out = r_in + d·(k - 1)·j_in, j_out = j_in·s, from r = j = 1.
"""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


def _stack():
    # heights: conv 3: r 3, j 1; pool 2/2: r 4, j 2; conv 3 dilation 2: r 4 + 2·2·2 = 12, j 2;
    # pool 3/2: r 12 + 2·2 = 16, j 4.  widths: conv 5: r 5; pool 2/2: 6, j 2; conv 1 (dilation
    # plays no part): 6; pool 3/2: 6 + 2·2 = 10, j 4.
    return nn.Sequential(nn.Conv2d(2, 4, (3, 5)), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, (3, 1), dilation=2), nn.ReLU(), nn.MaxPool2d(3, 2))


@pytest.mark.parametrize("layer, size", [("0", (3, 5)), ("2", (4, 6)), ("3", (12, 6)),
                                         ("5", (16, 10))])
def test_empirical_field_of_a_known_stack_equals_the_hand_computed_one(layer, size):
    sn.manual_seed(0)
    rf = sn.viz.receptive_field(_stack(), (2, 40, 40), layer)
    assert rf.size == size and not rf.clipped
    assert rf.gradient.shape == (40, 40)
    assert rf.rows[1] - rf.rows[0] == size[0]


def test_field_sits_where_the_unit_looks():
    sn.manual_seed(0)
    # unit (2, 3) of pool "2" (jump 2, field 4x6) starts at input row 2·2 = 4, col 3·2 = 6
    rf = sn.viz.receptive_field(_stack(), (2, 40, 40), "2", unit=(2, 3), channel=1)
    assert (rf.rows, rf.cols) == ((4, 8), (6, 12))


@pytest.mark.parametrize("name, layers", [
    ("lenet5", ["features.c1", "features.s2", "features.c3", "features.s4"]),
    ("resnet20", ["layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2"])])
def test_empirical_field_equals_summary_for_zoo_models(name, layers):
    sn.manual_seed(0)
    model = sn.models.get_model(name)
    analytic = {row.name: row.receptive_field for row in sn.summary(model).rows}
    # by hand for LeNet-5: 5, 6, 14, 16; for the CIFAR ResNet: 7, then a stride-2 3x3 conv
    # adds 2·j = 2 (17 over stage 1's 15), and its 3x3 partner 2·2 = 4 more (21)
    assert [analytic[n] for n in layers] == {"lenet5": [5, 6, 14, 16],
                                             "resnet20": [7, 17, 21]}[name]
    for layer in layers:
        rf = sn.viz.receptive_field(model, None, layer, samples=8)
        assert rf.size == (analytic[layer], analytic[layer]), layer


def test_model_is_left_as_it_was():
    model = _stack()
    model.train()
    weight = model[0].weight
    weight.grad = sn.tensor(np.full(weight.shape, 7.0, np.float32))
    model[3].weight.requires_grad = False
    sn.viz.receptive_field(model, (2, 20, 20), "5")
    assert model.training and model[1].training
    assert np.all(weight.grad.numpy() == 7.0) and model[3].bias.grad is None
    assert weight.requires_grad and not model[3].weight.requires_grad


def test_clipped_field_is_flagged():
    rf = sn.viz.receptive_field(_stack(), (2, 20, 20), "5", unit=(0, 0))
    assert rf.clipped and "may be clipped" in str(rf)


def test_bad_input_gets_a_clear_message():
    model = _stack()
    with pytest.raises(ValueError, match=r"Sequential has no layer named 'conv1'.*"
                                         r"Its layers .*: 0, 1, 2, 3, 4, 5"):
        sn.viz.receptive_field(model, (2, 20, 20), "conv1")
    with pytest.raises(ValueError, match="has no default_input_size; pass input_size"):
        sn.viz.receptive_field(model, None, "0")
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\), got \(20, 20\)"):
        sn.viz.receptive_field(model, (20, 20), "0")
    with pytest.raises(ValueError, match=r"unit \(30, 0\) is outside '0''s output map 18x16"):
        sn.viz.receptive_field(model, (2, 20, 20), "0", unit=(30, 0))
    with pytest.raises(ValueError, match="channel 4 is outside '0''s 4 channels"):
        sn.viz.receptive_field(model, (2, 20, 20), "0", channel=4)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match=r"layer '1' gives \(16, 2\), not a feature map"):
        sn.viz.receptive_field(mlp, (2, 2, 2), "1")
