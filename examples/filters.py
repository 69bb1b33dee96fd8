"""First-layer filters and feature maps of a trained LeNet-5, the ZFNet way of looking.

Zeiler and Fergus found AlexNet's first layer half dead and aliased by looking at its filters;
looking is cheap. This trains LeNet-5 on the bundled digits, then prints and draws the six
5x5 filters of its first conv before and after training, and the six feature maps they make of
one held-out digit (after the ReLU: zero where a filter does not fire).

    python examples/filters.py [--epochs 2]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402

SHADES = " .:-=+*#%@"


def ascii_image(a):
    """A 2-D array as characters, darkest to brightest, scaled to its own range."""
    lo, hi = float(a.min()), float(a.max())
    levels = np.zeros(a.shape, int) if hi == lo else ((a - lo) / (hi - lo) * 9).round().astype(int)
    return ["".join(SHADES[v] * 2 for v in row) for row in levels]


def side_by_side(blocks, gap="  "):
    return "\n".join(gap.join(lines) for lines in zip(*blocks))


def feature_maps(model, image):
    """The first conv's output after the ReLU for one image (1, 32, 32): (6, 28, 28)."""
    captured = []
    handle = model.features.act1.register_forward_hook(lambda m, i, out: captured.append(out))
    model.eval()
    with sn.no_grad():
        model(sn.tensor(image[None]))
    handle.remove()
    return captured[0].numpy()[0]


def main(argv=None):
    def options(p):
        p.add_argument("--epochs", type=int, default=2)
        p.add_argument("--train-size", type=int, default=2000)
    args = _common.parse_args(__doc__.splitlines()[0], argv, options)
    epochs, n_train, n_test = args.epochs, args.train_size, None
    if args.smoke:
        epochs, n_train, n_test = 1, 64, 32
    train, test = _common.digits(32, 1, n_train, n_test)
    model = sn.models.lenet5()
    before = model.features.c1.weight.detach().numpy()[:, 0].copy()      # (6, 5, 5)
    h = _common.train(model, train, test, epochs=epochs, batch_size=32, lr=0.01, seed=args.seed,
                      label="lenet5")
    after = model.features.c1.weight.detach().numpy()[:, 0]
    digit = test[0][0]
    maps = feature_maps(model, digit)

    print(f"\nLeNet-5 after {epochs} epoch(s): held-out accuracy {h['test_acc'][-1]:.1%}")
    print("\nconv1 filters at initialisation (each scaled to its own range):")
    print(side_by_side([ascii_image(f) for f in before]))
    print("\nconv1 filters after training:")
    print(side_by_side([ascii_image(f) for f in after]))
    change = np.linalg.norm((after - before).reshape(6, -1), axis=1) / np.linalg.norm(
        before.reshape(6, -1), axis=1)
    rows = [(i, float(np.abs(f).max()), float(f.mean()), f"{c:.0%}",
             f"{np.mean(m > 0):.0%}", float(m.max()))
            for i, (f, c, m) in enumerate(zip(after, change, maps))]
    print()
    print(_common.table(rows, ["filter", "max |w|", "mean w", "changed by",
                               "map active (ReLU > 0)", "map max"]))
    print(f"\nFeature maps of a held-out '{test[1][0]}' (28x28 each, at half resolution):")
    print(side_by_side([ascii_image(m[::2, ::2]) for m in maps[:3]]))
    print()
    print(side_by_side([ascii_image(m[::2, ::2]) for m in maps[3:]]))

    def draw(plt):
        fig, axes = plt.subplots(3, 7, figsize=(11, 5))
        for ax in axes.ravel():
            ax.axis("off")
        axes[0, 0].set_title("digit", fontsize=8)
        axes[0, 0].imshow(digit[0], cmap="gray")
        for i in range(6):
            axes[0, i + 1].imshow(before[i], cmap="gray")
            axes[0, i + 1].set_title(f"init {i}", fontsize=8)
            axes[1, i + 1].imshow(after[i], cmap="gray")
            axes[1, i + 1].set_title(f"trained {i}", fontsize=8)
            axes[2, i + 1].imshow(maps[i], cmap="viridis")
            axes[2, i + 1].set_title(f"map {i}", fontsize=8)
        fig.suptitle(f"LeNet-5 conv1, held-out accuracy {h['test_acc'][-1]:.1%}")
        return fig

    _common.save_figure(draw, args.out, "filters.png")
    return rows


if __name__ == "__main__":
    main()
