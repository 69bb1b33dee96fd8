"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to document
recognition", 1998), as it is usually taught.

    layer    paper name   output (1x32x32 input)   parameters
    conv     C1           6 x 28 x 28              6·(1·5·5 + 1)     =    156
    pool     S2           6 x 14 x 14              -
    conv     C3           16 x 10 x 10             16·(6·5·5 + 1)    =  2,416
    pool     S4           16 x 5 x 5               -
    fc       C5           120                      120·(400 + 1)     = 48,120
    fc       F6           84                       84·(120 + 1)      = 10,164
    fc       OUTPUT       num_classes              10·(84 + 1)       =    850
                                                                total  61,706

The 1998 network differs in three ways this one does not copy: C3 connects each of its 16 maps
to only some of S2's 6 (a table in the paper), S2/S4 are trainable (a weight and a bias per map
after the average) and the output is a layer of Euclidean RBF units. ``activation="tanh",
pooling="avg"`` gives the network of that era with today's layers (the same 61,706
parameters); the default ReLU and max pooling is the modern teaching version.
"""
from collections import OrderedDict

from .. import nn
from ._utils import ZooModel, builds

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class LeNet5(ZooModel):
    default_input_size = (1, 32, 32)

    def __init__(self, num_classes=10, activation="relu", pooling="max"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {activation!r}")
        pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
        if pooling not in pools:
            raise ValueError(f"LeNet5: pooling must be 'max' or 'avg', got {pooling!r}")
        act, pool = _ACTIVATIONS[activation], pools[pooling]
        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(1, 6, kernel_size=5)), ("act1", act()),
            ("s2", pool(kernel_size=2, stride=2)),
            ("c3", nn.Conv2d(6, 16, kernel_size=5)), ("act3", act()),
            ("s4", pool(kernel_size=2, stride=2)),
        ]))
        self.flatten = nn.Flatten()
        # C5 is a 5x5 conv over S4's 5x5 maps in the paper, i.e. a fully connected layer.
        self.classifier = nn.Sequential(OrderedDict([
            ("c5", nn.Linear(16 * 5 * 5, 120)), ("act5", act()),
            ("f6", nn.Linear(120, 84)), ("act6", act()),
            ("output", nn.Linear(84, num_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


@builds(LeNet5)
def lenet5(num_classes=10, activation="relu", pooling="max"):
    """LeNet-5 on 1x32x32 input: 61,706 parameters with 10 classes."""
    return LeNet5(num_classes, activation, pooling)
