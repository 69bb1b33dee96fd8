"""``scratchnet train MODEL [options]``: train a zoo model, checkpointing as it goes.

    scratchnet train lenet5            # the bundled MNIST subset, ~98% held out in a minute
    scratchnet train resnet20 --dataset cifar10 --data-dir ~/data --epochs 30
    scratchnet train alexnet --dataset folder --data-dir ~/photos --num-workers 2
    scratchnet train resnet18 --dataset folder --data-dir ~/photos \
        --init-from resnet18.pth --num-classes 5 --freeze conv1. --freeze layer1.

The work is ``scratchnet.train``'s; this module reads the options, decides where the run
writes (``OUT/last.npz`` after every epoch, ``OUT/best.npz`` for the best held-out accuracy),
shows progress, logs every epoch (``OUT/metrics.jsonl``, ``OUT/curves.png`` with matplotlib,
TensorBoard event files in ``OUT/tb`` with ``--tensorboard``), and turns what can go wrong
into one line and an exit status:

    0    trained to the last epoch (or there was nothing left to do)
    1    the run failed: the loss diverged, or a checkpoint could not be written (the previous
         one is intact); a bug also exits 1, with its traceback
    2    a user error, before any training: options, data, output folder, checkpoint
    128+n  stopped by signal n (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) after saving; a second
         signal quits at once, leaving the last complete checkpoint
"""
import argparse
import contextlib
import importlib.util
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field

from .. import backend, models
from .. import random as _random
from ..data import DataError, pipeline
from ..function import no_grad
from ..tensor import Tensor
from ..train import (ADAM_LR, HYPER, OPTIMIZERS, SCHEDULERS, CheckpointWriteError,
                     Checkpointer, CurvesPlot, DivergedError, Interrupted, MetricsLog,
                     RunDirectory, TensorBoardLog, Trainer, TrainError, freeze,
                     load_checkpoint, load_initial_weights, read_weights, resolve_config,
                     restore)
from ..train.trainer import EVAL_BATCH
from . import data_parallel, threads
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
                        "--data-dir), cifar10 (needs --data-dir), synthetic, or folder (your "
                        "images: DIR/CLASS/*.jpg, or DIR/train and DIR/val)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="directory with the MNIST IDX files, cifar-10-batches-bin, or the "
                        "image folder")
    p.add_argument("--num-workers", type=int, default=0, metavar="N",
                   help="prepare batches (decode images) in N worker processes (default 0: "
                        "one batch ahead on a thread)")
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
    p.add_argument("--resize", type=int, metavar="N",
                   help="resize images to NxN first (folder: shorter side to N, then the "
                        "central NxN; default S*256/224 for a model taking SxS)")
    p.add_argument("--device", choices=backend.DEVICES, default="cpu")
    threads.add_argument(p)
    p.add_argument("--seed", type=int, metavar="N", help="default 0")
    p.add_argument("--out", metavar="DIR", help="default runs/MODEL-DATASET, or the "
                                                "--resume checkpoint's directory")
    p.add_argument("--resume", metavar="PATH", help="continue the run saved in PATH")
    p.add_argument("--allow-data-dir-change", action="store_true",
                   help="let --resume read another --data-dir than the run started with")
    p.add_argument("--init-from", metavar="PATH",
                   help="start from these weights (a scratchnet checkpoint or state_dict .npz, "
                        "or a torch .pth), with a fresh optimizer and schedule")
    p.add_argument("--num-classes", type=int, metavar="N",
                   help="classifier outputs (default: the data's classes); with --init-from, "
                        "replaces the classifier's last layer when its size differs")
    p.add_argument("--freeze", action="append", metavar="PREFIX",
                   help="keep parameters whose name starts with PREFIX fixed (repeatable; "
                        "`scratchnet summary MODEL` lists the names)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files to OUT/tb (needs tensorboardX)")
    p.add_argument("--curves", action=argparse.BooleanOptionalAction, default=True,
                   help="draw OUT/curves.png after every epoch (needs matplotlib)")
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
    num_classes: int = None   # asked for with --num-classes (or the resumed run's)
    num_workers: int = 0
    curves: bool = True
    tensorboard: bool = False
    replaced: list = field(default_factory=list)   # filled by build: classifier layers
    frozen: list = field(default_factory=list)     # replaced, parameters frozen


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
    if args.resume and args.init_from:
        raise CommandError("--init-from starts a new run from some weights and --resume "
                           "continues a run: pass one of them")
    for key in ("num_classes", "num_workers"):
        value = getattr(args, key, None)
        if value is not None and value < (1 if key == "num_classes" else 0):
            raise CommandError(f"--{key.replace('_', '-')} must be at least "
                               f"{1 if key == 'num_classes' else 0}, got {value}")
    if getattr(args, "tensorboard", False) and importlib.util.find_spec("tensorboardX") is None:
        raise CommandError("--tensorboard needs tensorboardX, which is not installed: "
                           "pip install 'scratchnet[tensorboard]'")
    ckpt = load_checkpoint(args.resume, args.model) if args.resume else None
    overrides = {key: getattr(args, key, None) for key in HYPER}
    if overrides.get("init_from"):
        overrides["init_from"] = os.path.abspath(overrides["init_from"])
    config = resolve_config(args.model, overrides, ckpt["config"] if ckpt else None)
    num_classes = getattr(args, "num_classes", None)
    if ckpt is not None:
        saved = ckpt["model_kwargs"].get("num_classes")
        if num_classes is not None and num_classes != saved:
            raise CommandError(f"--num-classes {num_classes} differs from the checkpoint's "
                               f"{saved}: a resumed run keeps its model")
        num_classes = saved
    device = check_device(args.device)
    if config["resize"] is not None:   # refused here, before the output folder is made
        pipeline.check_batch_fits(config["resize"], models.default_input_size(args.model)[0],
                                  max(config["batch_size"], EVAL_BATCH))
    data_dir = _data_dir(args, ckpt)
    out = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume
                       else os.path.join("runs", f"{args.model}-{config['dataset']}"))
    return Plan(args.model, config, data_dir, out, device, ckpt, args.resume, num_classes,
                getattr(args, "num_workers", 0), getattr(args, "curves", True),
                getattr(args, "tensorboard", False))


def build(plan, callbacks=()):
    """The Trainer for ``plan`` (restored when resuming), with ``callbacks`` first, then the
    logs (metrics.jsonl, curves.png, TensorBoard) and a Checkpointer writing into
    ``plan.out``."""
    config = plan.config
    input_size = models.default_input_size(plan.model)
    train_set, held_out = pipeline.build(config["dataset"], input_size, plan.data_dir,
                                         config["resize"], config["augment"],
                                         max(config["batch_size"], EVAL_BATCH))
    _random.manual_seed(config["seed"])
    num_classes = plan.num_classes or len(train_set.classes)
    if num_classes < len(train_set.classes):
        raise CommandError(f"--num-classes {num_classes} is fewer than the "
                           f"{len(train_set.classes)} classes of the data")
    model = models.get_model(plan.model, num_classes=num_classes)
    if plan.checkpoint is None and config["init_from"]:
        plan.replaced = load_initial_weights(model, read_weights(config["init_from"]),
                                             config["init_from"], num_classes,
                                             replace_classifier=plan.num_classes is not None)
    plan.frozen = freeze(model, config["freeze"])
    model.to(plan.device)
    _check_input(plan, model, held_out)
    checkpointer = Checkpointer(plan.out, plan.model, {"num_classes": num_classes},
                                plan.data_dir)
    logs = [MetricsLog(os.path.join(plan.out, "metrics.jsonl"))]
    if plan.curves:
        logs.append(CurvesPlot(os.path.join(plan.out, "curves.png"),
                               f"{plan.model} on {config['dataset']}:"))
    if plan.tensorboard:
        logs.append(TensorBoardLog(os.path.join(plan.out, "tb")))
    # under a launcher: DDP, this rank's share of each batch; rank 0 evaluates, logs, writes
    trainer = Trainer(data_parallel.wrap(model), config, train_set,
                      data_parallel.held_out(held_out), plan.device,
                      callbacks=data_parallel.callbacks([*callbacks, *logs, checkpointer]),
                      num_workers=plan.num_workers,
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
    threads.apply(args)     # before make_plan: a resumed checkpoint compares thread counts
    with contextlib.ExitStack() as stack:
        try:
            plan = make_plan(args)
            if data_parallel.rank() == 0:
                stack.enter_context(RunDirectory(plan.out))
            trainer = build(plan, [console])
        except (TrainError, DataError, ImportError) as err:
            raise CommandError(str(err)) from None
        signals.trainer, signals.stop = trainer, data_parallel.stop_request()
        checkpoint = os.path.join(plan.out, "last.npz")
        if data_parallel.rank() == 0:
            _print_header(plan, trainer)
        if trainer.epoch >= plan.config["epochs"]:
            print(f"nothing to do: {plan.resume} already finished its "
                  f"{plural(plan.config['epochs'], 'epoch')}")
            return 0
        started = time.perf_counter()
        stack.push(lambda kind, *_: _close_logs(trainer, at_once=kind is Quit))
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
        except DataError as err:      # an image that cannot be decoded, found mid-run
            console.close()
            raise RunFailed(f"{err}; {_kept(checkpoint)}") from None
        if data_parallel.rank() == 0:       # the one that evaluated
            _print_summary(trainer, started, checkpoint)
        return 0


def _close_logs(trainer, at_once):
    """However the run ended, the event file is closed and the curves' side process has drawn
    its last (both no-ops after a normal end), or, quitting ``at_once``, is stopped."""
    for callback in trainer.callbacks:
        if isinstance(callback, CurvesPlot) and at_once:
            callback.abandon()
        elif isinstance(callback, (CurvesPlot, TensorBoardLog)):
            callback.close()


def _print_header(plan, trainer):
    config = plan.config
    n_params = sum(int(p.data.size) for p in trainer.model.parameters())
    where = f" from epoch {trainer.epoch + 1}, batch {trainer.batch}" if plan.resume else ""
    warmup = f", warm-up {config['warmup_epochs']}" if config["warmup_epochs"] else ""
    lines = [f"training {plan.model} ({n_params:,} parameters) on "
             f"{pipeline.describe(config['dataset'], plan.data_dir)}{where}",
             f"  {config['optimizer']} lr {config['lr']:g}, batch {config['batch_size']}, "
             f"{plural(config['epochs'], 'epoch')}, schedule {config['scheduler']}{warmup}, "
             f"augment {'on' if config['augment'] else 'off'}, seed {config['seed']}"]
    if config["init_from"] and not plan.resume:
        replaced = f"; new {', '.join(plan.replaced)} for {len(trainer.held_out.dataset.classes)}" \
            f" classes" if plan.replaced else ""
        lines.append(f"  weights from {config['init_from']}{replaced}")
    if plan.frozen:
        kept = sum(int(p.data.size) for p in trainer.model.parameters() if not p.requires_grad)
        lines.append(f"  frozen: {', '.join(config['freeze'])} ({len(plan.frozen)} tensors, "
                     f"{kept:,} parameters)")
    logs = ["metrics.jsonl"]
    for callback in trainer.callbacks:
        if isinstance(callback, CurvesPlot):
            logs.append("curves.png" if callback.unavailable is None
                        else f"no curves.png: {callback.unavailable}")
        if isinstance(callback, TensorBoardLog):
            logs.append("TensorBoard in tb/")
    lines.append(f"  logs in {plan.out}: {', '.join(logs)}")
    if data_parallel.active():
        lines.append(data_parallel.describe())
    print("\n".join(lines), flush=True)


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _print_summary(trainer, started, checkpoint):
    history = trainer.history
    last = history[-1]
    best = max(history, key=lambda r: r["test_acc"])
    images = sum(r["images"] for r in history)
    seconds = sum(r["seconds"] for r in history)
    best_path = os.path.join(os.path.dirname(checkpoint), "best.npz")
    top5 = f", top-5 {last['test_top5']:.2%}" if "test_top5" in last else ""
    print(f"done in {duration(time.perf_counter() - started)} ({images / seconds:.0f} "
          f"training img/s): held-out accuracy {last['test_acc']:.2%}{top5} on "
          f"{len(trainer.held_out.dataset):,} images (best {best['test_acc']:.2%} at epoch "
          f"{best['epoch']}: {best_path})\ncheckpoint: {checkpoint}  (scratchnet eval "
          f"{checkpoint})", flush=True)
    for callback in trainer.callbacks:
        if isinstance(callback, CurvesPlot) and callback.error:
            print(f"scratchnet train: warning: curves.png could not be drawn: "
                  f"{callback.error.splitlines()[-1]}", file=sys.stderr)


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
    if backend.device(device).type == "cuda":       # "cuda" or "cuda:1"
        try:
            backend.cupy_module()
        except RuntimeError as err:   # says which piece (CuPy, driver, GPU) is missing
            raise CommandError(str(err)) from None
    return device

