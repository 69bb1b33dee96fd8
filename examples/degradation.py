"""Degradation: does a deeper plain net train worse, and does the residual one not?

The ResNet paper's section 4.2 trains plain nets and ResNets of 20 and 56 layers on CIFAR-10:
the 56-layer plain net has *higher training* error than the 20-layer one (so it is not
overfitting), while ResNet-56 beats ResNet-20. This example repeats the experiment on a budget
of minutes: the bundled MNIST digits (grey replicated to three channels, shrunk to 8x8 by
default so that four nets train in minutes on two cores; --size 16 or 32 for more), or
CIFAR-10 when you have it (--cifar10 DIR). It prints the gradient norm of every conv layer
at initialisation (from one batch, with ``viz.GradientFlow``) and the training loss per
epoch of each net.

    python examples/degradation.py [--epochs 6] [--train-size 1000] [--size 8] [--cifar10 DIR]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402

MODELS = ["plain20", "plain56", "resnet20", "resnet56"]


def cifar10_arrays(root, n_train, n_test):
    """CIFAR-10 as normalised float32 (N, 3, 32, 32) arrays, n of each split."""
    out = []
    for train, n in ((True, n_train), (False, n_test)):
        ds = sn.data.cifar10(root, train=train)
        keep = np.random.default_rng(0).permutation(len(ds))[:n]
        x = ds.images[keep].astype(np.float32) / 255
        mean, std = x.mean(axis=(0, 2, 3), keepdims=True), x.std(axis=(0, 2, 3), keepdims=True)
        out.append(((x - mean) / std, ds.labels[keep].astype(np.int64)))
    return out[0], out[1]


def init_gradient_norms(model, x, y):
    """The L2 norm of each conv layer's weight gradient for one batch, at initialisation."""
    convs = [name for name, m in model.named_modules() if type(m).__name__ == "Conv2d"]
    with sn.viz.GradientFlow(model, layers=convs) as flow:
        F.cross_entropy(model(sn.tensor(x)), sn.tensor(y)).backward()
        norms = [s.param_grad_norm for s in flow.stats]
    model.zero_grad()
    return convs, norms


def main(argv=None):
    def options(p):
        p.add_argument("--epochs", type=int, default=6)
        p.add_argument("--train-size", type=int, default=1000)
        p.add_argument("--size", type=int, default=8, choices=(8, 16, 32),
                       help="digit size: 8 (4x4 averages, the default, for speed), 16 or 32")
        p.add_argument("--batch-size", type=int, default=64)
        p.add_argument("--lr", type=float, default=0.05)
        p.add_argument("--cifar10", default=None, help="folder of CIFAR-10's binary version")
        p.add_argument("--models", default=",".join(MODELS))
    args = _common.parse_args(__doc__.splitlines()[0], argv, options)
    epochs, n_train, n_test, size = args.epochs, args.train_size, 500, args.size
    names = args.models.split(",")
    if args.smoke:
        epochs, n_train, n_test, size, names = 1, 32, 16, 8, ["plain20", "resnet20"]
        args.batch_size = 16
    if args.cifar10:
        train, test = cifar10_arrays(args.cifar10, n_train, n_test)
        data = f"CIFAR-10 32x32, {len(train[1])} training images"
    else:
        train, test = _common.digits(size, 3, n_train, n_test)
        data = f"bundled MNIST, grey x3, {size}x{size}, {len(train[1])} training digits"
    print(f"Data: {data}; {epochs} epochs, batch {args.batch_size}, SGD lr {args.lr} "
          "momentum 0.9 weight decay 1e-4", flush=True)

    grads, histories = {}, {}
    for name in names:
        sn.manual_seed(args.seed)
        model = sn.models.get_model(name, num_classes=10)
        convs, norms = init_gradient_norms(model, train[0][:args.batch_size],
                                           train[1][:args.batch_size])
        grads[name] = norms
        print(f"{name}: {len(convs)} conv layers; weight-gradient norm at init: first "
              f"{norms[0]:.3g}, middle {norms[len(norms) // 2]:.3g}, last {norms[-1]:.3g} "
              f"(first/last {norms[0] / norms[-1]:.3g})", flush=True)
        histories[name] = _common.train(model, train, test, epochs=epochs,
                                        batch_size=args.batch_size, lr=args.lr,
                                        weight_decay=1e-4, seed=args.seed, label=name)
    rows = [(name, len(grads[name]), grads[name][0], grads[name][-1],
             *[f"{v:.4f}" for v in h["loss"]], f"{h['train_acc'][-1]:.1%}",
             f"{h['test_acc'][-1]:.1%}", round(sum(h["seconds"]))) for name, h in histories.items()]
    print()
    print(_common.table(rows, ["model", "convs", "|grad| conv 1", "|grad| last conv",
                               *[f"loss ep {e + 1}" for e in range(epochs)],
                               "train acc (last epoch)", "held-out acc", "train s"]))
    for depth_pair in (("plain20", "plain56"), ("resnet20", "resnet56")):
        if all(n in histories for n in depth_pair):
            a, b = (histories[n]["loss"][-1] for n in depth_pair)
            verdict = "higher" if b > a else "lower"
            print(f"{depth_pair[1]} ends with {verdict} training loss than {depth_pair[0]}: "
                  f"{b:.4f} vs {a:.4f}")

    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        for name, norms in grads.items():
            axes[0].plot(range(1, len(norms) + 1), norms, label=name,
                         linestyle="--" if name.startswith("plain") else "-")
        axes[0].set_yscale("log")
        axes[0].set_xlabel("conv layer (input side first)")
        axes[0].set_ylabel("|dL/dW| at initialisation")
        axes[0].legend()
        for name, h in histories.items():
            axes[1].plot(range(1, len(h["loss"]) + 1), h["loss"], marker="o", label=name,
                         linestyle="--" if name.startswith("plain") else "-")
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("training loss (epoch mean)")
        axes[1].legend()
        return fig

    _common.save_figure(draw, args.out, "degradation.png")
    return rows


if __name__ == "__main__":
    main()
