"""Training curves as a PNG: loss and accuracy by epoch, train and held out.

Runs as a script too (``python curves.py PATH TITLE``), which is how ``CurvesPlot`` uses it: a
side process, at low priority, that reads the run's history as one JSON line per epoch on its
standard input and redraws PATH from the latest line it has (older ones waiting behind it are
skipped), so drawing never holds up training. It spends at most 2.5% of the run's time
drawing (``DRAWING_BUDGET``): with epochs of a minute every epoch is drawn, with epochs of
2 seconds (the bundled LeNet-5 job) only some, and the last one always. It imports nothing
from scratchnet, only matplotlib (optional: ``pip install matplotlib``).
"""
import json
import os
import sys


def draw_curves(history, path, title=""):
    """Draw ``history`` (the trainer's per-epoch records) to ``path``, atomically (a viewer
    never sees half a file). Raises ImportError without matplotlib."""
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    from matplotlib.figure import Figure      # no pyplot: no global figure registry
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, style, label in (("train", "-", "train"), ("test", "--", "held out")):
        if all(f"{key}_loss" in r for r in history):
            ax_loss.plot(epochs, [r[f"{key}_loss"] for r in history], style, marker=".",
                         label=label)
            ax_acc.plot(epochs, [100 * r[f"{key}_acc"] for r in history], style, marker=".",
                        label=label)
    if all("test_top5" in r for r in history):
        ax_acc.plot(epochs, [100 * r["test_top5"] for r in history], ":", marker=".",
                    label="held out, top-5")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=f"{title} loss".strip())
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title} accuracy".strip())
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.91, wspace=0.22)
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")   # CurvesPlot.abandon
    # knows this name
    try:
        fig.savefig(temporary, dpi=100, format="png")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


# the side process spends at most this fraction of the run's time drawing (its own CPU time,
# the matplotlib import included): on 2 cores it then costs the run about half of that
DRAWING_BUDGET = 0.025


def _redraws(fd, budget=DRAWING_BUDGET):
    """Yield the lines to draw from ``fd``: the newest one whenever the drawing budget allows
    (older lines waiting behind it are skipped), and always the last one, at end of file."""
    import select
    import time
    started, allowed_at = time.monotonic(), 0.0
    pending, latest, eof = b"", None, False
    while not eof:
        wait = None if latest is None else max(0.0, allowed_at - time.monotonic())
        if os.name == "nt" or select.select([fd], [], [], wait)[0]:
            chunk = os.read(fd, 1 << 16)
            eof = not chunk
            *lines, pending = (pending + chunk).split(b"\n")
            latest = next((line for line in reversed(lines) if line.strip()), latest)
        if latest is not None and (eof or os.name == "nt" or time.monotonic() >= allowed_at):
            before = time.process_time()
            yield latest
            latest, cost = None, time.process_time() - before
            allowed_at = started + (time.process_time() + cost) / budget   # room for the next


def main(argv):
    path, title = argv
    try:                         # run only on a core nothing else wants: training comes first
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        if hasattr(os, "nice"):
            os.nice(19)
    for line in _redraws(sys.stdin.fileno()):
        draw_curves(json.loads(line), path, title)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
