"""DenseNet-BC (Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
Networks", 2016, Table 1), as torchvision builds it.

Inside a dense block every layer sees the concatenation of the block's input and of all
earlier layers' outputs, and adds ``growth_rate`` (k) new channels: layer i of a block that
starts with c channels reads c + i·k. A layer is BN-ReLU-1x1 conv to bn_size·k channels (the
"B"ottleneck), then BN-ReLU-3x3 conv to k. Between blocks a transition (BN-ReLU-1x1 conv, 2x2
average pool) halves both the channels (the "C"ompression, θ = 0.5) and the map.

    model        k    blocks (layers per block)   initial features   parameters
    densenet121  32   6, 12, 24, 16               64                  7,978,856
    densenet169  32   6, 12, 32, 32               64                 14,149,480
    densenet201  32   6, 12, 48, 32               64                 20,013,928
    densenet161  48   6, 12, 36, 24               96                 28,681,000

The concatenations make activation memory grow with the square of the block's length.
``memory_efficient=True`` keeps only each layer's input list: its concat, first batch norm,
ReLU and 1x1 conv run again during backward (``scratchnet.utils.checkpoint``), with the same
results (Pleiss et al., "Memory-Efficient Implementation of DenseNets", 2017).
"""
from collections import OrderedDict

from .. import functional as F
from .. import nn
from ..utils import checkpoint
from ._utils import ZooModel, builds


class _DenseLayer(nn.Module):
    """cat(inputs) -> BN-ReLU-conv1x1 (bn_size·k) -> BN-ReLU-conv3x3 (k), dropout."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate,
                 memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs):
        concated_features = F.cat(list(inputs), 1)  # (N, c + i·k, H, W)
        return self.conv1(self.relu1(self.norm1(concated_features)))

    def forward(self, prev_features):
        if self.memory_efficient and any(t.requires_grad for t in prev_features):
            bottleneck_output = checkpoint(lambda *inputs: self.bn_function(inputs),
                                           *prev_features)
        else:
            bottleneck_output = self.bn_function(prev_features)
        new_features = self.conv2(self.relu2(self.norm2(bottleneck_output)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; returns the concatenation of its input and all their
    outputs: num_input_features + num_layers·k channels."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate,
                 memory_efficient=False):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size,
                                drop_rate, memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return F.cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-conv1x1 (to num_output_features), 2x2 average pool."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)),
            ("relu", nn.ReLU(inplace=True)),
            ("conv", nn.Conv2d(num_input_features, num_output_features, kernel_size=1,
                               stride=1, bias=False)),
            ("pool", nn.AvgPool2d(kernel_size=2, stride=2)),
        ]))


class DenseNet(ZooModel):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), dense blocks with transitions between
    them, final BN and ReLU, global average pool, fc. Init as torchvision: convs He-normal
    (fan_in), batch norm weight 1 and bias 0, the fc's bias 0."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0, num_classes=1000, memory_efficient=False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate,
                                memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}",
                                         _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.relu(self.features(x))  # (N, num_features, H/32, W/32)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(out.flatten(1))


def _densenet(growth_rate, block_config, num_init_features, kwargs):
    return DenseNet(growth_rate, block_config, num_init_features, **kwargs)


@builds(DenseNet)
def densenet121(**kwargs):
    return _densenet(32, (6, 12, 24, 16), 64, kwargs)


@builds(DenseNet)
def densenet169(**kwargs):
    return _densenet(32, (6, 12, 32, 32), 64, kwargs)


@builds(DenseNet)
def densenet201(**kwargs):
    return _densenet(32, (6, 12, 48, 32), 64, kwargs)


@builds(DenseNet)
def densenet161(**kwargs):
    return _densenet(48, (6, 12, 36, 24), 96, kwargs)
