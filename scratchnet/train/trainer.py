"""The training loop: ``Trainer`` runs epochs and reports through ``Callback``s; it never prints.

A run is: per epoch, train over shuffled, augmented batches, measure held-out accuracy, step
the learning-rate schedule (per epoch, as torch's schedulers are usually stepped). Every
random draw of the data comes from (seed, epoch, batch) and the model's own randomness
(dropout) from scratchnet's generator, whose state is part of ``state_dict()``: a run restored
from it, even in the middle of an epoch, continues to the same weights as an uninterrupted one.
"""
import contextlib
import math
import time

import numpy as np

from .. import backend
from .. import random as _random
from ..data import DataLoader
from ..evaluation.metrics import topk_hits
from ..function import no_grad
from ..functional import cross_entropy
from ..nn.parallel import unwrap
from ..tensor import Tensor
from .errors import DivergedError, Interrupted
from .recipes import make_optimizer, make_scheduler

AUX_WEIGHT = 0.3        # GoogLeNet's auxiliary classifiers' loss weight (the paper's 0.3)
EVAL_BATCH = 256        # held-out batches are at least this large: no gradients to keep


class Callback:
    """Hooks ``Trainer.fit`` calls on each of its ``callbacks``, in order. Each receives the
    trainer (``model``, ``optimizer``, ``config``, ``epoch``, ``batch``, ``history`` ...);
    override the ones you need. Records are dicts of JSON numbers:

    on_batch_end  after each optimizer step: ``epoch`` (1-based), ``batch`` (1-based within
                  the epoch), ``batches`` (per epoch), ``step`` (1-based over the run), ``loss``
                  and ``accuracy`` of this batch, ``images`` in it, ``lr``, and so far in the
                  epoch ``train_loss``, ``train_acc``, ``train_images`` and ``seconds``
                  (training time).
    on_epoch_end  the epoch's record, also appended to ``trainer.history``: ``epoch``,
                  ``train_loss``, ``train_acc``, ``test_loss`` and ``test_acc`` (with a held-out
                  set; ``test_top5`` too for more than 5 classes), ``lr`` (during the epoch),
                  ``seconds`` (training time), ``images``.
                  ``trainer.epoch`` is already the next epoch's index.
    on_stop       after ``request_stop()`` took effect, before ``fit`` raises ``Interrupted``.

    The trainer checks for a stop request after ``on_batch_end``, so a callback may call
    ``trainer.request_stop()`` there (after agreeing with other processes, say).
    """

    def on_fit_start(self, trainer):
        pass

    def on_epoch_start(self, trainer):
        pass

    def on_batch_end(self, trainer, record):
        pass

    def on_epoch_end(self, trainer, record):
        pass

    def on_stop(self, trainer):
        pass

    def on_fit_end(self, trainer):
        pass


class Trainer:
    """Train ``model`` on ``train_set`` for ``config["epochs"]`` epochs (``config`` as
    ``resolve_config`` returns it), measuring ``held_out`` (optional) after each epoch.

    ``fit()`` runs from ``epoch``/``batch`` (0 unless ``load_state_dict`` restored them) to
    the end and returns ``history``. ``request_stop()`` (safe from a signal handler) ends it
    after the current batch: callbacks get ``on_stop`` and ``fit`` raises ``Interrupted``.
    A non-finite loss raises ``DivergedError`` before its step, and non-finite weights raise
    it before any callback sees the epoch's end or the stop.

    Parameters with ``requires_grad`` False (frozen) are left out of the optimizer.
    ``num_workers`` > 0 prepares batches in that many DataLoader worker processes (the same
    batches), else one batch ahead on a thread.

    Data-parallel training: ``model`` a DistributedDataParallel, ``sampler`` this rank's
    DistributedSampler; each rank then takes batch_size / num_replicas images per step (the
    global batch stays ``config["batch_size"]``), and ``state_dict`` holds the wrapped
    model's own keys, so any number of processes resumes it.
    """

    def __init__(self, model, config, train_set, held_out=None, device="cpu", callbacks=(),
                 num_workers=0, sampler=None):
        self.model, self.config, self.device = model, config, device
        self.callbacks = list(callbacks)
        self.optimizer = make_optimizer(config, [p for p in model.parameters()
                                                 if p.requires_grad])
        self.scheduler = make_scheduler(config, self.optimizer)
        replicas = 1 if sampler is None else sampler.num_replicas
        self.loader = DataLoader(train_set, config["batch_size"] // replicas,
                                 shuffle=sampler is None, sampler=sampler,
                                 seed=config["seed"] if sampler is None
                                 else sampler.rank_seed(config["seed"]),
                                 prefetch=num_workers == 0, num_workers=num_workers)
        self.held_out = None if held_out is None else DataLoader(
            held_out, max(config["batch_size"], EVAL_BATCH), num_workers=num_workers)
        self.epoch, self.batch, self.history = 0, 0, []
        self.partial = _fresh_partial()
        self._stop = False

    def request_stop(self):
        self._stop = True

    @property
    def stop_requested(self):
        return self._stop

    def state_dict(self):
        """Everything ``fit`` needs to continue: model, optimizer, schedule, the random
        generator's state, progress (``epoch``, ``batch``, the epoch's running sums in
        ``partial``) and ``history``. Arrays are the live ones: save before training on."""
        return dict(model=unwrap(self.model).state_dict(),
                    optimizer=self.optimizer.state_dict(),
                    scheduler=None if self.scheduler is None else self.scheduler.state_dict(),
                    rng=_random.get_rng_state(), epoch=self.epoch, batch=self.batch,
                    partial=dict(self.partial), history=list(self.history))

    def load_state_dict(self, state):
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        _random.set_rng_state(state["rng"])
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.partial, self.history = dict(state["partial"]), list(state["history"])

    def fit(self):
        self._emit("on_fit_start")
        while self.epoch < self.config["epochs"]:
            self._emit("on_epoch_start")
            if not self.train_epoch():
                self._stopped()
            self._check_finite_weights()
            record = self._end_epoch()
            self._emit("on_epoch_end", record)
            if self._stop and self.epoch < self.config["epochs"]:
                self._stopped()   # asked during the held-out pass: the epoch's end stands
        self._emit("on_fit_end")
        return self.history

    def train_epoch(self):
        """Train from ``self.batch`` to the end of the epoch; False if stopped early."""
        self.model.train()
        self.loader.set_epoch(self.epoch)
        p, start = self.partial, time.perf_counter() - self.partial["seconds"]
        lr = self.optimizer.param_groups[0]["lr"]
        with contextlib.closing(self.loader.iterate(start_batch=self.batch)) as batches:
            for x, y in batches:
                loss, correct = self._step(x, y)
                p["loss"] += loss * len(y)
                p["correct"] += correct
                p["seen"] += len(y)
                p["seconds"] = time.perf_counter() - start
                self.batch += 1
                self._emit("on_batch_end", dict(
                    epoch=self.epoch + 1, batch=self.batch, batches=len(self.loader),
                    step=self.epoch * len(self.loader) + self.batch, loss=loss,
                    accuracy=correct / len(y), images=len(y), lr=lr,
                    train_loss=p["loss"] / p["seen"], train_acc=p["correct"] / p["seen"],
                    train_images=p["seen"], seconds=p["seconds"]))
                if self._stop:
                    return False
        return True

    def _step(self, x, y):
        """One optimizer step on a batch: (its mean loss, how many it classified right)."""
        logits, aux = _logits(self.model(Tensor(backend.to_device(x, self.device))))
        target = Tensor(backend.to_device(y, self.device))
        loss = cross_entropy(logits, target)
        for a in aux:
            loss = loss + AUX_WEIGHT * cross_entropy(a, target)
        value = float(loss.item())
        if not math.isfinite(value):
            raise DivergedError(f"the training loss is {value} at epoch {self.epoch + 1}, "
                                f"batch {self.batch + 1}", self.epoch + 1, self.batch + 1)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return value, int((backend.to_numpy(logits.data.argmax(axis=1)) == y).sum())

    def _end_epoch(self):
        p = self.partial
        record = dict(epoch=self.epoch + 1, train_loss=p["loss"] / p["seen"],
                      train_acc=p["correct"] / p["seen"])
        if self.held_out is not None:
            result = evaluate(self.model, self.held_out, self.device)
            record.update(test_loss=result["loss"], test_acc=result["accuracy"])
            if "top5" in result:
                record["test_top5"] = result["top5"]
        record.update(lr=self.optimizer.param_groups[0]["lr"], seconds=p["seconds"],
                      images=p["seen"])
        self.history.append(record)
        if self.scheduler is not None:
            self.scheduler.step()
        self.epoch, self.batch = self.epoch + 1, 0
        self.partial = _fresh_partial()
        return record

    def _stopped(self):
        self._check_finite_weights()
        self._emit("on_stop")
        self._stop = False          # the request is served: a later fit() runs on
        raise Interrupted(self.epoch, self.batch)

    def _check_finite_weights(self):
        for key, array in unwrap(self.model).state_dict().items():
            if not bool(backend.get_array_module(array).isfinite(array).all()):
                raise DivergedError(f"{key} holds non-finite values after epoch "
                                    f"{self.epoch + 1}, batch {self.batch}", self.epoch + 1,
                                    self.batch)

    def _emit(self, event, *args):
        for callback in self.callbacks:
            getattr(callback, event)(self, *args)


def evaluate(model, loader, device="cpu"):
    """``model`` in eval mode over ``loader``: a dict with ``loss`` (mean cross-entropy),
    ``accuracy``, ``top5`` (top-5 accuracy, for more than 5 classes), ``per_class_accuracy``
    (an array, one entry per class of ``loader.dataset.classes``) and ``images``."""
    was_training = model.training
    model.eval()
    loss = correct = seen = top5 = 0
    n_classes = len(loader.dataset.classes)
    hits, counts = np.zeros(n_classes), np.zeros(n_classes)
    with no_grad():
        for x, y in loader:
            out, _ = _logits(model(Tensor(backend.to_device(x, device))))
            target = Tensor(backend.to_device(y, device))
            loss += float(cross_entropy(out, target, reduction="sum").item())
            scores = backend.to_numpy(out.data)
            right = scores.argmax(axis=1) == y
            correct += int(right.sum())
            top5 += int(topk_hits(scores, y, 5).sum()) if n_classes > 5 else 0
            seen += len(y)
            np.add.at(hits, y, right)
            np.add.at(counts, y, 1)
    model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the data set is empty")
    result = dict(loss=loss / seen, accuracy=correct / seen,
                  per_class_accuracy=hits / np.maximum(counts, 1), images=seen)
    if n_classes > 5:
        result["top5"] = top5 / seen
    return result


def _logits(output):
    """(logits, auxiliary logits): GoogLeNet returns a namedtuple in training mode."""
    if isinstance(output, tuple):
        return output[0], [a for a in output[1:] if a is not None]
    return output, []


def _fresh_partial():
    return dict(loss=0.0, correct=0, seen=0, seconds=0.0)
