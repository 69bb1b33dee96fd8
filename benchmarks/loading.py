"""Data loading beside training: can the DataLoader's workers feed AlexNet at 224?

Without --data-dir it first writes a folder of JPEGs like photographs (500x375, ImageNet's
typical size: smooth colour fields plus grain, quality 90; 3 classes). Then, each in a fresh
process, median of --repeat rounds after a warm-up:

    loading    images/s of the training pipeline alone (Pillow decode, shorter side 256,
               central 256x256, random 224 crop, flip, normalise, collate into batches),
               with 0 and with --workers worker processes (started every epoch, as in
               `scratchnet train`); a round is one pass over the folder
    training   images/s of AlexNet training steps at 224 on one in-memory batch (forward,
               cross-entropy, backward, SGD with momentum): the rate loading must beat
    fed        images/s of the same steps fed by the loader with --workers workers, so the
               workers and the training threads share the cores as they do in a real run

    python benchmarks/loading.py                    # 2 threads, 2 workers, batch 32
    python benchmarks/loading.py --data-dir ~/photos --workers 4
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _harness import blas_line, reexec_clean, set_threads

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

import numpy as np  # noqa: E402


def write_photos(root, per_class, seed=0):
    """``per_class`` 500x375 JPEGs in each of 3 class folders: a 6x8 grid of random colours
    smoothed by a bicubic resize (large soft shapes, as in a photograph) plus grain."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for c in range(3):
        os.makedirs(os.path.join(root, f"class{c}"), exist_ok=True)
        for i in range(per_class):
            coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            smooth = np.asarray(Image.fromarray(coarse).resize((500, 375), Image.BICUBIC))
            grain = rng.normal(0, 8, smooth.shape)
            pixels = np.clip(smooth + grain, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(os.path.join(root, f"class{c}", f"{i}.jpg"),
                                         quality=90)


def _pipeline(data_dir):
    from scratchnet.data import pipeline
    train, _ = pipeline.build("folder", (3, 224, 224), data_dir)   # R = 256, crops of 224
    return train


def _steps(batch_size):
    """AlexNet, its optimizer, and a step function on a batch."""
    import scratchnet as sn
    import scratchnet.functional as F
    from scratchnet import models, optim
    sn.manual_seed(0)
    model = models.get_model("alexnet", num_classes=3)
    opt = optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def step(x, y):
        loss = F.cross_entropy(model(sn.tensor(x)), sn.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def measure(mode, args):
    """Median images/s of ``mode`` (loading-N, training, fed), in this process."""
    from scratchnet.data import DataLoader
    set_threads(args.threads)
    rates = []
    if mode.startswith("loading"):
        workers = int(mode.split("-")[1])
        loader = DataLoader(_pipeline(args.data_dir), args.batch_size, shuffle=True, seed=0,
                            num_workers=workers, prefetch=workers == 0)
        for r in range(args.repeat + 1):
            start, seen = time.perf_counter(), 0
            for x, _ in loader:
                seen += len(x)
            if r:                                                 # round 0 is the warm-up
                rates.append(seen / (time.perf_counter() - start))
        return float(np.median(rates))
    step = _steps(args.batch_size)
    if mode == "training":
        x = np.random.default_rng(0).standard_normal((args.batch_size, 3, 224, 224))
        x, y = x.astype(np.float32), np.arange(args.batch_size) % 3
        for r in range(args.repeat + 1):
            start = time.perf_counter()
            step(x, y)
            if r:
                rates.append(args.batch_size / (time.perf_counter() - start))
        return float(np.median(rates))
    loader = DataLoader(_pipeline(args.data_dir), args.batch_size, shuffle=True, seed=0,
                        num_workers=args.workers)
    for r in range(2):                                            # a warm-up epoch, then one
        start, seen = time.perf_counter(), 0
        for b, (x, y) in enumerate(loader):
            step(x, y)
            if b == 0:                                            # past the workers' start
                start, seen = time.perf_counter(), 0
            else:
                seen += len(x)
        rates.append(seen / (time.perf_counter() - start))
    return rates[-1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="an image folder (default: write one to a temp dir)")
    p.add_argument("--per-class", type=int, default=64, help="images per class written")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(measure(args.mode, args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.data_dir is None:
            args.data_dir = tmp
            write_photos(tmp, args.per_class)
            print(f"images: {3 * args.per_class} JPEGs of 500x375 (synthetic photographs)")
        print(f"{blas_line()}; {args.threads} threads; batch {args.batch_size}; median of "
              f"{args.repeat}")
        rates = {}
        for mode in ("loading-0", f"loading-{args.workers}", "training", "fed"):
            cmd = [sys.executable, sys.argv[0], "--mode", mode, "--data-dir", args.data_dir,
                   "--workers", str(args.workers), "--batch-size", str(args.batch_size),
                   "--threads", str(args.threads), "--repeat", str(args.repeat)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
            if done.returncode or not lines:
                raise RuntimeError(f"{mode} failed:\n{done.stderr[-2000:]}")
            rates[mode] = json.loads(lines[-1][len("RESULT "):])
        load, train = rates[f"loading-{args.workers}"], rates["training"]
        print(f"loading, AlexNet's training pipeline:  0 workers {rates['loading-0']:7.1f} "
              f"img/s   {args.workers} workers {load:7.1f} img/s")
        print(f"training AlexNet at 224 (in-memory batch):          {train:7.1f} img/s")
        print(f"training fed by {args.workers} workers:                       "
              f"{rates['fed']:7.1f} img/s")
        verdict = "outpaces" if load > train else "does NOT outpace"
        print(f"loading with {args.workers} workers {verdict} training: {load / train:.1f}x; "
              f"fed training runs at {rates['fed'] / train:.0%} of the in-memory rate")


if __name__ == "__main__":
    main()
