"""The confusion matrix as a picture (matplotlib, optional: ``pip install matplotlib``)."""
import numpy as np


def plot_confusion_matrix(matrix, classes, path, title="confusion matrix"):
    """Save ``matrix`` (K, K counts, rows = true class) as a PNG at ``path``: each row
    normalised to the fraction of that class, counts written in the cells when K <= 20.
    Raises ImportError (saying how to install it) without matplotlib."""
    from ..viz._plot import pyplot
    plt = pyplot("the confusion matrix PNG")
    matrix = np.asarray(matrix)
    k = len(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.nan_to_num(matrix / matrix.sum(axis=1, keepdims=True))
    side = min(16, 3 + 0.45 * k)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class")
    if k <= 50:
        ax.set_xticks(range(k), classes, rotation=90 if k > 10 else 0)
        ax.set_yticks(range(k), classes)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if rates[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
