"""``scratchnet eval CHECKPOINT``: held-out loss and accuracy of a training checkpoint."""
from .. import backend, models
from ..data import DataError, DataLoader, pipeline
from ..train import TrainError, evaluate, load_checkpoint, load_model
from .errors import CommandError
from .train import check_device


def add_parser(subparsers):
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
    p.set_defaults(run=run)


def run(args):
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        ckpt = load_checkpoint(args.checkpoint)
        model = load_model(ckpt, args.checkpoint, check_device(args.device))
        config = ckpt["config"]
        dataset = args.dataset or config["dataset"]
        data_dir = args.data_dir if args.data_dir is not None or dataset != config["dataset"] \
            else ckpt["data_dir"]
        _, held_out = pipeline.build(dataset, models.default_input_size(ckpt["model_name"]),
                                     data_dir, config["resize"], augment=False,
                                     batch_size=args.batch_size)
    except (TrainError, DataError) as err:
        raise CommandError(str(err)) from None
    result = evaluate(model, DataLoader(held_out, args.batch_size), args.device)
    print(f"{ckpt['model_name']} after {ckpt['epoch']} epochs on the {dataset} held-out set "
          f"({len(held_out):,} images): loss {result['loss']:.4f}, "
          f"accuracy {result['accuracy']:.2%}")
    per_class = result["per_class_accuracy"]
    print("per class: " + ", ".join(f"{n} {a:.1%}" for n, a in zip(held_out.classes,
                                                                    per_class)))
    return 0
