"""What ``scratchnet train`` shows while it runs: a progress bar per epoch on stderr (tqdm)
and one line per epoch on stdout, both fed by the trainer's callbacks."""
import sys

from ..train import Callback


class ConsoleReport(Callback):
    """A tqdm bar per epoch (loss, accuracy, images/s; off with ``progress=False``) and
    ``epoch_line`` of every finished epoch."""

    def __init__(self, progress=True, out=None):
        self.progress, self.out = progress, out
        self.bar = None

    def on_epoch_start(self, trainer):
        from tqdm import tqdm
        self.bar = tqdm(total=len(trainer.loader), initial=trainer.batch, unit="batch",
                        leave=False, desc=f"epoch {trainer.epoch + 1}/{trainer.config['epochs']}",
                        file=sys.stderr, disable=not self.progress, dynamic_ncols=True)

    def on_batch_end(self, trainer, record):
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{record['train_loss']:.4f}",
                             acc=f"{record['train_acc']:.2%}",
                             img_s=f"{record['train_images'] / record['seconds']:.0f}",
                             refresh=False)

    def on_epoch_end(self, trainer, record):
        self.close()
        print(epoch_line(record, trainer.config["epochs"]), file=self.out or sys.stdout,
              flush=True)

    def on_stop(self, trainer):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def epoch_line(r, epochs):
    width = len(str(epochs))
    held_out = f"  held-out loss {r['test_loss']:.4f} acc {r['test_acc']:6.2%}" \
        if "test_acc" in r else ""
    if "test_top5" in r:
        held_out += f" top-5 {r['test_top5']:6.2%}"
    return (f"epoch {r['epoch']:>{width}}/{epochs}  train loss {r['train_loss']:.4f} "
            f"acc {r['train_acc']:6.2%}{held_out}  lr {r['lr']:.3g}  {r['seconds']:.1f}s "
            f"({_rate(r):.0f} img/s)")


def duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _rate(record):
    return record["images"] / max(record["seconds"], 1e-9)
