"""Scores of a classifier from its predictions: top-k, the confusion matrix, per-class
precision and recall. ``scores`` are (N, K) (probabilities or logits: only their order
matters), ``labels`` (N,) class indices."""
import numpy as np


def topk_hits(scores, labels, k):
    """(N,) bool: the label is among the ``k`` highest scores (ties: the lower index first,
    so a tie never counts as a hit it did not earn)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]       # (N, k)
    return (top == labels[:, None]).any(axis=1)


def topk_accuracy(scores, labels, k=1):
    """Fraction of the samples whose label is among their ``k`` highest scores."""
    return float(topk_hits(scores, labels, k).mean())


def topk_error(scores, labels, k=1):
    """1 - ``topk_accuracy``: the figure the ImageNet papers report (top-1, top-5 error)."""
    return 1.0 - topk_accuracy(scores, labels, k)


def confusion_matrix(labels, predicted, num_classes=None):
    """(K, K) int64 counts: row = true class, column = predicted class (scikit-learn's
    orientation). ``num_classes`` defaults to 1 + the largest index seen."""
    labels, predicted = np.asarray(labels, np.int64), np.asarray(predicted, np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"confusion_matrix: labels {labels.shape} and predictions "
                         f"{predicted.shape} differ in shape")
    if num_classes is None:
        num_classes = int(max(labels.max(initial=-1), predicted.max(initial=-1))) + 1
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def precision_recall(matrix):
    """(precision, recall), each (K,) float64, from a confusion matrix: precision of class c =
    right / predicted as c (a column), recall = right / truly c (a row); NaN where the
    denominator is 0 (a class never predicted, or absent from the data)."""
    matrix = np.asarray(matrix, np.float64)
    right = np.diag(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        return right / matrix.sum(axis=0), right / matrix.sum(axis=1)
