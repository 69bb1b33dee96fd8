"""GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", 2014) as torchvision builds it:
a stem, nine Inception modules from the paper's Table 1, average pool, dropout, fc.

An Inception module runs four branches on the same input and concatenates their channels:

    branch1  1x1 conv                               -> #1x1
    branch2  1x1 conv (#3x3 reduce), 3x3 conv       -> #3x3
    branch3  1x1 conv (#5x5 reduce), "5x5" conv     -> #5x5
    branch4  3x3/1 max pool, 1x1 conv (pool proj)   -> pool proj

The 1x1 "reduce" convs shrink the channels before the costly 3x3 and 5x5 convs: in 3a, a 5x5
conv from 192 to 32 channels costs 153,600 weights, through a 16-channel reduction 3,072 +
12,800. No big fully connected layers: global average pooling feeds one 1024 -> classes fc.

torchvision differs from the paper in three ways, kept here so its weights load: every conv is
Conv(bias=False) + BatchNorm(eps=0.001) + ReLU (``BasicConv2d``; the paper had biases and
LRN in the stem and no batch norm), every max pool uses ceil_mode, and the "5x5" branch is a
3x3 conv (a known bug kept for compatibility, pytorch/vision#906). 6,624,904 parameters
without the auxiliary heads, 13,004,888 with them.
"""
from collections import namedtuple

from .. import functional as F
from .. import nn
from ._utils import ZooModel, builds

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    """Conv (no bias), batch norm (eps 0.001), ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """in_channels, then the paper's Table 1 columns; output channels ch1x1 + ch3x3 + ch5x5
    + pool_proj, same spatial size."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            # 3x3, not the paper's 5x5: torchvision's known bug (pytorch/vision#906), kept
            # so that its weights load.
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return F.cat(branches, 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on 4a's and 4d's output (training only): 4x4 average pool,
    1x1 conv to 128, fc 2048 -> 1024, ReLU, dropout 0.7, fc 1024 -> classes."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))  # (N, 128, 4, 4)
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


class GoogLeNet(ZooModel):
    """torchvision's GoogLeNet. In training mode with ``aux_logits`` the output is a
    ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; otherwise the logits.

    ``init_weights`` (None means True, torchvision's default without pretrained weights):
    conv and linear weights N(0, 0.01²) truncated at ±2 (absolute, so in effect untruncated,
    as torchvision), batch norm weight 1 and bias 0. ``transform_input`` maps inputs
    normalised with ImageNet's mean and std to the (x - 0.5) / 0.5 scaling that the ported
    TensorFlow weights expect.
    """

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False,
                 init_weights=None, dropout=0.2, dropout_aux=0.7):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        #                             in   #1x1  #3x3red  #3x3  #5x5red  #5x5  pool proj
        self.inception3a = Inception(192,   64,     96,   128,     16,     32,     32)
        self.inception3b = Inception(256,  128,    128,   192,     32,     96,     64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480,  192,     96,   208,     16,     48,     64)
        self.inception4b = Inception(512,  160,    112,   224,     24,     64,     64)
        self.inception4c = Inception(512,  128,    128,   256,     24,     64,     64)
        self.inception4d = Inception(512,  112,    144,   288,     32,     64,     64)
        self.inception4e = Inception(528,  256,    160,   320,     32,    128,    128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832,  256,    160,   320,     32,    128,    128)
        self.inception5b = Inception(832,  384,    192,   384,     48,    128,    128)
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights is None or init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        # x_c · std_c / 0.5 + (mean_c − 0.5) / 0.5: undo ImageNet normalisation, scale to ±1
        stats = ((0.229, 0.485), (0.224, 0.456), (0.225, 0.406))
        return F.cat([x[:, c:c + 1] * (std / 0.5) + (mean - 0.5) / 0.5
                      for c, (std, mean) in enumerate(stats)], 1)

    def forward(self, x):
        if self.transform_input:
            x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))  # (N, 64, 56, 56) at 224
        x = self.maxpool2(self.conv3(self.conv2(x)))  # (N, 192, 28, 28)
        x = self.maxpool3(self.inception3b(self.inception3a(x)))  # (N, 480, 14, 14)
        x = self.inception4a(x)  # (N, 512, 14, 14)
        with_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))  # (N, 832, 7, 7)
        x = self.inception5b(self.inception5a(x))  # (N, 1024, 7, 7)
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


@builds(GoogLeNet)
def googlenet(**kwargs):
    """torchvision's GoogLeNet with its defaults without weights (aux_logits=True)."""
    return GoogLeNet(**kwargs)
