"""Training checkpoints: what ``scratchnet train`` writes, and the checks before one is used.

A checkpoint is one ``scratchnet.save`` file (``.npz``, no pickle, written atomically):

    kind, format        "scratchnet.train checkpoint", FORMAT
    model_name          the zoo name; model_kwargs: what it was built with ({"num_classes": 10})
    config              the hyper-parameters (``resolve_config``'s dict)
    data_dir            the data folder, absolute (None: the bundled or synthetic set)
    threads             the thread count it ran with (results differ across counts in the
                        last bits, so a resume with another count warns)
    model, optimizer, scheduler, rng, epoch, batch, partial, history
                        ``Trainer.state_dict()``: the arrays are members ``model.conv1.weight``,
                        ``optimizer.state.0.momentum_buffer``, ...

Reading one (``load_checkpoint``, then ``restore``) checks every field's type and every
structure against a freshly built trainer's before anything is used, so a damaged or
hand-edited file fails with one ``CheckpointError`` naming it rather than a KeyError later.
"""
import numbers
import os
import warnings

import numpy as np

from .. import io
from .errors import CheckpointError, CheckpointWriteError
from .recipes import DEFAULT_RECIPE, LATER_SETTINGS
from .trainer import Callback

KIND = "scratchnet.train checkpoint"
FORMAT = 2
LAST, BEST = "last.npz", "best.npz"

_FIELDS = dict(model_name=str, model_kwargs=dict, config=dict, data_dir=(str, type(None)),
               threads=int, model=dict, optimizer=dict, scheduler=(dict, type(None)), rng=dict,
               epoch=int, batch=int, partial=dict, history=list)


class ThreadCountWarning(UserWarning):
    """A run resumed with another thread count than it was saved with."""


def thread_count():
    """The thread count the kernels run with (``sn.get_num_threads``)."""
    from ..kernels import get_num_threads
    return get_num_threads()


class Checkpointer(Callback):
    """Writes ``directory/last.npz`` at the end of every epoch and when the run is stopped,
    and ``directory/best.npz`` (the same content) at the end of an epoch whose held-out
    accuracy beats every earlier epoch's. ``run_info``: model_name, model_kwargs, data_dir.
    An OSError while writing becomes a CheckpointWriteError; the previous file stays whole."""

    def __init__(self, directory, model_name, model_kwargs=None, data_dir=None):
        self.last = os.path.join(directory, LAST)
        self.best = os.path.join(directory, BEST)
        self.run_info = dict(model_name=model_name, model_kwargs=dict(model_kwargs or {}),
                             data_dir=None if data_dir is None else os.path.abspath(data_dir))
        self._saved_at = None

    def on_epoch_end(self, trainer, record):
        checkpoint = self.checkpoint(trainer)
        self._write(checkpoint, self.last)
        earlier = [r["test_acc"] for r in trainer.history[:-1] if "test_acc" in r]
        if "test_acc" in record and all(record["test_acc"] > acc for acc in earlier):
            self._write(checkpoint, self.best)
        self._saved_at = (trainer.epoch, trainer.batch)

    def on_stop(self, trainer):
        if self._saved_at != (trainer.epoch, trainer.batch):
            self._write(self.checkpoint(trainer), self.last)

    def checkpoint(self, trainer):
        """The object written: run info, config, thread count and ``trainer.state_dict()``."""
        return dict(kind=KIND, format=FORMAT, **self.run_info, config=trainer.config,
                    threads=thread_count(), **trainer.state_dict())

    @staticmethod
    def _write(checkpoint, path):
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            io.save_nested(checkpoint, path)
        except OSError as err:
            raise CheckpointWriteError(path, err) from err


def load_checkpoint(path, model_name=None):
    """The checkpoint at ``path`` as a dict, its fields' types checked; a CheckpointError
    naming the file when it cannot be read, is not a training checkpoint, or (with
    ``model_name``) is one of another model."""
    try:
        ckpt = io.load_nested(path)
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    except io.LoadError as err:      # names the file
        raise CheckpointError(str(err)) from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise CheckpointError(f"{path} is not a checkpoint written by `scratchnet train` (no "
                              "training metadata in __meta__)")
    if ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {ckpt.get('format')!r}; this "
                              f"version of scratchnet reads format {FORMAT}")
    for key, types in _FIELDS.items():
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}")
        _check(isinstance(ckpt[key], types) and not isinstance(ckpt[key], bool), path, key,
               _kind(ckpt[key]))
    if isinstance(ckpt["config"], dict):
        ckpt["config"] = {**LATER_SETTINGS, **ckpt["config"]}
    _check_config(ckpt["config"], path)
    _check(all(isinstance(v, np.ndarray) for v in ckpt["model"].values()), path, "model",
           "an entry that is not an array")
    _check(ckpt["epoch"] >= 0 and ckpt["batch"] >= 0, path, "epoch/batch",
           f"{ckpt['epoch']}/{ckpt['batch']}")
    _check(all(isinstance(r, dict) and _is_count(r.get("epoch")) and
               all(_is_number(v) for v in r.values()) for r in ckpt["history"]),
           path, "history", "a record that is not a dict of numbers")
    if model_name is not None and ckpt["model_name"] != model_name:
        raise CheckpointError(f"{path} is a checkpoint of {ckpt['model_name']}, not "
                              f"{model_name}; resume it with `scratchnet train "
                              f"{ckpt['model_name']} --resume {path}`")
    return ckpt


def restore(trainer, ckpt, path):
    """Continue ``trainer`` (built from ``ckpt``'s config) from ``ckpt``. Structures are
    compared with the trainer's own before loading; any mismatch is a CheckpointError.
    Warns (ThreadCountWarning) when the thread count differs from the checkpoint's."""
    fresh = trainer.state_dict()
    for key in ("scheduler", "rng", "partial"):
        _check_like(ckpt[key], fresh[key], path, key)
    _check_like(ckpt["optimizer"].get("param_groups"), fresh["optimizer"]["param_groups"],
                path, "optimizer.param_groups")
    state = ckpt["optimizer"].get("state")
    _check(isinstance(state, dict), path, "optimizer.state", _kind(state))
    for index, buffers in state.items():
        where = f"optimizer.state.{index}"
        _check(isinstance(index, int) and isinstance(buffers, dict), path, where,
               _kind(buffers))
        for name, value in buffers.items():    # shapes: checked by optimizer.load_state_dict
            _check(isinstance(value, np.ndarray), path, f"{where}.{name}", _kind(value))
    epochs, batches = trainer.config["epochs"], len(trainer.loader)
    _check(ckpt["epoch"] < epochs and ckpt["batch"] < batches or
           (ckpt["epoch"], ckpt["batch"]) == (epochs, 0), path, "epoch/batch",
           f"{ckpt['epoch']}/{ckpt['batch']}, past {epochs} epochs of {batches} batches")
    _check(len(ckpt["history"]) == ckpt["epoch"], path, "history",
           f"{len(ckpt['history'])} records for {ckpt['epoch']} epochs")
    try:
        trainer.load_state_dict(ckpt)
    except RuntimeError as err:     # Module.load_state_dict: missing, unexpected, mis-shaped
        raise CheckpointError(f"{path} does not fit {ckpt['model_name']}: {err}") from None
    except (ValueError, TypeError, KeyError, OverflowError) as err:   # optimizer, generator
        raise CheckpointError(f"checkpoint {path} does not fit this run: {err}") from None
    threads = thread_count()
    if ckpt["threads"] != threads:
        warnings.warn(ThreadCountWarning(
            f"{path} was written by a run with {ckpt['threads']} threads and this one has "
            f"{threads}: the weights will differ from an uninterrupted run's in the last bits"),
            stacklevel=2)


def _check_config(config, path):
    for key, default in DEFAULT_RECIPE.items():
        value = config.get(key)
        if key == "resize":
            ok = value is None or _is_count(value)
        elif key == "init_from":
            ok = value is None or isinstance(value, str)
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif isinstance(default, (str, bool)):
            ok = isinstance(value, type(default))
        else:
            ok = _is_number(value)
        _check(ok, path, f"config.{key}", _kind(value))


def _check_like(value, template, path, where):
    """``value`` has ``template``'s structure: the same dict keys, list lengths, and a value
    of the same kind (number, bool, string, array of the same shape) at every leaf."""
    if isinstance(template, dict):
        _check(isinstance(value, dict), path, where, _kind(value))
        _check(set(value) == set(template), path, where,
               f"missing {sorted(set(template) - set(value))}, with unexpected "
               f"{sorted(set(value) - set(template))}")
        for key in template:
            _check_like(value[key], template[key], path, f"{where}.{key}")
    elif isinstance(template, (list, tuple)):
        _check(isinstance(value, (list, tuple)) and len(value) == len(template), path, where,
               f"{_kind(value)}, expected {len(template)} entries")
        for i, (v, t) in enumerate(zip(value, template)):
            _check_like(v, t, path, f"{where}.{i}")
    elif isinstance(template, (str, bool)):
        _check(isinstance(value, type(template)), path, where, _kind(value))
    elif isinstance(template, numbers.Number):
        _check(_is_number(value), path, where, _kind(value))
    elif isinstance(template, np.ndarray):
        _check(isinstance(value, np.ndarray) and value.shape == template.shape, path, where,
               _kind(value))
    else:   # None: a setting that is off, or a value not yet computed
        _check(value is None or _is_number(value), path, where, _kind(value))


def _check(ok, path, where, what):
    if not ok:
        raise CheckpointError(f"checkpoint {path} is damaged or was edited: {where}: {what}")


def _kind(value):
    """A short description of a value for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (dict, list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return repr(value)[:60]


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def load_model(ckpt, path, device="cpu"):
    """The zoo model ``ckpt`` was trained as, with its weights, on ``device`` (for evaluation
    or fine-tuning); a CheckpointError naming ``path`` when they do not fit."""
    from .. import models
    if ckpt["model_name"] not in models.list_models():
        raise CheckpointError(f"{path} holds a {ckpt['model_name']!r}, which is not a zoo model")
    try:
        model = models.get_model(ckpt["model_name"], **ckpt["model_kwargs"])
        model.load_state_dict(ckpt["model"])
    except (TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path} does not fit {ckpt['model_name']}: {err}") from None
    return model.to(device)
