"""End to end: a small MLP learns the bundled MNIST subset (nn, optim, F and autograd together)."""
import numpy as np

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import nn, optim
from scratchnet.data import mnist_5k_split


def test_small_mlp_learns_the_bundled_mnist_subset():
    (train_x, train_y), (test_x, test_y) = mnist_5k_split()
    flat = lambda images: (images.reshape(len(images), -1) / 255.0).astype(np.float32)
    x_train, y_train = flat(train_x), train_y.astype(np.int64)
    sn.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(2):
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), 100):
            batch = order[i:i + 100]
            loss = F.cross_entropy(model(sn.tensor(x_train[batch])), sn.tensor(y_train[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    with sn.no_grad():
        predicted = model(sn.tensor(flat(test_x))).argmax(1).numpy()
    accuracy = (predicted == test_y).mean()
    assert np.mean(losses[:5]) > 2.0  # chance: ln 10 = 2.3
    assert np.mean(losses[-10:]) < 0.5
    assert accuracy > 0.8, f"held-out accuracy {accuracy:.3f} after 2 epochs"
