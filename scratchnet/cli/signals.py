"""Ctrl-C, ``kill`` and hang-ups during training: finish the batch, save, then leave.

SIGINT (Ctrl-C), SIGTERM (``kill``, Docker, cluster schedulers) and SIGHUP (a closed terminal)
are treated alike. The first asks the trainer to stop after the current batch (it saves and
``fit`` raises Interrupted); the command then exits with 128 + the signal's number, as a
process killed by it would report in a shell. A second signal, or one that comes before
training has started, raises ``Quit`` at once: the checkpoint on disk is the last complete
one, since writes are atomic.
"""
import os
import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


class Quit(BaseException):
    """Leave now (a BaseException, so that no ``except Exception`` on the way holds it)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class StopOnSignals:
    """``with StopOnSignals() as signals:`` installs the handlers (main thread only); set
    ``signals.trainer`` once there is a run to stop (and ``signals.stop``, when the stop must
    go through something else first: the ranks' agreement). ``signum`` is the first signal
    seen."""

    def __init__(self):
        self.trainer = None
        self.signum = None
        self.stop = None    # what the first signal calls instead of trainer.request_stop
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum, frame):
        if self.signum is not None or self.trainer is None:
            self.signum = self.signum or signum
            raise Quit(signum)
        self.signum = signum
        (self.stop or self.trainer.request_stop)()
        # os.write, not print: the handler may run while the main thread is inside a print
        os.write(2, f"\n{signal.Signals(signum).name}: saving a checkpoint after this batch "
                    "(send it again to quit now)\n".encode())
