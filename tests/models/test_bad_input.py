"""Inputs a model cannot take and weights of another model: a clear error, before any work
or naming the layer that could not go on, with the shapes involved."""
import re

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models


def _forward(model, shape):
    with sn.no_grad():
        return model(sn.zeros(*shape))


@pytest.mark.parametrize("name, shape", [
    ("resnet18", (2, 1, 64, 64)),     # grayscale into an RGB net
    ("lenet5", (2, 3, 32, 32)),       # RGB into LeNet
    ("densenet121", (3, 64, 64)),     # no batch dimension
])
def test_wrong_channels_or_rank(name, shape, skip_init):
    model = models.get_model(name)
    channels = model.default_input_size[0]
    with pytest.raises(ValueError, match=re.escape(
            f"expected input (N, {channels}, H, W), got shape {shape}")):
        _forward(model, shape)


@pytest.mark.parametrize("name, size, layer, message", [
    # VGG's five 2x2 pools need 32 pixels: at 16 the fifth pool meets a 1x1 map
    ("vgg11", 16, "'features.20' (MaxPool2d) failed on input of shape (2, 512, 1, 1)",
     "max_pool2d"),
    ("alexnet", 32, "'features.12' (MaxPool2d) failed on input of shape (2, 256, 1, 1)",
     "max_pool2d"),
    ("zfnet", 32, "'features.14' (MaxPool2d) failed on input of shape (2, 256, 1, 1)",
     "max_pool2d"),
    # DenseNet's third transition pools a 1x1 map at 16x16 input
    ("densenet121", 16,
     "'features.transition3.pool' (AvgPool2d) failed on input of shape (2, 512, 1, 1)",
     "avg_pool2d"),
    # the paper's nets have no adaptive pool: the classifier needs exactly 256x6x6 features
    ("alexnet_v1", 224, "'classifier.1' (Linear) failed on input of shape (2, 6400)", "9216"),
    ("lenet5", 28, "'classifier.c5' (Linear) failed on input of shape (2, 256)", "400"),
])
def test_input_too_small_names_the_layer(name, size, layer, message, skip_init):
    model = models.get_model(name).eval()
    channels = model.default_input_size[0]
    with pytest.raises(ValueError) as err:
        _forward(model, (2, channels, size, size))
    assert f"layer {layer}" in str(err.value)
    assert message in str(err.value)


def test_state_dict_of_another_depth_lists_the_missing_keys(skip_init):
    with pytest.raises(RuntimeError) as err:
        models.resnet34().load_state_dict(models.resnet18().state_dict())
    assert "missing keys" in str(err.value) and "layer1.2.conv1.weight" in str(err.value)


def test_state_dict_of_another_block_lists_the_shape_mismatches(skip_init):
    with pytest.raises(RuntimeError) as err:
        models.resnet18().load_state_dict(models.resnet50().state_dict())
    text = str(err.value)
    assert "size mismatch" in text and "unexpected keys" in text
    assert "fc.weight: checkpoint (1000, 2048), model (1000, 512)" in text


def test_state_dict_without_batch_norm_is_refused(skip_init):
    with pytest.raises(RuntimeError, match="missing keys: features.1.weight"):
        models.vgg11_bn().load_state_dict(models.vgg11().state_dict())


def test_num_classes_mismatch_names_the_fc(skip_init):
    with pytest.raises(RuntimeError, match=re.escape("fc.weight: checkpoint (1000, 64), "
                                                     "model (10, 64)")):
        models.resnet20().load_state_dict(models.resnet20(num_classes=1000).state_dict())


@pytest.mark.parametrize("call, message", [
    (lambda: models.lenet5(activation="sigmoid"), "activation must be one of"),
    (lambda: models.lenet5(pooling="lp"), "pooling must be 'max' or 'avg'"),
    (lambda: models.alexnet_v1(towers=3), "towers must be 1 or 2"),
    (lambda: models.resnet50(variant="v2"), "variant must be 'torchvision' or 'paper'"),
])
def test_bad_constructor_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_default_input_size_of_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'vgg20'.*vgg19_bn"):
        models.default_input_size("vgg20")


def test_default_input_size_runs(skip_init):
    """The small models run at their default input size (the big ones: test_zoo, at the
    fixture's sizes)."""
    for name in ("lenet5", "resnet20", "plain20"):
        model = models.get_model(name).eval()
        out = _forward(model, (1,) + models.default_input_size(name))
        assert out.shape == (1, 10)
    assert np.isfinite(out.numpy()).all()
