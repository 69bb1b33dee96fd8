"""What the ranks of a data-parallel run agree on besides the gradients DistributedDataParallel
averages: when to stop, and the epoch's numbers."""
import numpy as np

from .. import backend, distributed
from .. import random as _random
from .trainer import Callback


class DataParallelSync(Callback):
    """Keeps the ranks of ``group`` (default: the default process group) in step. Put it
    first among the callbacks, so the others see the combined numbers.

    on_fit_start  ranks other than 0 count their partial epoch from 0 (a resumed checkpoint
                  holds every rank's sums so far; rank 0 keeps them) and draw dropout masks
                  from a stream of their own.
    on_batch_end  one all-reduce (MAX) of the stop requests: a signal that reached any rank
                  stops every rank after the same batch. The record's image counts become
                  the whole step's (every rank's share of a step is the same size).
    on_epoch_end  the record's train loss, accuracy and image count become those of the
                  whole data set: sums over the ranks.
    on_stop       the interrupted epoch's partial sums, summed over the ranks, so that rank
                  0's checkpoint holds the whole run's; ``stopped_together`` becomes True.

    ``request_stop()`` is what a signal handler calls (it only sets a flag, so a signal
    between two ranks' checks cannot split them).
    """

    def __init__(self, group=None):
        self.group = distributed.default_group() if group is None else group
        self.requested = self.stopped_together = False

    def request_stop(self):
        self.requested = True

    def on_fit_start(self, trainer):
        rank = self.group.rank()
        if rank:
            trainer.partial.update(loss=0.0, correct=0, seen=0)
            _random.manual_seed(int(np.random.SeedSequence(
                [trainer.config["seed"], rank, trainer.epoch, trainer.batch]
            ).generate_state(1, np.uint64)[0] >> 1))

    def on_batch_end(self, trainer, record):
        world = self.group.size()
        record["images"] *= world
        record["train_images"] *= world
        if self._sum([float(self.requested)], max_=True)[0]:
            trainer.request_stop()

    def on_epoch_end(self, trainer, record):
        n = record["images"]
        loss, correct, seen = self._sum([record["train_loss"] * n, record["train_acc"] * n, n])
        record.update(train_loss=loss / seen, train_acc=round(correct) / seen,
                      images=int(seen))

    def on_stop(self, trainer):
        p = trainer.partial
        loss, correct, seen = self._sum([p["loss"], p["correct"], p["seen"]])
        p.update(loss=loss, correct=int(round(correct)), seen=int(seen))
        self.stopped_together = True

    def _sum(self, values, max_=False):
        xp = backend.cupy_module() if self.group.name == "nccl" else np   # NCCL: GPU arrays
        array = xp.asarray(values, np.float64)
        op = distributed.ReduceOp.MAX if max_ else distributed.ReduceOp.SUM
        self.group.all_reduce(array, op).wait()
        return backend.to_numpy(array).tolist()
