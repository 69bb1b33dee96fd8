"""What the examples share: command-line settings, the bundled digits as arrays, a short
training loop, and saving a plot when matplotlib is installed.

Every example takes ``--smoke`` (tiny settings: seconds, for the test suite) and ``--out DIR``
(where plots go; default examples/figures). Run one from the repository root, for instance
``python examples/small_kernels.py``.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402
from scratchnet.data import DataLoader, TensorDataset, mnist_5k_split  # noqa: E402
from scratchnet.viz._plot import pyplot  # noqa: E402

FIGURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures")
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def parse_args(description, argv, add_arguments=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny settings that finish in seconds (used by the tests)")
    parser.add_argument("--out", default=FIGURES, help="folder for the plot (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    sn.manual_seed(args.seed)
    return args


def digits(size=28, channels=1, n_train=None, n_test=None):
    """The bundled MNIST split as normalised float32 arrays: ((x, y), (x_test, y_test)), x of
    shape (N, channels, size, size), n_train / n_test of them (all by default) in a fixed
    shuffled order. size 32 pads the 28x28 digits by 2 (as LeNet-5 expects), 14 averages
    2x2 blocks, 16 pads that by 1, 8 averages 4x4 blocks of the 32x32 one; channels 3
    replicates the grey image."""
    (x, y), (xt, yt) = mnist_5k_split()
    out = []
    for images, labels, n in ((x, y, n_train), (xt, yt, n_test)):
        keep = np.random.default_rng(0).permutation(len(labels))[:n]  # the file is sorted by
        images, labels = images[keep], labels[keep].astype(np.int64)   # digit: mix it first
        a = (images.astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD
        a = a[:, None]                                                  # (N, 1, 28, 28)
        background = -MNIST_MEAN / MNIST_STD                            # the value of black
        if size in (14, 16):
            a = a.reshape(len(a), 1, 14, 2, 14, 2).mean(axis=(3, 5))    # (N, 1, 14, 14)
        pad = {28: 0, 32: 2, 14: 0, 16: 1, 8: 2}[size]
        a = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=background)
        if size == 8:
            a = a.reshape(len(a), 1, 8, 4, 8, 4).mean(axis=(3, 5))      # (N, 1, 8, 8)
        out.append((np.ascontiguousarray(np.repeat(a, channels, axis=1)), labels))
    return out[0], out[1]


def accuracy(model, x, y, batch_size=250):
    model.eval()
    correct = 0
    with sn.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(sn.tensor(x[i:i + batch_size]))
            correct += int((logits.argmax(1).numpy() == y[i:i + batch_size]).sum())
    model.train()
    return correct / len(x)


def train(model, train_data, test_data=None, epochs=1, batch_size=64, lr=0.01, momentum=0.9,
          weight_decay=0.0, seed=0, on_step=None, label=""):
    """SGD with momentum on cross-entropy. Returns a dict of per-epoch lists: ``loss`` (mean
    training loss), ``train_acc`` (accuracy on the batches as they were trained),
    ``test_acc`` (held-out, when test_data is given) and ``seconds``, plus ``step_acc``, the
    accuracy of every batch. ``on_step(step, loss, acc)`` is called after each update."""
    optimizer = sn.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                             weight_decay=weight_decay)
    loader = DataLoader(TensorDataset(*train_data), batch_size=batch_size, shuffle=True,
                        seed=seed)
    history = dict(loss=[], train_acc=[], test_acc=[], seconds=[], step_acc=[])
    model.train()
    for epoch in range(epochs):
        start, losses, hits, seen = time.perf_counter(), [], 0, 0
        for x, y in loader:
            logits = model(sn.tensor(x))
            loss = F.cross_entropy(logits, sn.tensor(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct = int((logits.detach().argmax(1).numpy() == y).sum())
            losses.append(loss.item())
            hits, seen = hits + correct, seen + len(y)
            history["step_acc"].append(correct / len(y))
            if on_step is not None:
                on_step(len(history["step_acc"]), loss.item(), correct / len(y))
        history["seconds"].append(time.perf_counter() - start)
        history["loss"].append(float(np.mean(losses)))
        history["train_acc"].append(hits / seen)
        line = (f"  {label} epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}, "
                f"train acc {hits / seen:.3f}")
        if test_data is not None:
            history["test_acc"].append(accuracy(model, *test_data))
            line += f", held-out acc {history['test_acc'][-1]:.3f}"
        print(line + f" ({history['seconds'][-1]:.1f} s)", flush=True)
    return history


def save_figure(draw, out, filename):
    """Call ``draw(plt)`` and save the figure as out/filename, or say why there is no plot."""
    try:
        plt = pyplot(filename)
    except ImportError as err:
        print(f"(no plot: {err})")
        return None
    os.makedirs(out, exist_ok=True)
    fig = draw(plt)
    path = os.path.join(out, filename)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")
    return path


def table(rows, header):
    """Rows of cells as an aligned text table (numbers right-aligned)."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, r in enumerate(cells):
        parts = [c.rjust(w) if k and _numeric(c) else c.ljust(w) for c, w in zip(r, widths)]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "-" * max(len(ln) for ln in lines))
    return "\n".join(lines)


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text):
    return text.replace(",", "").replace(".", "").replace("%", "").replace("x", "").lstrip(
        "-").isdigit()
