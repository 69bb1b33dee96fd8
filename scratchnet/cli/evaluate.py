"""``scratchnet eval CHECKPOINT [CHECKPOINT ...]``: a checkpoint measured as the papers did.

    scratchnet eval runs/lenet5-mnist/last.npz                       # centre crop
    scratchnet eval runs/alexnet-folder/best.npz --tta ten-crop      # AlexNet's ten crops
    scratchnet eval a/last.npz b/last.npz c/last.npz                 # an ensemble of three

Prints loss, accuracy, top-1 and top-5 error (top-5 for more than 5 classes) of the plain
centre crop and, with ``--tta``, of the softmax averaged over the test-time views; with
several checkpoints, each member's and the ensemble's (softmax averaged over the members,
which may be different models trained on the same data). Then the confusion matrix and
per-class precision and recall of the final predictions (the ensemble's, with the views),
and with ``--confusion-png PATH`` the matrix as a picture (matplotlib).
"""
import os

import numpy as np

from .. import backend, evaluation, models
from ..data import DataError, DataLoader, pipeline
from ..train import TrainError, load_checkpoint, load_model
from . import threads
from .errors import CommandError
from .train import check_device, plural

PRINT_MATRIX_UP_TO = 20      # classes: a larger confusion matrix goes to the PNG only
PRINT_CLASSES_UP_TO = 30     # classes: beyond, per-class lines for the 10 lowest recalls only


def add_parser(subparsers):
    p = subparsers.add_parser(
        "eval", help="top-1/top-5 error of checkpoints: test-time crops, ensembles",
        description="Load CHECKPOINT(s) written by `scratchnet train` and report loss, "
                    "accuracy, top-1 and top-5 error on the held-out set: centre crop, and "
                    "with --tta the average over test-time views; several checkpoints are "
                    "an ensemble (softmax averaged). Then the confusion matrix and per-class "
                    "precision and recall.")
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT")
    p.add_argument("--dataset", choices=list(pipeline.DATASETS),
                   help="default: the one the checkpoint was trained on")
    p.add_argument("--data-dir", metavar="DIR")
    p.add_argument("--tta", choices=evaluation.TTA_MODES, default="none",
                   help="test-time augmentation: flip (centre crop and its mirror image), "
                        "five-crop (four corners and centre) or ten-crop (those and their "
                        "mirror images, AlexNet's), softmax averaged (default none)")
    p.add_argument("--crop", type=int, metavar="N",
                   help="size of the test-time crops (default: the model's input size)")
    p.add_argument("--resize", type=int, metavar="N",
                   help="resize held-out images to NxN before cropping (default: the "
                        "checkpoint's; folder images: shorter side N, central NxN)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N")
    p.add_argument("--num-workers", type=int, default=0, metavar="N",
                   help="prepare batches in N worker processes")
    p.add_argument("--device", choices=backend.DEVICES, default="cpu")
    threads.add_argument(p)
    p.add_argument("--confusion-png", metavar="PATH",
                   help="also draw the confusion matrix to PATH (needs matplotlib)")
    p.set_defaults(run=run)


def run(args):
    for key, low in (("batch_size", 1), ("num_workers", 0), ("crop", 1), ("resize", 1)):
        value = getattr(args, key)
        if value is not None and value < low:
            raise CommandError(f"--{key.replace('_', '-')} must be at least {low}, got {value}")
    threads.apply(args)
    device = check_device(args.device)
    try:
        members = [_member(path, args, device) for path in args.checkpoints]
    except (TrainError, DataError) as err:
        raise CommandError(str(err)) from None
    _same_data(members)
    first = members[0]
    print(f"held-out set: {pipeline.describe(first['dataset'], first['data_dir'])}, "
          f"{len(first['held_out']):,} images, {len(first['classes'])} classes")
    results = []
    for i, m in enumerate(members, 1):
        try:
            p = evaluation.predict(m["model"], DataLoader(m["held_out"], args.batch_size,
                                                          num_workers=args.num_workers),
                                   args.tta, m["crop"], device)
        except ValueError as err:     # a crop larger than the images
            raise CommandError(f"{m['path']}: {err}") from None
        results.append(p)
        name = f"member {i}: " if len(members) > 1 else ""
        print(f"{name}{m['name']} after {plural(m['epochs'], 'epoch')} ({m['path']})")
        _print_scores(p, args.tta, m["crop"])
    final = results[0]
    if len(results) > 1:
        try:
            final = evaluation.ensemble(results)
        except ValueError as err:
            raise CommandError(str(err)) from None
        print(f"ensemble of {len(results)} (softmax averaged over the members)")
        _print_scores(final, args.tta, None)
    _print_classes(final, first["classes"])
    if args.confusion_png:
        matrix = evaluation.confusion_matrix(final.labels, final.probs.argmax(axis=1),
                                             len(first["classes"]))
        try:
            evaluation.plot_confusion_matrix(matrix, first["classes"], args.confusion_png,
                                             title=_title(members, args.tta))
        except ImportError as err:
            raise CommandError(str(err)) from None
        print(f"confusion matrix drawn to {args.confusion_png}")
    return 0


def _member(path, args, device):
    """One checkpoint: its model, and its held-out set built as it was trained, without the
    final crop (``predict`` takes the crops)."""
    ckpt = load_checkpoint(path)
    model = load_model(ckpt, path, device)
    config = ckpt["config"]
    dataset = args.dataset or config["dataset"]
    data_dir = args.data_dir if args.data_dir is not None or dataset != config["dataset"] \
        else ckpt["data_dir"]
    input_size = models.default_input_size(ckpt["model_name"])
    resize = args.resize if args.resize is not None else config["resize"]
    _, held_out = pipeline.build(dataset, input_size, data_dir, resize, augment=False,
                                 batch_size=args.batch_size, held_out_crop=False)
    crop = (args.crop, args.crop) if args.crop is not None else tuple(input_size[1:])
    return dict(path=path, name=ckpt["model_name"], epochs=ckpt["epoch"], model=model,
                dataset=dataset, data_dir=data_dir and os.path.abspath(data_dir),
                held_out=held_out, classes=list(held_out.classes), crop=crop)


def _same_data(members):
    first = members[0]
    for m in members[1:]:
        if (m["dataset"], m["data_dir"]) != (first["dataset"], first["data_dir"]):
            raise CommandError(
                f"the members were trained on different data ({first['path']}: "
                f"{pipeline.describe(first['dataset'], first['data_dir'])}; {m['path']}: "
                f"{pipeline.describe(m['dataset'], m['data_dir'])}): pass --dataset and "
                "--data-dir to evaluate them all on the same set")
        if m["classes"] != first["classes"] or len(m["held_out"]) != len(first["held_out"]):
            raise CommandError(f"{m['path']} sees other classes or images than "
                               f"{first['path']}: an ensemble's members share one data set")


def _print_scores(p, tta, crop):
    size = "" if crop is None else f" {crop[0]}x{crop[1]}"
    print("  " + _scores(f"centre crop{size}", p.centre, p.labels))
    if tta != "none":
        print("  " + _scores(f"{tta}{size} ({evaluation.VIEWS[tta]} views)", p.probs,
                             p.labels))


def _scores(label, probs, labels):
    loss = evaluation.Predictions(probs, probs, labels).loss
    top1 = evaluation.topk_error(probs, labels, 1)
    line = f"{label:<26} loss {loss:.4f}  accuracy {1 - top1:6.2%}  top-1 error {top1:6.2%}"
    if probs.shape[1] > 5:
        line += f"  top-5 error {evaluation.topk_error(probs, labels, 5):6.2%}"
    return line


def _print_classes(p, classes):
    matrix = evaluation.confusion_matrix(p.labels, p.probs.argmax(axis=1), len(classes))
    precision, recall = evaluation.precision_recall(matrix)
    names = [str(c) for c in classes]
    if len(classes) <= PRINT_MATRIX_UP_TO:
        width = max(4, max(len(n) for n in names), len(str(matrix.max())))
        print("confusion matrix (rows: true class, columns: predicted):")
        print(" " * (width + 1) + " ".join(f"{n[:width]:>{width}}" for n in names))
        for name, row in zip(names, matrix):
            print(f"{name[:width]:>{width}} " + " ".join(f"{v:>{width}}" for v in row))
    else:
        print(f"confusion matrix: {len(classes)} classes, too many to print "
              "(--confusion-png draws it)")
    order = range(len(classes))
    if len(classes) > PRINT_CLASSES_UP_TO:
        order = np.argsort(np.nan_to_num(recall, nan=2.0), kind="stable")[:10]
        print("the 10 classes of lowest recall:")
    width = max(5, max(len(n) for n in names))
    print(f"{'class':<{width}}  precision  recall  images")
    for c in order:
        print(f"{names[c]:<{width}}  {_percent(precision[c]):>9}  {_percent(recall[c]):>6}  "
              f"{int(matrix[c].sum()):>6,}")
    print(f"{'mean':<{width}}  {_percent(np.nanmean(precision)):>9}  "
          f"{_percent(np.nanmean(recall)):>6}")


def _percent(x):
    return "n/a" if np.isnan(x) else f"{x:.1%}"


def _title(members, tta):
    names = " + ".join(m["name"] for m in members)
    return f"{names}, {tta if tta != 'none' else 'centre crop'}"
