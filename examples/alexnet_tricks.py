"""AlexNet's tricks, one at a time, on a small AlexNet-style net and the bundled digits.

The 2012 paper credits ReLU with training "six times faster" than tanh (epochs to 25%
training error on CIFAR-10), overlapping 3x3/2 pooling with lower error than 2x2/2, local
response normalisation (LRN) with lower error, and dropout with curbing overfitting at the
price of about twice the iterations to converge. Each variant below changes one thing in the
baseline (ReLU, LRN after both convs, overlapping pooling, dropout 0.5 before the last layer)
and reports steps and seconds to training-accuracy targets, and held-out accuracy. SGD with
the paper's momentum 0.9, lr 0.01 and weight decay 5e-4.

    python examples/alexnet_tricks.py [--epochs 3] [--train-size 1000] [--targets 0.3 0.6]
"""
import os
import sys
import time
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402
import scratchnet.nn as nn  # noqa: E402

BASELINE = dict(activation="relu", lrn=True, overlap=True, dropout=True)
VARIANTS = OrderedDict([
    ("baseline (ReLU, LRN, 3x3/2 pool, dropout)", {}),
    ("tanh instead of ReLU", dict(activation="tanh")),
    ("2x2/2 pool (no overlap)", dict(overlap=False)),
    ("no LRN", dict(lrn=False)),
    ("no dropout", dict(dropout=False)),
])


def small_alexnet(activation, lrn, overlap, dropout, widths=(16, 32), size=28, hidden=256):
    """conv 5x5 -> act -> [LRN] -> pool, twice, then fc hidden -> act -> [dropout] -> fc 10."""
    act = nn.ReLU if activation == "relu" else nn.Tanh
    k, s = (3, 2) if overlap else (2, 2)
    layers, cin = [], 1
    for i, w in enumerate(widths):
        layers += [(f"conv{i + 1}", nn.Conv2d(cin, w, 5, padding=2)), (f"act{i + 1}", act())]
        if lrn:  # the paper's k=2, n=5, alpha=1e-4, beta=0.75, in torch's convention
            layers.append((f"lrn{i + 1}", nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)))
        layers.append((f"pool{i + 1}", nn.MaxPool2d(k, s)))
        size, cin = (size - k) // s + 1, w
    layers += [("flatten", nn.Flatten()), ("fc1", nn.Linear(cin * size * size, hidden)),
               ("act3", act())]
    if dropout:
        layers.append(("dropout", nn.Dropout(0.5)))
    layers.append(("fc2", nn.Linear(hidden, 10)))
    return nn.Sequential(OrderedDict(layers))


def steps_to(step_acc, target, window=20):
    """The first step at which the mean accuracy of the last ``window`` batches reaches target."""
    for i in range(window, len(step_acc) + 1):
        if sum(step_acc[i - window:i]) / window >= target:
            return i
    return None


def main(argv=None):
    def options(p):
        p.add_argument("--epochs", type=int, default=3)
        p.add_argument("--train-size", type=int, default=1000)
        p.add_argument("--widths", type=int, nargs=2, default=(8, 16),
                       help="channels of the two convs (AlexNet's first two: 96 256)")
        p.add_argument("--targets", type=float, nargs="+", default=(0.3, 0.6),
                       help="training accuracies (moving average of 20 batches) to time")
    args = _common.parse_args(__doc__.splitlines()[0], argv, options)
    epochs, n_train, n_test, widths, targets = args.epochs, args.train_size, None, \
        tuple(args.widths), args.targets
    variants = VARIANTS
    if args.smoke:
        epochs, n_train, n_test, widths, targets = 1, 64, 32, (4, 8), (0.2,)
        variants = OrderedDict(list(VARIANTS.items())[:2])
    train, test = _common.digits(28, 1, n_train, n_test)
    rows, curves = [], {}
    for label, change in variants.items():
        sn.manual_seed(args.seed)
        model = small_alexnet(**{**BASELINE, **change}, widths=widths)
        print(f"{label}:", flush=True)
        times = [time.perf_counter()]  # then one entry after each step
        h = _common.train(model, train, test, epochs=epochs, batch_size=32, lr=0.01,
                          weight_decay=5e-4, seed=args.seed, label=label,
                          on_step=lambda step, loss, acc: times.append(time.perf_counter()))
        curves[label] = h["step_acc"]
        reached = []
        for target in targets:
            step = steps_to(h["step_acc"], target)
            reached.append(f"{step} ({times[step] - times[0]:.0f} s)" if step else
                           f"not in {len(h['step_acc'])}")
        rows.append((label, *reached, f"{h['train_acc'][-1]:.1%}", f"{h['test_acc'][-1]:.1%}",
                     h["loss"][-1], round(sum(h["seconds"]) / epochs, 1)))
    print()
    print(f"Small AlexNet-style net, widths {widths}, {len(train[1])} training digits, "
          f"{epochs} epoch(s), batch 32; steps (and seconds) until the batch accuracy, "
          "averaged over 20 batches, reaches each target:")
    print(_common.table(rows, ["variant", *[f"steps to {t:.0%}" for t in targets],
                               "train acc (last epoch)", "held-out acc", "last-epoch loss",
                               "s/epoch"]))
    relu, tanh = (steps_to(curves[label], targets[0]) for label in list(curves)[:2])
    if relu and tanh:
        print(f"to {targets[0]:.0%}, tanh needed {tanh / relu:.2f}x the steps ReLU needed "
              "(paper: ~6x, epochs to 25% training error on CIFAR-10)")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for label, acc in curves.items():
            ax.plot(range(1, len(acc) + 1), _smooth(acc), label=label)
        for target in targets:
            ax.axhline(target, color="grey", linewidth=0.8)
        ax.set_xlabel("step (batch of 32)")
        ax.set_ylabel("batch accuracy, moving average of 20")
        ax.legend(fontsize=8)
        return fig

    _common.save_figure(draw, args.out, "alexnet_tricks.png")
    return rows


def _smooth(values, width=20):
    return [sum(values[max(0, i - width + 1):i + 1]) / min(i + 1, width)
            for i in range(len(values))]


if __name__ == "__main__":
    main()
