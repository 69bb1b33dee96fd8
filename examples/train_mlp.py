"""Train a 784-128-10 MLP on the bundled MNIST subset and print its held-out accuracy.

    pip install -e . && python examples/train_mlp.py [--epochs 5] [--lr 0.05] [--batch-size 64]
    python examples/train_mlp.py --smoke --out /tmp/mlp    # 1 epoch on 500 digits

4,000 training and 1,000 held-out digits (scratchnet.data.mnist_5k_split); SGD with momentum
0.9 on the softmax cross-entropy. Held-out accuracy 0.933 with the defaults (0.948 after
10 epochs); about 6 s of CPU time, more wall time on a busy machine. The loss and accuracy by
epoch go to OUT/train_mlp.png when matplotlib is installed.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import parse_args, save_figure  # noqa: E402

import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402
from scratchnet import nn, optim  # noqa: E402
from scratchnet.data import mnist_5k_split  # noqa: E402


def as_inputs(images):
    """uint8 (N, 28, 28) -> float32 (N, 784) in [0, 1], centred by MNIST's mean and std."""
    return ((images.reshape(len(images), -1) / 255.0 - 0.1307) / 0.3081).astype(np.float32)


def accuracy(model, x, y):
    with sn.no_grad():
        return float((model(sn.tensor(x)).argmax(1).numpy() == y).mean())


def add_arguments(parser):
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=64)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, add_arguments)  # seeds the layers' init
    (train_images, train_labels), (test_images, test_labels) = mnist_5k_split()
    x_train, y_train = as_inputs(train_images), train_labels.astype(np.int64)
    x_test, y_test = as_inputs(test_images), test_labels.astype(np.int64)
    epochs = args.epochs
    if args.smoke:
        keep = np.random.default_rng(0).permutation(len(x_train))[:500]
        x_train, y_train, epochs = x_train[keep], y_train[keep], 1

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    print(sn.summary(model, (784,)))
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    rng = np.random.default_rng(args.seed)  # the batch order

    start, history = time.perf_counter(), []
    for epoch in range(1, epochs + 1):
        order, total = rng.permutation(len(x_train)), 0.0
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            loss = F.cross_entropy(model(sn.tensor(x_train[batch])), sn.tensor(y_train[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history.append((epoch, total / len(order), accuracy(model, x_test, y_test)))
        print(f"epoch {epoch:2d}  train loss {history[-1][1]:.4f}  "
              f"held-out accuracy {history[-1][2]:.4f}")
    print(f"held-out accuracy: {history[-1][2]:.4f} on {len(y_test)} digits "
          f"({time.perf_counter() - start:.1f} s)")
    save_figure(lambda plt: _draw(plt, history), args.out, "train_mlp.png")
    return history


def _draw(plt, history):
    epochs, losses, accuracies = zip(*history)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, losses, marker="o")
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy", title="784-128-10 MLP")
    ax_acc.plot(epochs, [100 * a for a in accuracies], marker="o")
    ax_acc.set(xlabel="epoch", ylabel="held-out accuracy (%)", title="1,000 held-out digits")
    return fig


if __name__ == "__main__":
    main()
