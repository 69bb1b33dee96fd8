"""Class probabilities of a model over a data set, with test-time views, and ensembles of
models: the softmax is averaged over the views of an image (AlexNet's ten crops) and over the
members of an ensemble (AlexNet's seven CNNs, ZFNet's and VGG's), never the logits."""
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..function import no_grad
from ..tensor import Tensor
from . import crops


@dataclass
class Predictions:
    """What ``predict`` measured: ``probs`` (N, K) float64, the softmax averaged over the test
    views; ``centre`` (N, K), the softmax of the plain centre crop alone (``probs`` itself
    without views); ``labels`` (N,) int64; ``loss``, the mean cross-entropy of ``probs``."""
    probs: np.ndarray
    centre: np.ndarray
    labels: np.ndarray

    @property
    def loss(self):
        picked = self.probs[np.arange(len(self.labels)), self.labels]
        return float(-np.log(np.maximum(picked, np.finfo(np.float64).tiny)).mean())


def softmax(logits):
    """Row-wise softmax in float64 (N, K) -> (N, K)."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def predict(model, loader, tta="none", crop=None, device="cpu"):
    """Run ``model`` (eval mode, no graph; its mode is restored) over ``loader``'s (x, y)
    batches and return ``Predictions``.

    tta: ``crops.TTA_MODES``: "none" evaluates the centre ``crop`` of each image; "flip" adds
        its mirror image; "five-crop" and "ten-crop" are AlexNet's corner-and-centre crops
        (and their mirror images). Every view is its own forward pass of the whole batch.
    crop: (h, w) or an int; default: the images' own size (the centre view is then the
        image, and the corner crops coincide with it).
    """
    was_training = model.training
    model.eval()
    probs, centre, labels = [], [], []
    try:
        with no_grad():
            for x, y in loader:
                size = x.shape[-2:] if crop is None else crop
                views = [_softmax_of(model, v, device) for v in crops.views(x, tta, size)]
                probs.append(np.mean(views, axis=0))
                centre.append(views[crops.CENTRE[tta]])
                labels.append(np.asarray(y, np.int64))
    finally:
        model.train(was_training)
    if not labels:
        raise ValueError("predict: the data set is empty")
    return Predictions(np.concatenate(probs), np.concatenate(centre), np.concatenate(labels))


def _softmax_of(model, images, device):
    out = model(Tensor(backend.to_device(np.ascontiguousarray(images), device)))
    if isinstance(out, tuple):          # GoogLeNet's (logits, aux2, aux1) in training mode
        out = out[0]
    return softmax(backend.to_numpy(out.data))


def ensemble(members):
    """The ensemble of ``members`` (Predictions of several models on the same images, in the
    same order): the mean of their softmax outputs, for ``probs`` and ``centre``. Members may
    be different models; they must have seen the same labels and the same classes."""
    members = list(members)
    if not members:
        raise ValueError("ensemble: needs at least one member")
    first = members[0]
    for i, m in enumerate(members[1:], 2):
        if m.probs.shape != first.probs.shape or not np.array_equal(m.labels, first.labels):
            raise ValueError(f"ensemble: member {i} was evaluated on other data than member 1 "
                             f"({m.probs.shape[0]} images of {m.probs.shape[1]} classes against "
                             f"{first.probs.shape[0]} of {first.probs.shape[1]}, or other "
                             "labels): members must predict the same images in the same order")
    return Predictions(np.mean([m.probs for m in members], axis=0),
                       np.mean([m.centre for m in members], axis=0), first.labels.copy())
