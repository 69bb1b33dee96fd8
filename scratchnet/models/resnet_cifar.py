"""The CIFAR-10 ResNets of the ResNet paper's section 4.2, and their plain twins.

    output map   32 x 32    16 x 16    8 x 8      1 x 1
    layers       conv 3x3   2n         2n         2n        average pool, fc 10
    channels     16         16         32         64

Depth 6n + 2: the first conv, three stages of n basic blocks (two 3x3 convs each) and the fc.
Every shortcut is an identity; where a stage halves the map and doubles the width, it
subsamples (every other pixel, i.e. a 1x1 window with stride 2) and appends zero channels
(the paper's option A), so shortcuts add no parameters and plain twins (``residual=False``:
no shortcuts at all) have exactly the same count.

    n          3          5          7          9          18
    model      resnet20   resnet32   resnet44   resnet56   resnet110
    params     269,722    464,154    658,586    853,018    1,727,962   (Table 6: 0.27M ... 1.7M)

The plain nets show the paper's degradation problem: plain56 reaches a higher *training*
error than plain20, while resnet56 beats resnet20 (its Figure 6).
"""
from .. import functional as F
from .. import nn
from ._utils import ZooModel, builds
from .resnet import BasicBlock, init_resnet


class ZeroPadShortcut(nn.Module):
    """Option A shortcut: y = x[:, :, ::s, ::s] followed by zero channels up to ``planes``.
    Backward: the gradient of the first C channels, scattered back to every s-th pixel."""

    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.in_planes, self.planes, self.stride = in_planes, planes, stride

    def forward(self, x):
        s = self.stride
        x = x[:, :, ::s, ::s]  # (N, C, H, W) -> (N, C, ceil(H/s), ceil(W/s))
        return F.pad(x, (0, 0, 0, 0, 0, self.planes - self.in_planes))  # C -> planes

    def extra_repr(self):
        return f"{self.in_planes}, {self.planes}, stride={self.stride}"


class CifarResNet(ZooModel):
    """conv 16@3x3, three stages of ``n`` BasicBlocks at 16, 32, 64 channels (strides 1, 2,
    2), global average pool, fc. Init as torchvision's ResNets (He-normal, fan_out)."""

    default_input_size = (3, 32, 32)

    def __init__(self, n, num_classes=10, residual=True, zero_init_residual=False):
        super().__init__()
        self.residual = residual
        self.inplanes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, n)
        self.layer2 = self._make_layer(32, n, stride=2)
        self.layer3 = self._make_layer(64, n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        init_resnet(self, zero_init_residual)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if self.residual and (stride != 1 or self.inplanes != planes):
            downsample = ZeroPadShortcut(self.inplanes, planes, stride)
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, residual=self.residual)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, residual=self.residual) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 16, 32, 32)
        x = self.layer3(self.layer2(self.layer1(x)))  # (N, 64, 8, 8)
        return self.fc(self.avgpool(x).flatten(1))


def _factory(name, n, residual):
    @builds(CifarResNet)
    def factory(num_classes=10, zero_init_residual=False):
        return CifarResNet(n, num_classes, residual, zero_init_residual)
    kind = "ResNet" if residual else "plain net (no shortcuts)"
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"The CIFAR {kind} of depth {6 * n + 2} (n = {n}) on 3x32x32 input."
    return factory


resnet20 = _factory("resnet20", 3, True)
resnet32 = _factory("resnet32", 5, True)
resnet44 = _factory("resnet44", 7, True)
resnet56 = _factory("resnet56", 9, True)
resnet110 = _factory("resnet110", 18, True)
plain20 = _factory("plain20", 3, False)
plain32 = _factory("plain32", 5, False)
plain56 = _factory("plain56", 9, False)
