"""One training step of zoo models: scratchnet vs torch on the CPU.

A step is forward, cross-entropy, backward and SGD with momentum 0.9 (zero_grad first), in
training mode (batch norm on batch statistics, dropout active), float32:

    MLP 784-512-512-10 batch 128           LeNet-5     batch 256, 1x32x32
    ResNet-18    batch 128, 3x32x32 (10 classes)
    ResNet-18    batch 16,  3x224x224      AlexNet     batch 16,  3x224x224
    VGG-11       batch 4,   3x224x224      ResNet-50   batch 8,   3x224x224

torchvision is not installable beside this torch, so the torch networks are torch.nn
twins with torchvision's attribute names (the tests' tests/models/torch_reference.py, plus
AlexNet and VGG-11 below). In the timing process (both frameworks
loaded) the torch model loads the scratchnet model's weights with ``strict=True``: the two
state_dicts agree key for key and shape for shape, so both run the same architecture.
GFLOP/s counts a step as 3 forward passes (2 FLOPs per MAC; backward costs about twice the
forward), from the MACs ``scratchnet summary`` prints.

    python benchmarks/models.py --threads 2 --repeat 5 --warmup 1
    python benchmarks/models.py --only resnet18 --threads 2
"""
import sys

from _harness import Case, blas_line, main, reexec_clean, training_step

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

_built = {}  # case name -> the scratchnet model, so the torch twin can copy its weights


def _torch_nets():
    """torch.nn versions of the benchmarked zoo models, keyed by scratchnet's names: LeNet-5
    and the ResNets are the tests' reference twins (tests/models/torch_reference.py), AlexNet
    and VGG-11 torchvision's layouts, written here."""
    import os

    from torch import nn

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                    "tests", "models"))
    import torch_reference

    class FeaturesClassifier(nn.Module):
        """classifier(flatten(avgpool(features(x)))), the shape of AlexNet and VGG."""

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

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

    ref = torch_reference
    return {
        "mlp": lambda num_classes: _mlp(nn, num_classes),
        "lenet5": lambda num_classes: ref.lenet5(),      # 10 classes, as benchmarked
        "resnet18": lambda num_classes: ref.ResNet(ref.BasicBlock, [2, 2, 2, 2], num_classes),
        "resnet50": lambda num_classes: ref.ResNet(ref.Bottleneck, [3, 4, 6, 3], num_classes),
        "alexnet": AlexNet,
        "vgg11": VGG11,
    }


def _mlp(nn, num_classes):
    """The MLP 784-512-512-10 (ReLU), the same in both frameworks (their nn names agree)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                         nn.ReLU(), nn.Linear(512, num_classes))


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
            net = (_mlp(sn.nn, num_classes) if model == "mlp" else
                   sn.models.get_model(model, num_classes=num_classes)).train()
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
        return {"step": training_step(net, opt, loss_fn, xt, yt)}

    return Case(name, make, flops={"step": 6 * macs_per_image * batch})


# MACs per image from `scratchnet summary MODEL [--input-size C H W]`
CASES = [
    _case("mlp", 128, (1, 28, 28), 10, 784 * 512 + 512 * 512 + 512 * 10),
    _case("lenet5", 256, (1, 32, 32), 10, 416_520),
    _case("resnet18", 128, (3, 32, 32), 10, 37_523_456),
    _case("resnet18", 16, (3, 224, 224), 1000, 1_814_073_344),
    _case("alexnet", 16, (3, 224, 224), 1000, 714_188_480),
    _case("vgg11", 4, (3, 224, 224), 1000, 7_609_090_048),
    _case("resnet50", 8, (3, 224, 224), 1000, 4_089_184_256),
]


def _preamble(args):
    alone = (f"each framework alone in {args.processes} processes, median over them"
             if args.processes else "frameworks alternating in one process")
    return [f"one training step (forward, cross-entropy, backward, SGD momentum), float32, "
            f"{args.threads} threads, median of {args.repeat} after {args.warmup} warm-up; "
            f"{alone}",
            f"BLAS: {blas_line()}", f"python {sys.version.split()[0]}"]


if __name__ == "__main__":
    main(CASES, "scratchnet vs torch: one training step of zoo models", _preamble, processes=3)
