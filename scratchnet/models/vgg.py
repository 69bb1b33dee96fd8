"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", 2014), built from the paper's Table 1 as torchvision builds it.

Each configuration is a column of that table: an int is a 3x3 conv (stride 1, padding 1) with
that many output channels, followed by ReLU; "M" is a 2x2/2 max pool. Two stacked 3x3 convs
see a 5x5 field with 2·9·C² weights instead of 25·C², three see 7x7 with 27·C² instead of
49·C², and each adds a non-linearity. The ``_bn`` variants (not in the paper) put batch norm
between each conv, which keeps its bias, and its ReLU.

    config  model   weight layers   parameters (1000 classes)
    A       vgg11   8 conv + 3 fc   132,863,336
    B       vgg13   10 conv + 3 fc  133,047,848
    D       vgg16   13 conv + 3 fc  138,357,544
    E       vgg19   16 conv + 3 fc  143,667,240

Most of the parameters (123.6 M) are in the three fully connected layers. torchvision adds an
adaptive average pool to 7x7 before them so that inputs other than 224x224 work; at 224 it is
the identity. The paper's conv "LRN" column (A-LRN) and its 1x1 convs (C) are not built.
"""
from .. import nn
from ._utils import ZooModel, builds

cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False):
    """The convolutional part of one configuration, as a Sequential numbered like
    torchvision's (``features.0.weight`` ...)."""
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(ZooModel):
    """``features`` (from ``make_layers``), adaptive average pool to 7x7, then fc 4096, 4096,
    num_classes with dropout. init_weights: convs He-normal (fan_out) with zero bias, batch
    norm weight 1 and bias 0, linear N(0, 0.01²) with zero bias, as torchvision."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.avgpool(self.features(x))  # (N, 512, 7, 7)
        return self.classifier(x.flatten(1))


def _vgg(cfg, batch_norm, kwargs):
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


@builds(VGG)
def vgg11(**kwargs):
    """VGG configuration A (11 weight layers)."""
    return _vgg("A", False, kwargs)


@builds(VGG)
def vgg11_bn(**kwargs):
    """VGG configuration A with batch norm."""
    return _vgg("A", True, kwargs)


@builds(VGG)
def vgg13(**kwargs):
    """VGG configuration B (13 weight layers)."""
    return _vgg("B", False, kwargs)


@builds(VGG)
def vgg13_bn(**kwargs):
    """VGG configuration B with batch norm."""
    return _vgg("B", True, kwargs)


@builds(VGG)
def vgg16(**kwargs):
    """VGG configuration D (16 weight layers)."""
    return _vgg("D", False, kwargs)


@builds(VGG)
def vgg16_bn(**kwargs):
    """VGG configuration D with batch norm."""
    return _vgg("D", True, kwargs)


@builds(VGG)
def vgg19(**kwargs):
    """VGG configuration E (19 weight layers)."""
    return _vgg("E", False, kwargs)


@builds(VGG)
def vgg19_bn(**kwargs):
    """VGG configuration E with batch norm."""
    return _vgg("E", True, kwargs)
