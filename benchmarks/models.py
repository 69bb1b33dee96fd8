"""One training step of zoo models: scratchnet vs torch on the CPU.

A step is forward, cross-entropy, backward and SGD with momentum 0.9 (zero_grad first), in
training mode (batch norm on batch statistics, dropout active), float32:

    LeNet-5      batch 256, 1x32x32        ResNet-18   batch 128, 3x32x32 (10 classes)
    ResNet-18    batch 16,  3x224x224      AlexNet     batch 16,  3x224x224
    VGG-11       batch 4,   3x224x224      ResNet-50   batch 8,   3x224x224

torchvision is not installable beside this torch, so the torch networks are written below
with torch.nn, with torchvision's attribute names. In the timing process (both frameworks
loaded) the torch model loads the scratchnet model's weights with ``strict=True``: the two
state_dicts agree key for key and shape for shape, so both run the same architecture.
GFLOP/s counts a step as 3 forward passes (2 FLOPs per MAC; backward costs about twice the
forward), from the MACs ``scratchnet summary`` prints.

    python benchmarks/models.py --threads 2 --repeat 5 --warmup 1
    python benchmarks/models.py --only resnet18 --threads 2
"""
import sys

from _harness import Case, blas_line, main, reexec_clean

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

_built = {}  # case name -> the scratchnet model, so the torch twin can copy its weights


def _torch_nets():
    """torch.nn versions of the benchmarked zoo models, keyed by scratchnet's names."""
    from collections import OrderedDict

    from torch import nn

    class FeaturesClassifier(nn.Module):
        """classifier(flatten(avgpool(features(x)))), the shape of LeNet, AlexNet and VGG."""

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    class LeNet5(FeaturesClassifier):
        def __init__(self, num_classes=10):
            super().__init__()
            self.features = nn.Sequential(OrderedDict([
                ("c1", nn.Conv2d(1, 6, 5)), ("act1", nn.ReLU()), ("s2", nn.MaxPool2d(2, 2)),
                ("c3", nn.Conv2d(6, 16, 5)), ("act3", nn.ReLU()), ("s4", nn.MaxPool2d(2, 2))]))
            self.avgpool = nn.Identity()
            self.classifier = nn.Sequential(OrderedDict([
                ("c5", nn.Linear(400, 120)), ("act5", nn.ReLU()), ("f6", nn.Linear(120, 84)),
                ("act6", nn.ReLU()), ("output", nn.Linear(84, num_classes))]))

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride, downsample):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride, downsample):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # v1.5 stride
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self, block, layers, num_classes=1000):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1, self.layer2, self.layer3, self.layer4 = (
                self._make_layer(block, planes, blocks, stride) for planes, blocks, stride in
                zip((64, 128, 256, 512), layers, (1, 2, 2, 2)))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * block.expansion, num_classes)

        def _make_layer(self, block, planes, blocks, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            layers = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            layers += [block(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    class AlexNet(FeaturesClassifier):
        def __init__(self, num_classes=1000):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(inplace=True),
                nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
                nn.Linear(4096, num_classes))

    class VGG11(FeaturesClassifier):
        def __init__(self, num_classes=1000):
            super().__init__()
            layers, channels = [], 3
            for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
                    channels = v
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(25088, 4096), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(4096, num_classes))

    return {
        "lenet5": LeNet5,
        "resnet18": lambda num_classes: ResNet(BasicBlock, [2, 2, 2, 2], num_classes),
        "resnet50": lambda num_classes: ResNet(Bottleneck, [3, 4, 6, 3], num_classes),
        "alexnet": AlexNet,
        "vgg11": VGG11,
    }


def _case(model, batch, size, num_classes, macs_per_image):
    c, h, w = size
    name = f"{model} b{batch} {c}x{h}x{w} train step"

    def make(framework):
        import numpy as np
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, c, h, w)).astype(np.float32)
        y = rng.integers(0, num_classes, batch)
        if framework == "scratchnet":
            import scratchnet as sn
            sn.manual_seed(0)
            net = sn.models.get_model(model, num_classes=num_classes).train()
            _built[name] = net
            opt = sn.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            loss_fn, xt, yt = sn.nn.CrossEntropyLoss(), sn.tensor(x), sn.tensor(y)
        else:
            import torch
            torch.manual_seed(0)
            net = _torch_nets()[model](num_classes=num_classes).train()
            if name in _built:  # the timing process: same weights, and proof of the same keys
                net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                                     _built[name].state_dict().items()}, strict=True)
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            loss_fn, xt, yt = torch.nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y)

        def step():
            opt.zero_grad()
            loss_fn(net(xt), yt).backward()
            opt.step()
        return {"step": step}

    return Case(name, make, flops={"step": 6 * macs_per_image * batch})


# MACs per image from `scratchnet summary MODEL [--input-size C H W]`
CASES = [
    _case("lenet5", 256, (1, 32, 32), 10, 416_520),
    _case("resnet18", 128, (3, 32, 32), 10, 37_523_456),
    _case("resnet18", 16, (3, 224, 224), 1000, 1_814_073_344),
    _case("alexnet", 16, (3, 224, 224), 1000, 714_188_480),
    _case("vgg11", 4, (3, 224, 224), 1000, 7_609_090_048),
    _case("resnet50", 8, (3, 224, 224), 1000, 4_089_184_256),
]


def _preamble(args):
    return [f"one training step (forward, cross-entropy, backward, SGD momentum), float32, "
            f"{args.threads} threads, median of {args.repeat} after {args.warmup} warm-up",
            f"BLAS: {blas_line()}", f"python {sys.version.split()[0]}"]


if __name__ == "__main__":
    main(CASES, "scratchnet vs torch: one training step of zoo models", _preamble)
