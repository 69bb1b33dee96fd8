"""Training and evaluation: the loop behind ``scratchnet train`` and ``scratchnet eval``.

    scratchnet train lenet5            # bundled MNIST subset, >= 97% held out in minutes
    scratchnet train resnet20 --dataset cifar10 --data-dir ~/data --epochs 30
    scratchnet eval runs/lenet5-mnist/last.npz

A run is: seed everything, build the data pipeline (scratchnet.data.pipeline) and the zoo
model, then per epoch train over shuffled, augmented batches, measure held-out accuracy, step
the learning-rate schedule (per epoch, as torch's schedulers are usually stepped) and write a
checkpoint. The checkpoint is one ``.npz`` written atomically by ``scratchnet.io``: the model
arrays under ``model.``, the optimizer's buffers under ``optimizer.``, and in ``__meta__`` the
model name, hyper-parameters, schedule state, epoch and batch reached, metrics and the random
state. Since every random draw of the data comes from (seed, epoch, batch) and the model's own
randomness (dropout) from the saved generator state, ``--resume`` continues a run - even one
stopped by Ctrl-C in the middle of an epoch - to the same final weights as an uninterrupted one.
"""
import argparse
import contextlib
import os
import signal
import sys
import threading
import time

import numpy as np

from . import backend, io, models
from . import random as _random
from .data import DataLoader, pipeline
from .functional import cross_entropy
from .function import no_grad
from .optim import SGD, Adam, AdamW, lr_scheduler
from .tensor import Tensor

CHECKPOINT_KIND = "scratchnet.train checkpoint"

# Hyper-parameters a model trains with unless the command line says otherwise. LeNet-5's
# recipe reached 98.3% on the bundled 1,000 held-out digits (1.5 min of CPU time, 10 epochs).
RECIPES = {
    "lenet5": dict(dataset="mnist", epochs=10, batch_size=64, lr=0.05, weight_decay=5e-4,
                   warmup_epochs=0),
}
DEFAULT_RECIPE = dict(dataset="cifar10", epochs=30, batch_size=128, lr=0.1, momentum=0.9,
                      weight_decay=5e-4, optimizer="sgd", scheduler="cosine", warmup_epochs=1,
                      augment=True, resize=None, seed=0)
ADAM_LR = 1e-3          # the default lr when --optimizer adam/adamw and no --lr
HYPER = tuple(DEFAULT_RECIPE)
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
SCHEDULERS = ("none", "step", "multistep", "cosine")
AUX_WEIGHT = 0.3        # GoogLeNet's auxiliary classifiers' loss weight (the paper's 0.3)


class TrainError(ValueError):
    """A user error (bad option, missing data, wrong checkpoint): printed without traceback."""


class Interrupted(Exception):
    """Training stopped by Ctrl-C after writing a checkpoint to ``path``."""

    def __init__(self, path):
        super().__init__(path)
        self.path = path


def resolve_config(model, args, saved=None):
    """The run's hyper-parameters: the model's recipe (or a resumed checkpoint's) overridden
    by what the command line gives. A resumed run keeps its own: a differing option is an
    error rather than a silently different schedule."""
    if saved is not None:
        config = dict(saved)
    else:
        config = {**DEFAULT_RECIPE, **RECIPES.get(model, {})}
        if args.lr is None and args.optimizer not in (None, "sgd"):
            config["lr"] = ADAM_LR
    for key in HYPER:
        value = getattr(args, key, None)
        if value is None:
            continue
        if saved is not None and value != saved[key]:
            raise TrainError(f"--{key.replace('_', '-')} {value} differs from the checkpoint's "
                             f"{saved[key]}: a resumed run keeps the settings it started with")
        config[key] = value
    for key in ("epochs", "batch_size"):
        if config[key] < 1:
            raise TrainError(f"--{key.replace('_', '-')} must be at least 1, got {config[key]}")
    if saved is None and getattr(args, "warmup_epochs", None) is None:
        # the recipe's warm-up gives way to a short run (--epochs 1) rather than refuse it
        config["warmup_epochs"] = min(config["warmup_epochs"], config["epochs"] - 1)
    if not 0 <= config["warmup_epochs"] < config["epochs"]:
        raise TrainError(f"--warmup-epochs must be in [0, epochs) = [0, {config['epochs']}), "
                         f"got {config['warmup_epochs']}")
    if config["lr"] <= 0:
        raise TrainError(f"--lr must be positive, got {config['lr']}")
    if config["resize"] is not None and config["resize"] < 1:
        raise TrainError(f"--resize must be at least 1, got {config['resize']}")
    return config


def make_optimizer(config, params):
    name, lr, wd = config["optimizer"], config["lr"], config["weight_decay"]
    if name == "sgd":
        return SGD(params, lr=lr, momentum=config["momentum"], weight_decay=wd)
    return OPTIMIZERS[name](params, lr=lr, weight_decay=wd)


def make_scheduler(config, optimizer):
    """Per-epoch schedule: an optional linear warm-up from lr/10 over ``warmup_epochs``, then
    the main schedule over the remaining epochs (step: x0.1 every third of them; multistep:
    x0.1 at 1/2 and 3/4; cosine: down to 0)."""
    warmup, rest = config["warmup_epochs"], config["epochs"] - config["warmup_epochs"]
    kind = config["scheduler"]
    main = None
    if kind == "step":
        main = lr_scheduler.StepLR(optimizer, step_size=max(1, rest // 3), gamma=0.1)
    elif kind == "multistep":
        main = lr_scheduler.MultiStepLR(optimizer, [rest // 2, rest * 3 // 4], gamma=0.1)
    elif kind == "cosine":
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=rest)
    if warmup == 0:
        return main
    ramp = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup)
    return ramp if main is None else lr_scheduler.SequentialLR(optimizer, [ramp, main], [warmup])


def _split_arrays(obj, key, arrays):
    """Replace every array inside nested dicts/lists by {"__array__": key}, collecting the
    arrays (as NumPy) under their dotted keys: a state_dict becomes JSON + npz entries."""
    if isinstance(obj, dict):
        return {str(k): _split_arrays(v, f"{key}.{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split_arrays(v, f"{key}.{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray) or backend.is_cupy(obj):
        arrays[key] = backend.to_numpy(obj)
        return {"__array__": key}
    return obj.item() if isinstance(obj, np.generic) else obj


def _join_arrays(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj


def save_checkpoint(path, model, optimizer, scheduler, meta):
    arrays = io.add_prefix(model.state_dict(), "model.")
    optimizer_json = _split_arrays(optimizer.state_dict(), "optimizer", arrays)
    io.save(arrays, path, meta={**meta, "optimizer": optimizer_json,
                                "scheduler": None if scheduler is None else scheduler.state_dict(),
                                "rng": _random.get_rng_state()})


def load_checkpoint(path, model_name=None):
    """The checkpoint's arrays (a StateDict with ``.meta``), or a TrainError saying why not."""
    try:
        ckpt = io.load(path)
    except OSError as err:
        raise TrainError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    meta = ckpt.meta
    if not isinstance(meta, dict) or meta.get("kind") != CHECKPOINT_KIND:
        raise TrainError(f"{path} is not a checkpoint written by `scratchnet train` (no "
                         "training metadata in __meta__)")
    if model_name is not None and meta["model"] != model_name:
        raise TrainError(f"{path} is a checkpoint of {meta['model']}, not {model_name}; resume "
                         f"it with `scratchnet train {meta['model']} --resume {path}`")
    return ckpt


def _restore_model(model, ckpt, path):
    try:
        model.load_state_dict(io.strip_prefix(ckpt, "model."))
    except RuntimeError as err:
        raise TrainError(f"{path} does not fit {ckpt.meta['model']}: {err}") from None


def _logits(output):
    """(logits, auxiliary logits): GoogLeNet returns a namedtuple in training mode."""
    if isinstance(output, tuple):
        return output[0], [a for a in output[1:] if a is not None]
    return output, []


def evaluate(model, loader, device="cpu"):
    """(mean cross-entropy, accuracy, per-class accuracy) of ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    loss = correct = seen = 0
    n_classes = len(loader.dataset.classes)
    hits, counts = np.zeros(n_classes), np.zeros(n_classes)
    with no_grad():
        for x, y in loader:
            out, _ = _logits(model(Tensor(backend.to_device(x, device))))
            target = Tensor(backend.to_device(y, device))
            loss += float(cross_entropy(out, target, reduction="sum").item())
            right = backend.to_numpy(out.data.argmax(axis=1)) == y
            correct += int(right.sum())
            seen += len(y)
            np.add.at(hits, y, right)
            np.add.at(counts, y, 1)
    model.train(was_training)
    return loss / seen, correct / seen, hits / np.maximum(counts, 1)


class Trainer:
    """One training run: ``fit()`` trains from ``epoch``/``batch`` to ``config["epochs"]``,
    printing a line per epoch and writing ``path`` after each one. ``request_stop()`` (what
    Ctrl-C calls) makes it save after the current batch and raise ``Interrupted``."""

    def __init__(self, name, model, config, train_set, held_out, path, device="cpu",
                 data_dir=None, progress=True, out=None):
        self.name, self.model, self.config, self.path = name, model, config, path
        self.device, self.data_dir, self.progress, self.out = device, data_dir, progress, out
        self.optimizer = make_optimizer(config, model.parameters())
        self.scheduler = make_scheduler(config, self.optimizer)
        self.loader = DataLoader(train_set, config["batch_size"], shuffle=True,
                                 seed=config["seed"], prefetch=True)
        self.held_out = DataLoader(held_out, max(config["batch_size"], 256))
        self.epoch, self.batch, self.history = 0, 0, []
        self.partial = dict(loss=0.0, correct=0, seen=0, seconds=0.0)
        self._stop = False

    def request_stop(self):
        self._stop = True

    def restore(self, ckpt):
        """Continue from a checkpoint written by ``save``."""
        meta = ckpt.meta
        _restore_model(self.model, ckpt, self.path)
        self.optimizer.load_state_dict(_join_arrays(meta["optimizer"], ckpt))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(meta["scheduler"])
        self.epoch, self.batch = meta["epoch"], meta["batch"]
        self.history, self.partial = meta["history"], meta["partial"]
        _random.set_rng_state(meta["rng"])

    def save(self):
        meta = dict(kind=CHECKPOINT_KIND, model=self.name,
                    model_kwargs=dict(num_classes=len(self.loader.dataset.classes)),
                    config=self.config, data_dir=self.data_dir, epoch=self.epoch,
                    batch=self.batch, partial=self.partial, history=self.history)
        save_checkpoint(self.path, self.model, self.optimizer, self.scheduler, meta)

    def fit(self):
        with _stop_on_sigint(self):
            while self.epoch < self.config["epochs"]:
                if self._stop or not self.train_epoch():
                    self.save()
                    raise Interrupted(self.path)
                loss, acc, _ = evaluate(self.model, self.held_out, self.device)
                p = self.partial
                record = dict(epoch=self.epoch + 1, train_loss=p["loss"] / p["seen"],
                              train_acc=p["correct"] / p["seen"], test_loss=loss, test_acc=acc,
                              lr=self.optimizer.param_groups[0]["lr"], seconds=p["seconds"],
                              images=p["seen"])
                self.history.append(record)
                print(_epoch_line(record, self.config["epochs"]), file=self.out or sys.stdout,
                      flush=True)
                if self.scheduler is not None:
                    self.scheduler.step()
                self.epoch, self.batch = self.epoch + 1, 0
                self.partial = dict(loss=0.0, correct=0, seen=0, seconds=0.0)
                self.save()
        return self.history

    def train_epoch(self):
        """Train from ``self.batch`` to the end of the epoch; False if stopped early."""
        from tqdm import tqdm
        self.model.train()
        self.loader.set_epoch(self.epoch)
        p, start = self.partial, time.perf_counter() - self.partial["seconds"]
        bar = tqdm(total=len(self.loader), initial=self.batch, unit="batch", leave=False,
                   desc=f"epoch {self.epoch + 1}/{self.config['epochs']}", file=sys.stderr,
                   disable=not self.progress, dynamic_ncols=True)
        try:
            for x, y in self.loader.iterate(start_batch=self.batch):
                logits, aux = _logits(self.model(Tensor(backend.to_device(x, self.device))))
                target = Tensor(backend.to_device(y, self.device))
                loss = cross_entropy(logits, target)
                for a in aux:
                    loss = loss + AUX_WEIGHT * cross_entropy(a, target)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                p["loss"] += float(loss.item()) * len(y)
                p["correct"] += int((backend.to_numpy(logits.data.argmax(axis=1)) == y).sum())
                p["seen"] += len(y)
                p["seconds"] = time.perf_counter() - start
                self.batch += 1
                bar.update(1)
                bar.set_postfix(loss=f"{p['loss'] / p['seen']:.4f}",
                                acc=f"{p['correct'] / p['seen']:.2%}",
                                img_s=f"{p['seen'] / p['seconds']:.0f}", refresh=False)
                if self._stop:
                    return False
        finally:
            bar.close()
        return True


@contextlib.contextmanager
def _stop_on_sigint(trainer):
    """The first Ctrl-C asks the trainer to checkpoint and stop after the current batch; a
    second one interrupts at once (the checkpoint on disk is still whole: writes are atomic)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        trainer.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\ninterrupted: saving a checkpoint after this batch (Ctrl-C again to quit now)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _epoch_line(r, epochs):
    width = len(str(epochs))
    return (f"epoch {r['epoch']:>{width}}/{epochs}  train loss {r['train_loss']:.4f} "
            f"acc {r['train_acc']:6.2%}  held-out loss {r['test_loss']:.4f} "
            f"acc {r['test_acc']:6.2%}  lr {r['lr']:.3g}  {r['seconds']:.1f}s "
            f"({r['images'] / max(r['seconds'], 1e-9):.0f} img/s)")


def _duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def add_train_command(subparsers):
    p = subparsers.add_parser(
        "train", help="train a zoo model (LeNet-5 on the bundled MNIST subset by default)",
        description="Train MODEL, printing a progress bar per epoch, a line per epoch with "
                    "train and held-out accuracy, and a summary; a checkpoint is written to "
                    "OUT/last.npz after every epoch and on Ctrl-C. Options left out take the "
                    "model's defaults (LeNet-5: MNIST, 10 epochs, SGD lr 0.05 momentum 0.9, "
                    "cosine schedule; others: CIFAR-10, 30 epochs, SGD lr 0.1, warm-up 1).")
    p.add_argument("model", metavar="MODEL", help="a name from `scratchnet models`")
    p.add_argument("--dataset", choices=list(pipeline.DATASETS),
                   help="mnist (the bundled 4,000/1,000 subset, or full MNIST with "
                        "--data-dir), cifar10 (needs --data-dir) or synthetic")
    p.add_argument("--data-dir", metavar="DIR",
                   help="directory with the MNIST IDX files or cifar-10-batches-bin")
    p.add_argument("--epochs", type=int, metavar="N")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--lr", type=float, metavar="X",
                   help=f"learning rate (default per model; {ADAM_LR} for adam/adamw)")
    p.add_argument("--momentum", type=float, metavar="X", help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, metavar="X", help="default 5e-4")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS))
    p.add_argument("--scheduler", choices=SCHEDULERS, help="per-epoch schedule (cosine)")
    p.add_argument("--warmup-epochs", type=int, metavar="N",
                   help="linear warm-up from lr/10 over N epochs")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random shifts (and flips, PCA colour jitter for colour images)")
    p.add_argument("--resize", type=int, metavar="N", help="resize images to NxN first")
    p.add_argument("--device", choices=backend.DEVICES, default="cpu")
    p.add_argument("--seed", type=int, metavar="N", help="default 0")
    p.add_argument("--out", metavar="DIR", help="default runs/MODEL-DATASET, or the "
                                                "--resume checkpoint's directory")
    p.add_argument("--resume", metavar="PATH", help="continue the run saved in PATH")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (the per-epoch lines remain)")
    p.set_defaults(run=run_train)


def add_eval_command(subparsers):
    p = subparsers.add_parser(
        "eval", help="held-out accuracy of a training checkpoint",
        description="Load CHECKPOINT (written by `scratchnet train`) and report loss and "
                    "accuracy on the held-out set, overall and per class.")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--dataset", choices=list(pipeline.DATASETS),
                   help="default: the one the checkpoint was trained on")
    p.add_argument("--data-dir", metavar="DIR")
    p.add_argument("--batch-size", type=int, default=256, metavar="N")
    p.add_argument("--device", choices=backend.DEVICES, default="cpu")
    p.set_defaults(run=run_eval)


def _data(name, dataset, data_dir, resize, augment=True):
    """Train and held-out sets fitted to ``name``'s input; user errors as TrainError."""
    try:
        input_size = models.default_input_size(name)
        return pipeline.build(dataset, input_size, data_dir, resize, augment)
    except (OSError, ValueError) as err:   # missing files, malformed files, size mismatch
        raise TrainError(str(err)) from None


def _device(device):
    if device == "cuda":
        try:
            backend.cupy_module()
        except RuntimeError as err:   # says which piece (CuPy, driver, GPU) is missing
            raise TrainError(str(err)) from None
    return device


def prepare(args):
    """The Trainer for a parsed ``train`` command line, restored when ``--resume`` is set."""
    if args.model not in models.list_models():
        raise TrainError(f"unknown model {args.model!r}; known models: "
                         f"{', '.join(models.list_models())}")
    ckpt = load_checkpoint(args.resume, args.model) if args.resume else None
    config = resolve_config(args.model, args, ckpt.meta["config"] if ckpt else None)
    device = _device(args.device)
    data_dir = args.data_dir if args.data_dir is not None else (
        ckpt.meta.get("data_dir") if ckpt else None)
    train_set, held_out = _data(args.model, config["dataset"], data_dir, config["resize"],
                                config["augment"])
    out = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume
                       else os.path.join("runs", f"{args.model}-{config['dataset']}"))
    os.makedirs(out, exist_ok=True)
    _random.manual_seed(config["seed"])
    model = models.get_model(args.model, num_classes=len(train_set.classes)).to(device)
    trainer = Trainer(args.model, model, config, train_set, held_out,
                      os.path.join(out, "last.npz"), device, data_dir, args.progress)
    if ckpt is not None:
        trainer.restore(ckpt)
    return trainer


def run_train(args):
    try:
        trainer = prepare(args)
    except KeyboardInterrupt:
        print("interrupted before training started: nothing saved", file=sys.stderr)
        return 130
    config = trainer.config
    n_params = sum(int(p.data.size) for p in trainer.model.parameters())
    where = f" from epoch {trainer.epoch + 1}, batch {trainer.batch}" if args.resume else ""
    print(f"training {args.model} ({n_params:,} parameters) on "
          f"{pipeline.describe(config['dataset'], trainer.data_dir)}{where}\n"
          f"  {config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}, "
          f"{config['epochs']} epochs, schedule {config['scheduler']}"
          f"{', warm-up %d' % config['warmup_epochs'] if config['warmup_epochs'] else ''}, "
          f"augment {'on' if config['augment'] else 'off'}, seed {config['seed']}", flush=True)
    if trainer.epoch >= config["epochs"]:
        print(f"nothing to do: {args.resume} already finished its {config['epochs']} epochs")
        return 0
    started = time.perf_counter()
    try:
        history = trainer.fit()
    except Interrupted as stop:
        print(f"stopped at epoch {trainer.epoch + 1}, batch {trainer.batch}; checkpoint saved "
              f"to {stop.path}\nresume with: scratchnet train {args.model} --resume "
              f"{stop.path}", flush=True)
        return 130
    last = history[-1]
    best = max(history, key=lambda r: r["test_acc"])
    images = sum(r["images"] for r in history)
    seconds = sum(r["seconds"] for r in history)
    print(f"done in {_duration(time.perf_counter() - started)} ({images / seconds:.0f} "
          f"training img/s): held-out accuracy {last['test_acc']:.2%} on "
          f"{len(trainer.held_out.dataset):,} images (best {best['test_acc']:.2%} at epoch "
          f"{best['epoch']})\ncheckpoint: {trainer.path}  (scratchnet eval {trainer.path})",
          flush=True)
    return 0


def run_eval(args):
    if args.batch_size < 1:
        raise TrainError(f"--batch-size must be at least 1, got {args.batch_size}")
    ckpt = load_checkpoint(args.checkpoint)
    meta, config = ckpt.meta, ckpt.meta["config"]
    dataset = args.dataset or config["dataset"]
    data_dir = args.data_dir if args.data_dir is not None or dataset != config["dataset"] \
        else meta.get("data_dir")
    _, held_out = _data(meta["model"], dataset, data_dir, config["resize"], augment=False)
    device = _device(args.device)
    model = models.get_model(meta["model"], **meta["model_kwargs"]).to(device)
    _restore_model(model, ckpt, args.checkpoint)
    loss, acc, per_class = evaluate(model, DataLoader(held_out, args.batch_size), device)
    print(f"{meta['model']} after {meta['epoch']} epochs on the {dataset} held-out set "
          f"({len(held_out):,} images): loss {loss:.4f}, accuracy {acc:.2%}")
    names = held_out.classes
    print("per class: " + ", ".join(f"{n} {a:.1%}" for n, a in zip(names, per_class)))
    return 0
