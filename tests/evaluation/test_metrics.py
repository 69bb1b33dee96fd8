"""Top-k, the confusion matrix and precision/recall against counts made by hand."""
import numpy as np
import pytest

from scratchnet import evaluation

SCORES = np.array([[0.10, 0.50, 0.20, 0.15, 0.05, 0.00],    # label 1: top-1 hit
                   [0.30, 0.25, 0.20, 0.15, 0.06, 0.04],    # label 5: last, top-5 miss
                   [0.05, 0.10, 0.15, 0.20, 0.30, 0.20],    # label 2: 4th, top-5 hit
                   [0.40, 0.10, 0.10, 0.10, 0.10, 0.20]])   # label 0: top-1 hit
LABELS = np.array([1, 5, 2, 0])


def test_topk_counts_by_hand():
    assert evaluation.topk_hits(SCORES, LABELS, 1).tolist() == [True, False, False, True]
    assert evaluation.topk_accuracy(SCORES, LABELS, 1) == 0.5
    assert evaluation.topk_error(SCORES, LABELS, 5) == 0.25
    assert evaluation.topk_accuracy(SCORES, LABELS, 6) == 1.0
    assert evaluation.topk_accuracy(SCORES, LABELS, 10) == 1.0     # k > classes: all of them


def test_a_tie_at_the_border_does_not_count_as_a_hit():
    # class 2 ties class 1 for second place: the lower index takes it
    scores = np.array([[0.5, 0.2, 0.2, 0.1]])
    assert evaluation.topk_hits(scores, np.array([2]), 2).tolist() == [False]
    assert evaluation.topk_hits(scores, np.array([1]), 2).tolist() == [True]


def test_confusion_matrix_precision_and_recall_by_hand():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    predicted = [0, 0, 1, 1, 2, 2, 2, 0, 2]
    matrix = evaluation.confusion_matrix(labels, predicted, num_classes=4)
    assert matrix.tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 3, 0], [0, 0, 0, 0]]
    precision, recall = evaluation.precision_recall(matrix)
    np.testing.assert_allclose(precision[:3], [2 / 3, 1 / 2, 3 / 4])
    np.testing.assert_allclose(recall[:3], [2 / 3, 1 / 2, 3 / 4])
    assert np.isnan(precision[3]) and np.isnan(recall[3])      # never seen, never predicted
    assert evaluation.confusion_matrix([1, 0], [1, 1]).shape == (2, 2)


def test_confusion_matrix_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match=r"labels \(3,\) and predictions \(2,\)"):
        evaluation.confusion_matrix([0, 1, 1], [0, 1])


def test_confusion_matrix_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "cm.png"
    evaluation.plot_confusion_matrix(np.array([[5, 1], [0, 4]]), ["cat", "dog"], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
