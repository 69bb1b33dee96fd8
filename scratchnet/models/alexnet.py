"""AlexNet: torchvision's one-tower version, and the two-tower network of the 2012 paper
(Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", Figure 2 and section 3).

    layer   paper (alexnet_v1)                        torchvision (alexnet)
    conv1   96@11x11/4, ReLU, LRN, max 3/2            64@11x11/4 p2, ReLU, max 3/2
    conv2   256@5x5 p2 (2 towers), ReLU, LRN, max 3/2  192@5x5 p2, ReLU, max 3/2
    conv3   384@3x3 p1 (towers exchange maps)         384@3x3 p1, ReLU
    conv4   384@3x3 p1 (2 towers), ReLU               256@3x3 p1, ReLU
    conv5   256@3x3 p1 (2 towers), ReLU, max 3/2      256@3x3 p1, ReLU, max 3/2
    pool    - (227x227 input gives 6x6 exactly)       adaptive average to 6x6
    fc6-8   dropout, 4096, dropout, 4096, classes     the same

The paper's two towers ran on two GPUs and saw each other's maps only at conv3 and the fully
connected layers; within one device that is a grouped convolution (``groups=2``: each half of
the output channels sees only the matching half of the input channels), which is why conv2,
conv4 and conv5 have half the weights of their one-tower (``towers=1``) twins.
"""
from .. import nn
from ._utils import ZooModel, builds


class AlexNet(ZooModel):
    """torchvision's AlexNet (the "one weird trick" single-tower variant): 61,100,840
    parameters with 1000 classes; the default init of each layer, as torchvision."""

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))  # (N, 256, 6, 6)
        return self.classifier(x.flatten(1))


class AlexNetV1(ZooModel):
    """The 2012 paper's network on 3x227x227 input. towers=2: 60,965,224 parameters and
    724,406,816 multiply-accumulates; towers=1: 62,378,344 parameters.

    LRN uses the paper's constants (n=5, k=2, alpha=1e-4, beta=0.75); the paper does not
    divide alpha by n, torch does, hence alpha=5e-4 here. Init as the paper's section 5:
    weights N(0, 0.01²), biases 1 in conv2, conv4, conv5 and the fully connected layers (to
    give the ReLUs positive inputs early on), 0 elsewhere.
    """

    default_input_size = (3, 227, 227)

    def __init__(self, num_classes=1000, towers=2, dropout=0.5):
        super().__init__()
        if towers not in (1, 2):
            raise ValueError(f"AlexNetV1: towers must be 1 or 2, got {towers!r}")
        g = towers

        def lrn():
            return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=g), nn.ReLU(inplace=True),
            lrn(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=g), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=g), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        ones = {"features.4", "features.10", "features.12", "classifier.1", "classifier.4",
                "classifier.6"}
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 1.0 if name in ones else 0.0)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))  # features: (N, 256, 6, 6)


@builds(AlexNet)
def alexnet(num_classes=1000, dropout=0.5):
    """torchvision's AlexNet."""
    return AlexNet(num_classes, dropout)


@builds(AlexNetV1)
def alexnet_v1(num_classes=1000, towers=2, dropout=0.5, model_parallel=False):
    """The 2012 paper's AlexNet, with its two towers as groups=2 convolutions (towers=2), or
    with one tower per process (model_parallel=True: alexnet_towers.py)."""
    if model_parallel:
        if towers != 2:
            raise ValueError(f"alexnet_v1: model_parallel=True needs towers=2, got {towers!r}")
        from .alexnet_towers import AlexNetV1Towers
        return AlexNetV1Towers(num_classes, dropout)
    return AlexNetV1(num_classes, towers, dropout)

