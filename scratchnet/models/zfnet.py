"""ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", 2013,
Figure 3): AlexNet after its first layers were visualised. The 11x11/4 first layer left dead
and aliased filters, so it became 7x7/2, and conv2 got stride 2 to keep the map sizes.

    layer   kernel            then                            output (3x224x224 input)
    conv1   96@7x7/2 p1       ReLU, max 3/2 (ceil), LRN       96 x 110 x 110 -> 55 x 55
    conv2   256@5x5/2 p0      ReLU, max 3/2 (ceil), LRN       256 x 26 x 26 -> 13 x 13
    conv3   384@3x3 p1        ReLU                            384 x 13 x 13
    conv4   384@3x3 p1        ReLU                            384 x 13 x 13
    conv5   256@3x3 p1        ReLU, max 3/2 (ceil)            256 x 13 x 13 -> 6 x 6
    fc6-8   dropout, 4096, dropout, 4096, classes                     62,357,608 parameters

The paper leaves the paddings open; these (and ceil_mode pooling) reproduce its map sizes
110, 55, 26, 13, 13, 6. It trained on one GPU, so there are no towers. Its "contrast
normalisation" is taken to be AlexNet's LRN with the same constants; init as the paper:
weights N(0, 0.01²), biases 0.
"""
from .. import nn
from ._utils import ZooModel, builds


class ZFNet(ZooModel):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()

        def lrn():
            return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

        def pool():
            return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)

        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1), nn.ReLU(inplace=True),
            pool(), lrn(),
            nn.Conv2d(96, 256, kernel_size=5, stride=2), nn.ReLU(inplace=True), pool(), lrn(),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True), pool(),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 0.0)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))  # features: (N, 256, 6, 6)


@builds(ZFNet)
def zfnet(num_classes=1000, dropout=0.5):
    """ZFNet on 3x224x224 input: 62,357,608 parameters with 1000 classes."""
    return ZFNet(num_classes, dropout)
