"""Anomaly detection, as ``torch.autograd.detect_anomaly``: find the op behind a bad backward.

While it is on, every Function records where forward was called (the Python stack), and

- a backward that returns a gradient with a NaN raises at once, naming the Function, the
  input whose gradient it is, and the forward call that made that Function;
- any other error in a backward (an input modified in place, a wrong shape, ...) carries the
  same forward call as a note on the exception (Python 3.11+).

It is built on the engine's ``forward_observers`` and ``backward_observers``; recording a
stack per op makes forward several times slower, so it is for debugging, as torch warns.
"""
import os
import traceback
import warnings

from .. import backend
from .. import function as _function

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ENGINE = (os.path.join(_PACKAGE, "function.py"), os.path.abspath(__file__))


class _Mode:
    enabled = False
    check_nan = True


def is_anomaly_enabled():
    return _Mode.enabled


def is_anomaly_check_nan_enabled():
    return _Mode.enabled and _Mode.check_nan


class ForwardTrace:
    """Where a Function's forward was called: the stack, without the engine's own frames."""

    def __init__(self, stack):
        self.frames = [f for f in stack if os.path.abspath(f.filename) not in _ENGINE]

    def call_site(self):
        """The innermost frame outside scratchnet (the user's line), else the innermost."""
        outside = [f for f in self.frames
                   if not os.path.abspath(f.filename).startswith(_PACKAGE + os.sep)]
        frame = (outside or self.frames)[-1]
        return f"{frame.filename}:{frame.lineno} ({frame.line})"

    def describe(self, fn):
        return (f"{type(fn).__name__} was made by the forward call at {self.call_site()}; "
                "traceback of that forward call (most recent call last):\n"
                + "".join(traceback.format_list(self.frames)).rstrip())


def _record_forward(fn, inputs, outputs):
    fn._forward_trace = ForwardTrace(traceback.extract_stack())


def _check_backward(fn, grad_outputs, grad_inputs, seconds):
    if not _Mode.check_nan:
        return
    for i, g in enumerate(grad_inputs):
        if g is not None and g.dtype.kind == "f" and bool(
                backend.get_array_module(g).isnan(g).any()):
            where = "" if fn._forward_trace is None else " " + fn._forward_trace.describe(fn)
            raise RuntimeError(f"Function '{type(fn).__name__}' returned nan values in its "
                               f"{i}th output.{where}")


def _set(enabled, check_nan):
    _Mode.enabled, _Mode.check_nan = bool(enabled), bool(check_nan)
    for observers, observer in ((_function.forward_observers, _record_forward),
                                (_function.backward_observers, _check_backward)):
        if observer in observers:
            observers.remove(observer)
        if _Mode.enabled:
            observers.append(observer)


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on for a block, as torch's:

        with sn.autograd.detect_anomaly():
            loss = model(x).log().sum()
            loss.backward()   # RuntimeError: Function 'LogFunction' returned nan values in
                              # its 0th output. LogFunction was made by the forward call at ...

    ``check_nan=False`` keeps the forward traces without checking gradients for NaN."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", UserWarning, stacklevel=2)
        self.previous = (_Mode.enabled, _Mode.check_nan)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.previous)

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with type(self)(self.check_nan):
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off (``mode``), as torch's: it takes effect at once, and
    used as a context manager it restores the previous setting on exit."""

    def __init__(self, mode, check_nan=True):
        self.previous = (_Mode.enabled, _Mode.check_nan)
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.previous)
