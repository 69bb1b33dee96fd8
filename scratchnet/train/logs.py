"""Where a run's numbers go besides the screen: ``OUT/metrics.jsonl`` (``MetricsLog``) and
``OUT/curves.png`` (``CurvesPlot``), both updated at the end of every epoch. (TensorBoard
event files: ``tensorboard.py``.) Callbacks, so that only the process that should write (rank
0 of a distributed run) is given them."""
import importlib.util
import json
import os
import subprocess
import sys
import time

from . import curves
from .trainer import Callback


class MetricsLog(Callback):
    """``path`` gets one JSON object per line and epoch: the trainer's record (``epoch``,
    ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``, ``test_top5`` for more than
    5 classes, ``lr``, ``seconds`` of training, ``images``), plus ``img_per_s`` (training
    images per second), ``wall_seconds`` (the epoch from start to end, held-out pass
    included) and ``time`` (when it ended, Unix seconds).

    A resumed run keeps the lines of the epochs its checkpoint holds and drops any written
    after it; a line the file lacks is rebuilt from the history (without the two times)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._epoch_started = None

    def on_fit_start(self, trainer):
        kept = {}
        try:
            with open(self.path) as f:
                for line in f:
                    try:
                        record = json.loads(line)
                        kept[record["epoch"]] = record
                    except (ValueError, TypeError, KeyError):
                        continue
        except OSError:
            pass
        lines = [kept.get(r["epoch"]) or _with_rate(r) for r in trainer.history]
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        temporary = f"{self.path}.tmp"
        with open(temporary, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in lines)
        os.replace(temporary, self.path)

    def on_epoch_start(self, trainer):
        if trainer.batch == 0 or self._epoch_started is None:
            self._epoch_started = time.perf_counter() - trainer.partial["seconds"]

    def on_epoch_end(self, trainer, record):
        line = dict(_with_rate(record), wall_seconds=time.perf_counter() - self._epoch_started,
                    time=time.time())
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")


def _with_rate(record):
    return dict(record, img_per_s=record["images"] / max(record["seconds"], 1e-9))


def matplotlib_missing():
    """None when matplotlib can be imported, else why not (without importing it)."""
    if importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed (pip install matplotlib)"
    return None


class CurvesPlot(Callback):
    """Redraws ``path`` (loss and accuracy by epoch, train and held out) after every epoch,
    in a side process at low priority (``curves.py``), so training does not wait for
    matplotlib; at the end of ``fit`` (or a stop) it waits for the last drawing.
    Without matplotlib it does nothing: ``unavailable`` says why (for the caller to show).
    ``error`` holds the side process's error output if drawing failed."""

    def __init__(self, path, title=""):
        self.path, self.title = os.fspath(path), title
        self.unavailable = matplotlib_missing()
        self.error = None
        self._process = None

    def on_fit_start(self, trainer):
        if self.unavailable is None and self._process is None:
            # run_path, not the file as a script: its folder (train/) must not shadow modules
            run = f"import runpy; runpy.run_path({curves.__file__!r}, run_name='__main__')"
            self._process = subprocess.Popen(
                [sys.executable, "-c", run, self.path, self.title],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if trainer.history:
            self._send(trainer.history)

    def on_epoch_end(self, trainer, record):
        self._send(trainer.history)

    def on_fit_end(self, trainer):
        self.close()

    def on_stop(self, trainer):
        self.close()

    def _send(self, history):
        if self._process is None:
            return
        try:
            self._process.stdin.write((json.dumps(history) + "\n").encode())
            self._process.stdin.flush()
        except OSError:           # the drawing process is gone: its error output says why
            self.close()

    def abandon(self):
        """Stop the side process now, drawing or not (a run quitting at once); a half-written
        temporary file of it is removed, curves.png keeps its last complete drawing."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.communicate()
        folder, name = os.path.split(os.path.abspath(self.path))
        temporary = os.path.join(folder, f".{name}.{process.pid}.tmp")
        if os.path.exists(temporary):
            os.unlink(temporary)

    def close(self, timeout=60):
        """Let the side process draw what it was sent, and wait for it (``timeout`` s)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:     # training is over: back to normal priority, where the system allows it
            os.sched_setscheduler(process.pid, os.SCHED_OTHER, os.sched_param(0))
        except (AttributeError, OSError):
            pass
        try:                       # communicate closes stdin: the side process draws, ends
            _, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if process.returncode:
            self.error = err.decode(errors="replace").strip() or f"exit {process.returncode}"
