"""ResNet (He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", 2015),
from its Table 1: a stem, four stages of residual blocks, global average pool, fc.

    stage    output (224 input)  resnet18   resnet34   resnet50   resnet101  resnet152
    conv1    64 x 112 x 112      7x7, 64, stride 2
    (pool)   64 x 56 x 56        3x3 max pool, stride 2
    layer1   56 x 56             2 basic    3 basic    3 bottle.  3 bottle.  3 bottle.
    layer2   28 x 28             2          4          4          4          8
    layer3   14 x 14             2          6          6          23         36
    layer4   7 x 7               2          3          3          3          3
             1 x 1               average pool, fc num_classes
    GMACs                        1.8        3.6        4.1 (3.8*)  7.8 (7.6*) 11.5 (11.3*)

A BasicBlock is two 3x3 convs (width = the stage's ``planes``: 64, 128, 256, 512); a Bottleneck
is 1x1 (reduce to ``planes``), 3x3, 1x1 (expand to 4·planes), so a 256-channel block costs
~70 K weights where two 3x3 convs at 256 would cost ~1.2 M. Each block adds its input back
(``out = relu(F(x) + x)``); where the first block of a stage halves the map or changes the
width, the shortcut is a strided 1x1 conv with batch norm (the paper's option B).

``variant="torchvision"`` (ResNet v1.5, torchvision's default) strides the bottleneck's 3x3
conv; ``variant="paper"`` strides its first 1x1, as the paper (and Caffe) did: the same
weights, fewer MACs (*, the paper's Table 1), a little lower accuracy. Basic blocks have only
3x3 convs, so ResNet-18/34 are the same either way.
"""
from .. import nn
from ._utils import ZooModel, builds


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1,
                     bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), convs 3x3 at ``planes``.
    ``downsample`` is the shortcut (identity when None); ``residual=False`` drops the
    shortcut altogether (the paper's "plain" networks). ``variant`` is accepted so both block
    types build alike; a block of 3x3 convs has nowhere else to put its stride."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, variant="torchvision",
                 residual=True):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride, self.residual = stride, residual

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)): 1x1 to
    ``planes``, 3x3, 1x1 to 4·planes. The stride sits on the 3x3 (torchvision) or on the
    first 1x1 (paper)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, variant="torchvision",
                 residual=True):
        super().__init__()
        stride_1x1, stride_3x3 = (stride, 1) if variant == "paper" else (1, stride)
        self.conv1 = conv1x1(inplanes, planes, stride_1x1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride_3x3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride, self.residual = stride, residual

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


def init_resnet(model, zero_init_residual=False):
    """torchvision's ResNet init, shared with the CIFAR nets: convs He-normal with fan_out,
    batch norm weight 1 and bias 0 (the fc keeps Linear's default). ``zero_init_residual``
    zeroes each block's last batch-norm weight, so every block starts as the identity."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.constant_((m.bn3 if isinstance(m, Bottleneck) else m.bn2).weight, 0)


class ResNet(ZooModel):
    """The ImageNet ResNets: ``block`` (BasicBlock or Bottleneck) and ``layers``, the number
    of blocks in each of the four stages."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False,
                 variant="torchvision"):
        super().__init__()
        if variant not in ("torchvision", "paper"):
            raise ValueError(f"ResNet: variant must be 'torchvision' or 'paper', got {variant!r}")
        self.variant = variant
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        init_resnet(self, zero_init_residual)

    def _make_layer(self, block, planes, blocks, stride=1):
        """One stage: the first block may stride and widen (its shortcut then projects with
        a 1x1 conv + batch norm), the other ``blocks - 1`` keep the shape."""
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.variant)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, variant=self.variant) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)  # (N, 512·expansion, 1, 1)
        return self.fc(x.flatten(1))


@builds(ResNet)
def resnet18(**kwargs):
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


@builds(ResNet)
def resnet34(**kwargs):
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


@builds(ResNet)
def resnet50(**kwargs):
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


@builds(ResNet)
def resnet101(**kwargs):
    return ResNet(Bottleneck, [3, 4, 23, 3], **kwargs)


@builds(ResNet)
def resnet152(**kwargs):
    return ResNet(Bottleneck, [3, 8, 36, 3], **kwargs)
