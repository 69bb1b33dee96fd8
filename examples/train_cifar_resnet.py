"""Train a small ResNet (resnet20, ResNet paper section 4.2: 0.27 M parameters) on CIFAR-10.

    python examples/train_cifar_resnet.py --data-dir ~/data      # has cifar-10-batches-bin
    python examples/train_cifar_resnet.py                        # no CIFAR: synthetic data
    python examples/train_cifar_resnet.py --smoke                # 64 images, 1 epoch

With --data-dir it trains on the 50,000 CIFAR-10 training images (random shifts, flips and
PCA colour jitter) and reports accuracy on the 10,000 test images. Without it, it runs the same
code on the synthetic set (grey 28x28 templates, padded and repeated to 3x32x32): a check that
the loop learns (held-out accuracy near 100% after a few epochs), not a CIFAR-10 result. Its
512 images go in batches of 32 (not 128), so that batch norm's running statistics, which
evaluation uses, have settled after 48 steps; with 4 steps an epoch they are mostly their
initial values and the held-out loss reads in the hundreds. Each epoch is written to
OUT/last.npz and OUT/metrics.jsonl; when matplotlib is installed the training curves go to
OUT/curves.png.

On 2 CPU cores one CIFAR-10 epoch of resnet20 takes many minutes: start with a few epochs
(--epochs 3). The paper's 91.25% test accuracy took 64,000 iterations of batch 128 (about 160
epochs), a job for a GPU (--device cuda, with CuPy). Ctrl-C saves a checkpoint; `scratchnet
eval OUT/last.npz` re-measures it.
"""
import argparse
import os

from scratchnet import models, train
from scratchnet import random as sn_random
from scratchnet.cli.console import ConsoleReport
from scratchnet.cli.signals import StopOnSignals
from scratchnet.data import ImageDataset, pipeline

SYNTHETIC_BATCH = 32     # 16 steps an epoch on the 512 synthetic images (see above)


def parse_args(argv, description, default_epochs):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", help="directory with cifar-10-batches-bin (else synthetic)")
    p.add_argument("--epochs", type=int, default=default_epochs)
    p.add_argument("--batch-size", type=int,
                   help="default 128 on CIFAR-10, 32 on the synthetic set")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", help="output directory (default runs/example-MODEL)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true",
                   help="one epoch on 64 synthetic images: checks that everything runs")
    return p.parse_args(argv)


def run(name, build_model, args):
    """Train build_model(num_classes) with the `scratchnet train` loop; returns the history."""
    dataset = "cifar10" if args.data_dir and not args.smoke else "synthetic"
    batch_size = args.batch_size or (128 if dataset == "cifar10" else SYNTHETIC_BATCH)
    epochs, batch_size = (1, 32) if args.smoke else (args.epochs, batch_size)
    config = {**train.DEFAULT_RECIPE, "dataset": dataset, "epochs": epochs,
              "batch_size": batch_size, "lr": args.lr, "warmup_epochs": 1 if epochs > 1 else 0,
              "seed": args.seed}
    train_set, held_out = pipeline.build(dataset, (3, 32, 32), args.data_dir)
    if args.smoke:
        train_set, held_out = _first(train_set, 64), _first(held_out, 32)
    out = args.out or os.path.join("runs", f"example-{name}")
    os.makedirs(out, exist_ok=True)
    sn_random.manual_seed(config["seed"])
    model = build_model(len(train_set.classes)).to(args.device)
    n_params = sum(int(p.data.size) for p in model.parameters())
    print(f"{name}: {n_params:,} parameters, {pipeline.describe(dataset, args.data_dir)}, "
          f"{len(train_set):,} training / {len(held_out):,} held-out images")
    if dataset == "synthetic":
        print(f"  synthetic: 10 noisy random templates, a check that training works (expect "
              f"close to 100% held out), not a CIFAR-10 result; batch {batch_size}, "
              f"{len(train_set) // batch_size} steps an epoch, so that batch norm's running "
              "statistics (what evaluation uses) settle")
    checkpointer = train.Checkpointer(out, name, data_dir=args.data_dir)
    callbacks = [ConsoleReport(progress=not args.smoke),
                 train.MetricsLog(os.path.join(out, "metrics.jsonl")), checkpointer]
    if not args.smoke:
        callbacks.insert(2, train.CurvesPlot(os.path.join(out, "curves.png"), f"{name}:"))
    trainer = train.Trainer(model, config, train_set, held_out, args.device,
                            callbacks=callbacks)
    with StopOnSignals() as signals:     # Ctrl-C: save after this batch, then stop
        signals.trainer = trainer
        try:
            history = trainer.fit()
        except train.Interrupted:
            print(f"stopped; checkpoint in {checkpointer.last}")
            history = trainer.history
    for callback in callbacks:
        if isinstance(callback, train.CurvesPlot):
            callback.close()
            print(f"training curves: {callback.path}" if callback.unavailable is None
                  else f"no curves: {callback.unavailable}")
    return history


def _first(dataset, n):
    return ImageDataset(dataset.images[:n], dataset.labels[:n], dataset.transform,
                        dataset.classes)


def main(argv=None):
    args = parse_args(argv, "Train resnet20 on CIFAR-10 (synthetic data without --data-dir).",
                      default_epochs=3)
    return run("resnet20", lambda n: models.get_model("resnet20", num_classes=n), args)


if __name__ == "__main__":
    main()
