"""One 7x7 conv vs three stacked 3x3 convs (and 5x5 vs two 3x3), at equal channels.

VGG's argument: a stack of 3x3 convs sees as far as one big kernel, with fewer weights
(27C² vs 49C², 18C² vs 25C²) and a ReLU between each pair. This example measures each claim:
parameters and MACs from ``summary``, the receptive field from ``summary`` (analytic) and
from ``viz.receptive_field`` (the gradient of one output unit), and the held-out accuracy a
small net built around each block reaches in a short run on the bundled digits.

    python examples/small_kernels.py [--channels 8] [--epochs 2] [--size 14]
"""
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402
import scratchnet.nn as nn  # noqa: E402

BLOCKS = {"one 7x7": [7], "three 3x3": [3, 3, 3], "one 5x5": [5], "two 3x3": [3, 3]}


def block(kernels, channels):
    """Convs C -> C with 'same' padding, a ReLU between consecutive ones."""
    layers = []
    for i, k in enumerate(kernels):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Conv2d(channels, channels, k, padding=k // 2))
    return nn.Sequential(*layers)


def net(kernels, channels, size):
    """stem 3x3 conv 1 -> C, the block, ReLU, 4x4 max pool, linear to 10 classes. Convs get
    He initialisation (as torchvision's VGG), so that deeper stacks start on an equal footing
    instead of shrinking the signal at every layer."""
    model = nn.Sequential(OrderedDict([
        ("stem", nn.Conv2d(1, channels, 3, padding=1)), ("relu0", nn.ReLU()),
        ("block", block(kernels, channels)), ("relu", nn.ReLU()),
        ("pool", nn.MaxPool2d(4)), ("flatten", nn.Flatten()),
        ("fc", nn.Linear(channels * (size // 4) ** 2, 10))]))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def main(argv=None):
    def options(p):
        p.add_argument("--channels", type=int, default=8)
        p.add_argument("--epochs", type=int, default=2)
        p.add_argument("--train-size", type=int, default=2000)
        p.add_argument("--size", type=int, default=14, choices=(14, 28),
                       help="digit size: 14 (2x2 averages, for speed) or 28")
    args = _common.parse_args(__doc__.splitlines()[0], argv, options)
    C, epochs, size = args.channels, args.epochs, args.size
    n_train, n_test = args.train_size, None
    if args.smoke:
        C, epochs, size, n_train, n_test = 4, 1, 14, 128, 64
    train, test = _common.digits(size, 1, n_train, n_test)
    rows, curves = [], {}
    for label, kernels in BLOCKS.items():
        b = block(kernels, C)
        s = sn.summary(b, (C, size, size))
        last = str(len(b) - 1)
        analytic = s.rows[-1].receptive_field
        empirical = sn.viz.receptive_field(b, (C, 2 * size, 2 * size), last).size
        weights = sum(k * k for k in kernels)  # per C² (biases aside)
        print(f"{label}: training a {size}x{size} digit classifier around it ...", flush=True)
        sn.manual_seed(args.seed)
        history = _common.train(net(kernels, C, size), train, test, epochs=epochs, lr=0.01,
                                seed=args.seed, label=label)
        curves[label] = history
        rows.append((label, f"{weights}C²", s.total_params, s.total_macs, analytic,
                     f"{empirical[0]}x{empirical[1]}", f"{history['test_acc'][-1]:.1%}",
                     round(sum(history["seconds"]), 1)))
    print()
    print(f"Blocks at C = {C} channels on {size}x{size} maps (parameters include biases; "
          f"MACs per image; accuracy after {epochs} epoch(s) on {len(train[1])} digits, "
          f"held out: {len(test[1])}):")
    print(_common.table(rows, ["block", "weights", "params", "MACs", "RF (analytic)",
                               "RF (empirical)", "held-out acc", "train s"]))

    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for label, h in curves.items():
            steps = range(1, len(h["step_acc"]) + 1)
            axes[0].plot(steps, _smooth(h["step_acc"]), label=label)
        axes[0].set_xlabel("step")
        axes[0].set_ylabel("batch accuracy (moving average of 20)")
        axes[0].legend()
        axes[1].bar([r[0] for r in rows], [r[2] for r in rows])
        axes[1].set_ylabel("parameters in the block")
        return fig

    _common.save_figure(draw, args.out, "small_kernels.png")
    return rows


def _smooth(values, width=20):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - width] if i >= width else 0)
        out.append(total / min(i + 1, width))
    return out


if __name__ == "__main__":
    main()
