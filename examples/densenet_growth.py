"""DenseNet: how the channels grow inside a dense block, and what memory_efficient saves.

Each dense layer reads the concatenation of the block's input and every earlier layer's
output, and adds k (the growth rate) channels: layer i of a block that starts with c0
channels reads c0 + i·k of them. Kept for backward, those concatenations (and the batch norm
and ReLU applied to them) grow quadratically with the block's depth; ``memory_efficient=True``
keeps only each layer's inputs and recomputes concat, BN, ReLU and the 1x1 conv in backward
(``scratchnet.utils.checkpoint``). This example reads the channel counts from ``summary`` and
measures the peak memory of one training step both ways (NumPy allocations, via tracemalloc).

    python examples/densenet_growth.py [--batch-size 8] [--image-size 128]
"""
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402
from scratchnet.models.densenet import DenseNet  # noqa: E402


def build(smoke, memory_efficient):
    sn.manual_seed(0)
    if smoke:
        return DenseNet(growth_rate=4, block_config=(2, 3), num_init_features=8, num_classes=10,
                        memory_efficient=memory_efficient)
    return sn.models.densenet121(memory_efficient=memory_efficient)


def growth_rows(model, image_size):
    """Per dense block: layers, channels read by its first and last layer, channels out, and
    the elements its concatenated inputs hold per image against those of its new features."""
    s = sn.summary(model, (3, image_size, image_size))
    rows = []
    for b in range(1, 5):
        norm1 = [r for r in s.rows if r.name.startswith(f"features.denseblock{b}.")
                 and r.name.endswith(".norm1")]
        if not norm1:
            break
        conv2 = [r for r in s.rows if r.name.startswith(f"features.denseblock{b}.")
                 and r.name.endswith(".conv2")]
        reads = [r.input_shape[1] for r in norm1]
        k = conv2[0].output_shape[1]
        H, W = norm1[0].input_shape[2:]
        concat = sum(reads) * H * W               # the sum over layers of (c0 + i·k)·H·W
        new = len(conv2) * k * H * W
        rows.append((f"denseblock{b}", len(norm1), k, f"{reads[0]} -> {reads[-1]}",
                     reads[-1] + k, f"{H}x{W}", concat, new, f"{concat / new:.1f}x"))
    return rows


def step_memory(model, x, y):
    """Peak bytes allocated by NumPy during forward + backward, above what was live before.
    Run once per fresh process (see ``measure``): kernels keep scratch buffers between calls,
    and a second measurement in the same process would not see them being allocated."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    F.cross_entropy(model(sn.tensor(x)), sn.tensor(y)).backward()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak, seconds


def measure(args, memory_efficient, batch, size):
    """(peak bytes, seconds, conv0's weight gradient) of one training step, measured in a
    child process of this script so that each setting starts from empty scratch buffers
    (--smoke measures in this process, to stay fast)."""
    if args.smoke:
        rng = np.random.default_rng(args.seed)
        x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
        model = build(True, memory_efficient)
        peak, seconds = step_memory(model, x, rng.integers(0, 10, batch))
        return peak, seconds, model.features.conv0.weight.grad.numpy()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "grad.npy")
        command = [sys.executable, os.path.abspath(__file__), "--child", str(int(memory_efficient)),
                   str(batch), str(size), str(args.seed), out] + (["--smoke"] if args.smoke else [])
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        peak, seconds = result.stdout.split()[-2:]
        return int(peak), float(seconds), np.load(out)


def child(argv):
    """--child MEMORY_EFFICIENT BATCH SIZE SEED OUT [--smoke]: one step, print peak and time."""
    memory_efficient, batch, size, seed = (int(v) for v in argv[1:5])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model = build("--smoke" in argv, bool(memory_efficient))
    peak, seconds = step_memory(model, x, y)
    np.save(argv[5], model.features.conv0.weight.grad.numpy())
    print(peak, seconds)


def main(argv=None):
    def options(p):
        p.add_argument("--batch-size", type=int, default=8)
        p.add_argument("--image-size", type=int, default=128)
    args = _common.parse_args(__doc__.splitlines()[0], argv, options)
    batch, size = (2, 32) if args.smoke else (args.batch_size, args.image_size)

    summary_size = 32 if args.smoke else 224
    rows = growth_rows(build(args.smoke, False), summary_size)
    print(f"Channels inside each dense block (from summary, {summary_size}x{summary_size} "
          "input; elements per image):")
    print(_common.table(rows, ["block", "layers", "k", "channels read (first -> last)",
                               "channels out", "map", "concat inputs (elements)",
                               "new features (elements)", "ratio"]))

    results, grads = [], []
    for memory_efficient in (False, True):
        peak, seconds, grad = measure(args, memory_efficient, batch, size)
        grads.append(grad)
        results.append((f"memory_efficient={memory_efficient}", f"{peak / 2**20:.1f} MiB",
                        round(seconds, 2)))
        print(f"  {results[-1][0]}: peak {results[-1][1]}, {seconds:.2f} s", flush=True)
    saved = 1 - float(results[1][1].split()[0]) / float(results[0][1].split()[0])
    print(f"\nOne training step (forward + backward), batch {batch}, {size}x{size}:")
    print(_common.table(results, ["setting", "peak NumPy memory", "seconds"]))
    print(f"memory_efficient saves {saved:.0%} of the peak; conv0's gradient differs by at most "
          f"{np.abs(grads[0] - grads[1]).max():.2g} between the two")

    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for row in rows:
            first, last = (int(v) for v in row[3].split(" -> "))
            axes[0].plot(range(1, row[1] + 1), np.linspace(first, last, row[1]), marker=".",
                         label=row[0])
        axes[0].set_xlabel("dense layer")
        axes[0].set_ylabel("input channels")
        axes[0].legend()
        axes[1].bar([r[0] for r in results], [float(r[1].split()[0]) for r in results])
        axes[1].set_ylabel("peak MiB, one training step")
        return fig

    _common.save_figure(draw, args.out, "densenet_growth.png")
    return rows, results


if __name__ == "__main__":
    child(sys.argv[1:]) if sys.argv[1:2] == ["--child"] else main()
