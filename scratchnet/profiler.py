"""Where a step's time goes, op by op: ``sn.profiler.profile()``, torch.profiler's shape.

    with sn.profiler.profile() as prof:
        loss_fn(model(x), y).backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

Every Function called inside the block is one event named after its class (``Conv2dFunction``),
timed from the call to its return: ``Function.__call__``'s bookkeeping (unwrapping, checks,
recording the graph, wrapping the outputs) and its ``forward``, as torch's CPU time of an op
includes its dispatch. Every Function whose backward runs inside the block is one event
named ``<class>Backward``, timed by the engine around ``backward`` alone (the engine's own
work between backwards is in no row: the footer's wall time minus the rows' self time shows
it). A Function called inside another's forward counts in the outer one's total and not in
its self time; a backward that runs other Functions (gradient checkpointing recomputes its
segment) includes their time in its self time. On the GPU the times are launch times: CuPy
runs kernels asynchronously.

It wraps ``Function.__call__`` while the block runs (put back at exit) and listens on the
engine's ``backward_observers``. Profiles do not nest. Meant for one thread calling ops: calls
from other threads meanwhile are recorded too, but their nesting is not told apart.
"""
import time
from dataclasses import dataclass

from . import function as _function

__all__ = ["profile", "FunctionEventAvg", "EventList"]


@dataclass
class FunctionEventAvg:
    """One op's summary, as torch's: times in microseconds, over ``count`` calls."""

    key: str
    count: int = 0
    self_cpu_time_total: float = 0.0
    cpu_time_total: float = 0.0

    @property
    def cpu_time(self):
        """Average total time per call (µs), torch's ``cpu_time``."""
        return self.cpu_time_total / self.count if self.count else 0.0

    def add(self, self_us, total_us):
        self.count += 1
        self.self_cpu_time_total += self_us
        self.cpu_time_total += total_us


class EventList(list):
    """The per-op summaries ``key_averages()`` returns; ``table()`` prints them."""

    def table(self, sort_by="self_cpu_time_total", row_limit=100):
        """torch's ``key_averages().table()``: Name, Self CPU %, Self CPU, CPU total %,
        CPU total, CPU time avg, # of Calls; rows sorted by ``sort_by`` (an attribute of
        FunctionEventAvg, largest first), at most ``row_limit`` of them."""
        rows = sorted(self, key=lambda e: getattr(e, sort_by), reverse=True)[:row_limit]
        total = sum(e.self_cpu_time_total for e in self) or 1.0
        name_width = max([len("Name")] + [len(e.key) for e in rows]) + 2
        widths = [name_width] + [12] * 6
        rule = "  ".join("-" * w for w in widths)
        header = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                  "# of Calls"]
        lines = [rule, _cells(header, widths), rule]
        for e in rows:
            lines.append(_cells([e.key, f"{100 * e.self_cpu_time_total / total:.2f}%",
                                 _us(e.self_cpu_time_total),
                                 f"{100 * e.cpu_time_total / total:.2f}%",
                                 _us(e.cpu_time_total), _us(e.cpu_time), e.count], widths))
        lines += [rule, f"Self CPU time total: {_us(total)}"]
        return "\n".join(lines)


class profile:
    """Context manager recording every Function's forward and backward (module docstring).
    ``key_averages()`` gives one FunctionEventAvg per op name; ``wall_time`` is the block's
    wall-clock time in microseconds."""

    _active = None

    def __init__(self):
        self._events = {}           # name -> FunctionEventAvg
        self._children = [0.0]      # per open forward call: time of the calls inside it (µs)
        self.wall_time = 0.0

    def __enter__(self):
        if profile._active is not None:
            raise RuntimeError("sn.profiler.profile: a profile is already running")
        profile._active = self
        self._call = _function.Function.__call__
        _function.Function.__call__ = self._timed_call()
        _function.backward_observers.append(self._observe_backward)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall_time += (time.perf_counter() - self._start) * 1e6
        _function.backward_observers.remove(self._observe_backward)
        _function.Function.__call__ = self._call
        profile._active = None

    def key_averages(self):
        return EventList(self._events.values())

    def _event(self, name):
        event = self._events.get(name)
        if event is None:
            event = self._events[name] = FunctionEventAvg(name)
        return event

    def _timed_call(self):
        call, children, clock = self._call, self._children, time.perf_counter

        def timed_call(fn, *inputs):
            children.append(0.0)
            start = clock()
            try:
                return call(fn, *inputs)
            finally:
                total = (clock() - start) * 1e6
                inner = children.pop()
                children[-1] += total
                self._event(type(fn).__name__).add(total - inner, total)
        return timed_call

    def _observe_backward(self, fn, grad_outputs, grad_inputs, seconds):
        self._event(type(fn).__name__ + "Backward").add(seconds * 1e6, seconds * 1e6)


def _us(microseconds):
    """torch's time format: µs below 1 ms, ms below 1 s, then s."""
    if microseconds >= 1e6:
        return f"{microseconds / 1e6:.3f}s"
    if microseconds >= 1e3:
        return f"{microseconds / 1e3:.3f}ms"
    return f"{microseconds:.3f}us"


def _cells(cells, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                     for i, (c, w) in enumerate(zip(cells, widths)))
