"""The bundled MNIST subset (see MNIST_README.md beside this file for its attribution)."""
import os

import numpy as np

BUNDLED = os.path.join(os.path.dirname(__file__), "mnist_5k.npz")


def load_mnist_5k(path=BUNDLED):
    """All 5,000 bundled digits: images uint8 (5000, 28, 28), labels uint8 (5000,)."""
    with np.load(path, allow_pickle=False) as f:
        return f["images"], f["labels"]


def mnist_5k_split(n_test_per_class=100, seed=0):
    """A fixed, stratified train/held-out split of the bundled digits (4,000 / 1,000 by default).

    Returns ((train_images, train_labels), (test_images, test_labels)); the same seed always
    gives the same split.
    """
    images, labels = load_mnist_5k()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        test[rng.choice(members, n_test_per_class, replace=False)] = True
    return (images[~test], labels[~test]), (images[test], labels[test])
