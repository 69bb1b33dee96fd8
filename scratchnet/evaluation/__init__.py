"""Evaluation as the papers did it: test-time crops, ensembles, top-1 and top-5 error, the
confusion matrix and per-class precision and recall.

    from scratchnet import evaluation
    p = evaluation.predict(model, loader, tta="ten-crop", crop=224)  # softmax over 10 views
    evaluation.topk_error(p.probs, p.labels, 5)                      # top-5 error, ten crops
    evaluation.topk_error(p.centre, p.labels, 5)                     # the centre crop alone
    both = evaluation.ensemble([p, other])                           # softmax averaged
    cm = evaluation.confusion_matrix(p.labels, p.probs.argmax(1), num_classes=10)

    crops.py     center_crop, five_crop, ten_crop, views (the TTA modes)
    predict.py   Predictions, predict, ensemble, softmax
    metrics.py   topk_hits/accuracy/error, confusion_matrix, precision_recall
    plots.py     plot_confusion_matrix (a PNG, with matplotlib)
"""
from .crops import CENTRE, TTA_MODES, VIEWS, center_crop, five_crop, hflip, ten_crop, views
from .metrics import (confusion_matrix, precision_recall, topk_accuracy, topk_error,
                      topk_hits)
from .plots import plot_confusion_matrix
from .predict import Predictions, ensemble, predict, softmax

__all__ = ["CENTRE", "Predictions", "TTA_MODES", "center_crop", "confusion_matrix",
           "ensemble", "five_crop", "hflip", "plot_confusion_matrix", "precision_recall",
           "predict", "softmax", "ten_crop", "topk_accuracy", "topk_error", "topk_hits",
           "VIEWS", "views"]
