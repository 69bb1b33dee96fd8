"""``TensorBoardLog``: a run's numbers as TensorBoard event files (``--tensorboard``)."""
import math

import numpy as np

from .. import backend, nn
from .trainer import Callback


def filter_grid(weight, padding=1):
    """The filters of a convolution, ``weight`` (O, C, KH, KW), as one image grid (3 or 1,
    H, W) in [0, 1] for viewing (ZFNet's figure 2): each filter min-max scaled on its own,
    RGB when C is 3, else its first input channel in grey; ceil(sqrt(O)) filters a row,
    ``padding`` pixels of black between them."""
    weight = np.asarray(weight, np.float64)
    o, c, kh, kw = weight.shape
    tiles = weight if c == 3 else weight[:, :1]                   # (O, 3 or 1, KH, KW)
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - low
    tiles = (tiles - low) / np.where(span > 0, span, 1)
    per_row = math.ceil(math.sqrt(o))
    rows = math.ceil(o / per_row)
    grid = np.zeros((tiles.shape[1], rows * (kh + padding) + padding,
                     per_row * (kw + padding) + padding))
    for i, tile in enumerate(tiles):
        top = padding + (i // per_row) * (kh + padding)
        left = padding + (i % per_row) * (kw + padding)
        grid[:, top:top + kh, left:left + kw] = tile
    return grid


def first_conv(model):
    """(name, module) of the first Conv2d in ``model``, or None."""
    return next(((name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)),
                None)


class TensorBoardLog(Callback):
    """Event files in ``log_dir`` (``scratchnet.utils.tensorboard.SummaryWriter``):

    per step     ``step/loss``, ``step/accuracy``, ``step/lr`` (x = the step over the run)
    per epoch    ``epoch/train_loss``, ``epoch/train_acc``, ``epoch/test_loss``,
                 ``epoch/test_acc``, ``epoch/test_top5``, ``epoch/lr``, ``epoch/img_per_s``
                 (x = the epoch); ``weights/NAME`` and ``grads/NAME`` histograms of every
                 parameter (its gradient of the epoch's last batch); ``filters/NAME``, the
                 first convolution's filters as an image grid (``filter_grid``).

    A resumed run purges the steps after the checkpoint it resumes, so a crashed run's tail
    does not show twice."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.writer = None

    def on_fit_start(self, trainer):
        from ..utils.tensorboard import SummaryWriter
        step = trainer.epoch * len(trainer.loader) + trainer.batch
        self.writer = SummaryWriter(self.log_dir, purge_step=step or None)

    def on_batch_end(self, trainer, record):
        step = record["step"]
        for key in ("loss", "accuracy", "lr"):
            self.writer.add_scalar(f"step/{key}", record[key], step)

    def on_epoch_end(self, trainer, record):
        epoch = record["epoch"]
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "test_top5", "lr"):
            if key in record:
                self.writer.add_scalar(f"epoch/{key}", record[key], epoch)
        self.writer.add_scalar("epoch/img_per_s", record["images"] / max(record["seconds"],
                                                                          1e-9), epoch)
        for name, param in trainer.model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", param, epoch)
            if param.grad is not None:
                self.writer.add_histogram(f"grads/{name}", param.grad, epoch)
        conv = first_conv(trainer.model)
        if conv is not None:
            self.writer.add_image(f"filters/{conv[0]}",
                                  filter_grid(backend.to_numpy(conv[1].weight.data)), epoch)
        self.writer.flush()

    def on_stop(self, trainer):
        self.close()

    def on_fit_end(self, trainer):
        self.close()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
