"""``scratchnet train MODEL [options]``: train a zoo model, checkpointing as it goes.

    scratchnet train lenet5            # the bundled MNIST subset, ~98% held out in a minute
    scratchnet train resnet20 --dataset cifar10 --data-dir ~/data --epochs 30

The work is ``scratchnet.train``'s; this module reads the options, decides where the run
writes (``OUT/last.npz`` after every epoch, ``OUT/best.npz`` for the best held-out accuracy),
shows progress, and turns what can go wrong into one line and an exit status:

    0    trained to the last epoch (or there was nothing left to do)
    1    the run failed: the loss diverged, or a checkpoint could not be written (the previous
         one is intact); a bug also exits 1, with its traceback
    2    a user error, before any training: options, data, output folder, checkpoint
    128+n  stopped by signal n (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) after saving; a second
         signal quits at once, leaving the last complete checkpoint
"""
import argparse
import contextlib
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass

from .. import backend, models
from .. import random as _random
from ..data import DataError, pipeline
from ..function import no_grad
from ..tensor import Tensor
from ..train import (ADAM_LR, HYPER, OPTIMIZERS, SCHEDULERS, CheckpointWriteError,
                     Checkpointer, DivergedError, Interrupted, RunDirectory, Trainer,
                     TrainError, load_checkpoint, resolve_config, restore)
from ..train.trainer import EVAL_BATCH
from . import data_parallel
from .console import ConsoleReport, duration
from .signals import Quit, StopOnSignals
from .errors import CommandError, RunFailed


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train a zoo model (LeNet-5 on the bundled MNIST subset by default)",
        description="Train MODEL, printing a progress bar per epoch, a line per epoch with "
                    "train and held-out accuracy, and a summary; a checkpoint is written to "
                    "OUT/last.npz after every epoch and on Ctrl-C, SIGTERM or SIGHUP, and to "
                    "OUT/best.npz when held-out accuracy improves. Options left out take the "
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
    p.add_argument("--allow-data-dir-change", action="store_true",
                   help="let --resume read another --data-dir than the run started with")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (the per-epoch lines remain)")
    p.set_defaults(run=run)


@dataclass
class Plan:
    """What a ``train`` command line asks for, checked before any data is read."""
    model: str
    config: dict
    data_dir: str       # absolute, or None for the bundled and synthetic sets
    out: str
    device: str
    checkpoint: dict = None   # the run to resume, and where it was read from
    resume: str = None


def run(args):
    data_parallel.join(args.device)
    with data_parallel.rank_0_prints(), StopOnSignals() as signals:
        try:
            return data_parallel.finish(_train(args, signals))
        except CommandError as err:
            data_parallel.fail(err)
        except Quit as quit:
            if signals.trainer is None:
                print("interrupted before training started: nothing saved", file=sys.stderr)
            elif data_parallel.rank() == 0:
                last = next(c.last for c in signals.trainer.callbacks
                            if isinstance(c, Checkpointer))
                print(f"quit at once: {_kept(last)}", file=sys.stderr)
            return data_parallel.finish(128 + quit.signum)


def make_plan(args):
    """The Plan for parsed arguments; TrainError or CommandError for a user error."""
    if args.model not in models.list_models():
        raise CommandError(f"unknown model {args.model!r}; known models: "
                           f"{', '.join(models.list_models())}")
    ckpt = load_checkpoint(args.resume, args.model) if args.resume else None
    overrides = {key: getattr(args, key, None) for key in HYPER}
    config = resolve_config(args.model, overrides, ckpt["config"] if ckpt else None)
    device = check_device(args.device)
    if config["resize"] is not None:   # refused here, before the output folder is made
        pipeline.check_batch_fits(config["resize"], models.default_input_size(args.model)[0],
                                  max(config["batch_size"], EVAL_BATCH))
    data_dir = _data_dir(args, ckpt)
    out = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume
                       else os.path.join("runs", f"{args.model}-{config['dataset']}"))
    return Plan(args.model, config, data_dir, out, device, ckpt, args.resume)


def build(plan, callbacks=()):
    """The Trainer for ``plan`` (restored when resuming), with a Checkpointer writing into
    ``plan.out`` ahead of ``callbacks``."""
    config = plan.config
    input_size = models.default_input_size(plan.model)
    train_set, held_out = pipeline.build(config["dataset"], input_size, plan.data_dir,
                                         config["resize"], config["augment"],
                                         max(config["batch_size"], EVAL_BATCH))
    _random.manual_seed(config["seed"])
    num_classes = len(train_set.classes)
    model = models.get_model(plan.model, num_classes=num_classes).to(plan.device)
    _check_input(plan, model, held_out)
    checkpointer = Checkpointer(plan.out, plan.model, {"num_classes": num_classes},
                                plan.data_dir)
    # under a launcher: DDP, this rank's share of each batch, rank 0 evaluates and writes
    trainer = Trainer(data_parallel.wrap(model), config, train_set,
                      data_parallel.held_out(held_out), plan.device,
                      callbacks=data_parallel.callbacks([*callbacks, checkpointer]),
                      sampler=data_parallel.sampler(train_set, config, plan.resume))
    if plan.checkpoint is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            restore(trainer, plan.checkpoint, plan.resume)
        for warning in caught if data_parallel.rank() == 0 else ():
            print(f"scratchnet train: warning: {warning.message}", file=sys.stderr)
    return trainer


def _check_input(plan, model, held_out):
    """One held-out image through the model (eval mode, no graph, no random draw): a size the
    model cannot take (--resize too small) fails here, before training, naming the layer."""
    image = held_out.get(0)[0]
    try:
        with no_grad():
            model.eval()
            model(Tensor(backend.to_device(image[None], plan.device)))
    except ValueError as err:
        raise CommandError(f"{plan.model} cannot take the {'x'.join(map(str, image.shape))} "
                           f"images of this run: {err}") from None
    finally:
        model.train()


def prepare(args, callbacks=()):
    """The Trainer a parsed ``train`` command line describes (no lock on its folder)."""
    return build(make_plan(args), callbacks)


def _train(args, signals):
    console = ConsoleReport(args.progress)
    with contextlib.ExitStack() as stack:
        try:
            plan = make_plan(args)
            if data_parallel.rank() == 0:
                stack.enter_context(RunDirectory(plan.out))
            trainer = build(plan, [console])
        except (TrainError, DataError) as err:
            raise CommandError(str(err)) from None
        signals.trainer, signals.stop = trainer, data_parallel.stop_request()
        checkpoint = os.path.join(plan.out, "last.npz")
        _print_header(plan, trainer)
        if trainer.epoch >= plan.config["epochs"]:
            print(f"nothing to do: {plan.resume} already finished its "
                  f"{plan.config['epochs']} epochs")
            return 0
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                # NumPy's overflow warnings on a diverging run: the trainer stops on the first
                # non-finite loss, and that one line says it all
                warnings.simplefilter("ignore", RuntimeWarning)
                trainer.fit()
        except Interrupted:
            console.close()
            print(f"stopped at epoch {trainer.epoch + 1}, batch {trainer.batch}; checkpoint "
                  f"saved to {checkpoint}\nresume with: scratchnet train {plan.model} "
                  f"--resume {checkpoint}", flush=True)
            return 128 + (signals.signum or signal.SIGINT)   # or a callback's stop
        except DivergedError as err:
            console.close()
            raise RunFailed(f"{err}: the run diverged; try a lower --lr (this run's is "
                            f"{plan.config['lr']:g}); {_kept(checkpoint)}") from None
        except CheckpointWriteError as err:
            console.close()
            raise RunFailed(f"{err}; {_kept(checkpoint)}") from None
        if data_parallel.rank() == 0:       # the one that evaluated
            _print_summary(trainer, started, checkpoint)
        return 0


def _print_header(plan, trainer):
    config = plan.config
    n_params = sum(int(p.data.size) for p in trainer.model.parameters())
    where = f" from epoch {trainer.epoch + 1}, batch {trainer.batch}" if plan.resume else ""
    warmup = f", warm-up {config['warmup_epochs']}" if config["warmup_epochs"] else ""
    print(f"training {plan.model} ({n_params:,} parameters) on "
          f"{pipeline.describe(config['dataset'], plan.data_dir)}{where}\n"
          f"  {config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}, "
          f"{config['epochs']} epochs, schedule {config['scheduler']}{warmup}, "
          f"augment {'on' if config['augment'] else 'off'}, seed {config['seed']}\n"
          f"{data_parallel.describe()}", end="", flush=True)


def _print_summary(trainer, started, checkpoint):
    history = trainer.history
    last = history[-1]
    best = max(history, key=lambda r: r["test_acc"])
    images = sum(r["images"] for r in history)
    seconds = sum(r["seconds"] for r in history)
    best_path = os.path.join(os.path.dirname(checkpoint), "best.npz")
    print(f"done in {duration(time.perf_counter() - started)} ({images / seconds:.0f} "
          f"training img/s): held-out accuracy {last['test_acc']:.2%} on "
          f"{len(trainer.held_out.dataset):,} images (best {best['test_acc']:.2%} at epoch "
          f"{best['epoch']}: {best_path})\ncheckpoint: {checkpoint}  (scratchnet eval "
          f"{checkpoint})", flush=True)


def _kept(checkpoint):
    if os.path.exists(checkpoint):
        return f"the last complete checkpoint, {checkpoint}, is intact"
    return "no checkpoint was written"


def _data_dir(args, ckpt):
    """The run's data folder (absolute): a resumed run keeps its own unless
    --allow-data-dir-change lets it read another, which is then said."""
    given = None if args.data_dir is None else os.path.abspath(args.data_dir)
    if ckpt is None:
        return given
    saved = ckpt["data_dir"]
    if given is None or (saved is not None and
                         os.path.realpath(given) == os.path.realpath(saved)):
        return saved
    was = saved or f"the built-in {ckpt['config']['dataset']} set"
    if not args.allow_data_dir_change:
        raise CommandError(f"--data-dir {args.data_dir} differs from the checkpoint's "
                           f"{was}: a resumed run reads the data it started with (pass "
                           "--allow-data-dir-change to resume on the new folder anyway)")
    print(f"scratchnet train: warning: resuming on {given} instead of {was} "
          "(--allow-data-dir-change)", file=sys.stderr)
    return given


def check_device(device):
    if device == "cuda":
        try:
            backend.cupy_module()
        except RuntimeError as err:   # says which piece (CuPy, driver, GPU) is missing
            raise CommandError(str(err)) from None
    return device

