"""GPU benchmarks for benchmarks/gpu_check.sh: scratchnet on CuPy beside torch + cuDNN.

    python benchmarks/gpu.py                     # the cases below, on the current GPU
    python benchmarks/gpu.py --device cpu --quick   # the same code at toy sizes, no GPU

Each case is timed as the median of ``--repeat`` runs after ``--warmup`` untimed ones (which
also keep CuPy's kernel compilation out of the figures), with the GPU synchronised around
each run; peak memory is each framework's own allocator peak above what it held before the
case (``sn.cuda.max_memory_allocated``, ``torch.cuda.max_memory_allocated``). Ratios are
scratchnet / torch: time (lower is better) and memory. Both frameworks run in float32 with
TF32 off (torch's two switches and ``sn.backends.cuda.matmul.allow_tf32``), torch with
``cudnn.benchmark = True``. Targets (issue 12): ResNet-50 step within 2x of torch (aim
1.5x), conv layers within 2x, memory within 1.5x. Without torch the torch columns are "-".
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import numpy as np  # noqa: E402

import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402
from scratchnet import models  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

# (name, N, C, H, W, O, kernel, stride, padding): layers of the zoo's networks
CONVS = [("alexnet conv1 11x11/4", 128, 3, 224, 224, 64, 11, 4, 2),
         ("alexnet conv2 5x5", 128, 64, 27, 27, 192, 5, 1, 2),
         ("vgg16 conv2_2 3x3", 32, 128, 112, 112, 128, 3, 1, 1),
         ("resnet50 3x3 64", 64, 64, 56, 56, 64, 3, 1, 1),
         ("resnet50 1x1 256->64", 64, 256, 56, 56, 64, 1, 1, 0),
         ("resnet50 3x3/2 128", 64, 128, 56, 56, 128, 3, 2, 1)]
# (name, N, C, H, W, kind, kernel, stride, padding)
POOLS = [("alexnet max 3x3/2", 128, 64, 55, 55, "max", 3, 2, 0),
         ("vgg16 max 2x2/2", 32, 64, 224, 224, "max", 2, 2, 0),
         ("resnet50 max 3x3/2 p1", 64, 64, 112, 112, "max", 3, 2, 1),
         ("avg 3x3/1 p1", 64, 256, 28, 28, "avg", 3, 1, 1)]
# (name, model, batch, input side): one SGD training step
STEPS = [("resnet50 step b64", "resnet50", 64, 224), ("alexnet step b128", "alexnet", 128, 224),
         ("vgg16 step b32", "vgg16", 32, 224), ("resnet18 step b64", "resnet18", 64, 224)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="toy sizes (a check of the code)")
    args = parser.parse_args()
    on_gpu = args.device.startswith("cuda")
    if on_gpu and not sn.cuda.is_available():
        print("SKIP: no GPU visible to CuPy:", sn.backend.show_config().replace("\n", "; "))
        return 0
    use_torch = torch is not None and (not on_gpu or torch.cuda.is_available())
    if use_torch:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    sn.backends.cuda.matmul.allow_tf32 = False
    bench = Bench(args, on_gpu, use_torch)
    print(f"{'case':<26}{'ours ms':>10}{'torch ms':>10}{'ratio':>7}"
          f"{'ours MiB':>10}{'torch MiB':>10}{'ratio':>7}", flush=True)
    shrink = (lambda n: max(1, n // 16)) if args.quick else (lambda n: n)
    for name, N, C, H, W, O, k, s, p in CONVS:
        bench.run(name, *conv_case(args.device, shrink(N), C if C == 3 else shrink(C),
                                   shrink(H) + k, shrink(W) + k, shrink(O), k, s, p))
    for name, N, C, H, W, kind, k, s, p in POOLS:
        bench.run(name, *pool_case(args.device, shrink(N), shrink(C), shrink(H) + k,
                                   shrink(W) + k, kind, k, s, p))
    for name, model, batch, side in STEPS:
        if args.quick and model != "resnet18":
            continue
        bench.run(name, *step_case(args.device, model, shrink(batch), 64 if args.quick else side))
    return 0


class Bench:
    def __init__(self, args, on_gpu, use_torch):
        self.args, self.on_gpu, self.use_torch = args, on_gpu, use_torch

    def run(self, name, ours, theirs):
        t_ours, m_ours = self.measure(ours, "scratchnet")
        t_theirs, m_theirs = self.measure(theirs, "torch") if self.use_torch else (None, None)
        print(f"{name:<26}{t_ours * 1e3:>10.2f}{_num(t_theirs, 1e3)}{_ratio(t_ours, t_theirs)}"
              f"{_num(m_ours, 2 ** -20)}{_num(m_theirs, 2 ** -20)}{_ratio(m_ours, m_theirs)}",
              flush=True)

    def measure(self, make, framework):
        sync, reset, peak = self.memory_functions(framework)
        reset()
        before = peak()
        fn = make()
        for _ in range(self.args.warmup):
            fn()
        sync()
        times = []
        for _ in range(self.args.repeat):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times), (peak() - before if self.on_gpu else None)

    def memory_functions(self, framework):
        if not self.on_gpu:
            return (lambda: None), (lambda: None), (lambda: 0)
        if framework == "torch":
            return (torch.cuda.synchronize, torch.cuda.reset_peak_memory_stats,
                    torch.cuda.max_memory_allocated)
        return sn.cuda.synchronize, sn.cuda.reset_peak_memory_stats, sn.cuda.max_memory_allocated


def conv_case(device, N, C, H, W, O, k, s, p):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W), np.float32)

    def ours():
        conv = sn.nn.Conv2d(C, O, k, s, p).to(device)
        xt = sn.tensor(x, device=device, requires_grad=True)
        return lambda: conv(xt).sum().backward()

    def theirs():
        conv = torch.nn.Conv2d(C, O, k, s, p).to(_torch_device(device))
        xt = torch.tensor(x, device=_torch_device(device), requires_grad=True)
        return lambda: conv(xt).sum().backward()
    return ours, theirs


def pool_case(device, N, C, H, W, kind, k, s, p):
    x = np.random.default_rng(0).standard_normal((N, C, H, W), np.float32)

    def ours():
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d
        xt = sn.tensor(x, device=device, requires_grad=True)
        return lambda: pool(xt, k, s, p).sum().backward()

    def theirs():
        pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        xt = torch.tensor(x, device=_torch_device(device), requires_grad=True)
        return lambda: pool(xt, k, s, p).sum().backward()
    return ours, theirs


def step_case(device, name, batch, side):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, side, side), np.float32)
    labels = rng.integers(0, 1000, batch)

    def ours():
        model = models.get_model(name).to(device).train()
        opt = sn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xt, yt = sn.tensor(x, device=device), sn.tensor(labels, device=device)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(xt), yt).backward()
            opt.step()
        return step

    def theirs():
        dev = _torch_device(device)
        model = torch_model(name).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xt, yt = torch.tensor(x, device=dev), torch.tensor(labels, device=dev)

        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt), yt).backward()
            opt.step()
        return step
    return ours, theirs


def torch_model(name):
    """torchvision's model when torchvision is installed, else the tests' torch twins (same
    layers; weights do not matter for timing)."""
    try:
        import torchvision
        return getattr(torchvision.models, name)()
    except ImportError:
        from tests.models import torch_reference as R
        if name.startswith("resnet"):
            return R.resnet(int(name[6:]))
        return _torch_classic(name)


def _torch_classic(name):
    """AlexNet (torchvision's) and VGG-16 in plain torch.nn."""
    nn = torch.nn
    if name == "alexnet":
        features = [nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2),
                    nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
                    nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(True),
                    nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(True),
                    nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2)]
        width, hidden = 256, 4096
    else:
        features, c = [], 3
        for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512, "M"):
            if v == "M":
                features.append(nn.MaxPool2d(2, 2))
            else:
                features += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(True)]
                c = v
        width, hidden = 512, 4096
    pool = 6 if name == "alexnet" else 7
    return nn.Sequential(*features, nn.AdaptiveAvgPool2d(pool), nn.Flatten(), nn.Dropout(),
                         nn.Linear(width * pool * pool, hidden), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(hidden, hidden), nn.ReLU(True), nn.Linear(hidden, 1000))


def _torch_device(device):
    return torch.device(device)


def _num(value, scale):
    return f"{'-':>10}" if value is None else f"{value * scale:>10.1f}"


def _ratio(ours, theirs):
    return f"{'-':>7}" if not theirs or ours is None else f"{ours / theirs:>7.2f}"


if __name__ == "__main__":
    sys.exit(main())
