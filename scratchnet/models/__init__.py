"""scratchnet.models: the classic CNNs, LeNet-5 to DenseNet, with torchvision's names,
constructor arguments, defaults and state_dict keys (so torchvision weights load).

    model = scratchnet.models.get_model("resnet18", num_classes=10)
    scratchnet.models.list_models()          # every name get_model knows
    scratchnet.models.default_input_size("lenet5")   # (1, 32, 32), without building it
"""
from ._utils import model_input_size
from .alexnet import AlexNet, AlexNetV1, alexnet, alexnet_v1
from .densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from .lenet import LeNet5, lenet5
from .resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)
from .resnet_cifar import (
    CifarResNet,
    plain20,
    plain32,
    plain56,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .zfnet import ZFNet, zfnet

# In historical order; each factory takes the model's constructor keywords.
MODELS = {factory.__name__: factory for factory in (
    lenet5, alexnet, alexnet_v1, zfnet,
    vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
    googlenet,
    resnet18, resnet34, resnet50, resnet101, resnet152,
    resnet20, resnet32, resnet44, resnet56, resnet110, plain20, plain32, plain56,
    densenet121, densenet169, densenet201, densenet161,
)}

__all__ = ["AlexNet", "AlexNetV1", "BasicBlock", "Bottleneck", "CifarResNet", "DenseNet",
           "GoogLeNet", "GoogLeNetOutputs", "LeNet5", "MODELS", "ResNet", "VGG", "ZFNet",
           "default_input_size", "get_model", "list_models", "model_input_size", *MODELS]


def list_models():
    """The names ``get_model`` knows, in historical order (LeNet-5 first)."""
    return list(MODELS)


def _factory(name):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def get_model(name, **kwargs):
    """Build the model ``name`` (a name from ``list_models()``) with constructor ``kwargs``,
    e.g. ``get_model("densenet121", memory_efficient=True)``."""
    return _factory(name)(**kwargs)


def default_input_size(name):
    """The (C, H, W) input the model ``name`` was designed for, without building it."""
    return _factory(name).model_class.default_input_size
