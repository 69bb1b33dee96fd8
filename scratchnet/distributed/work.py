"""ReduceOp and Work: how values combine, and a collective that is still in flight."""
import enum


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values, element by element (torch's names).
    AVG is the sum divided by the world size, for floating-point tensors."""
    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class Work:
    """A collective started with ``async_op=True`` (torch's ``Work``): its result is in place
    once ``wait()`` has returned. ``is_completed()`` answers without blocking, and moves the
    communication on while it asks (MPI progresses only inside MPI calls).

    A backend builds one from ``poll`` (non-blocking: True once done), ``block`` (returns
    once done) and ``finish`` (runs once, after completion: copy a staged result back,
    divide for AVG). Without ``poll`` the work is complete from the start.
    """

    def __init__(self, poll=None, block=None, finish=None):
        self._poll, self._block, self._finish = poll, block, finish
        self._done = False
        if poll is None:
            self._complete()

    def is_completed(self):
        if not self._done and self._poll():
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Block until the collective is complete (``timeout`` is accepted and ignored: MPI
        has none); returns True, as torch's."""
        if not self._done:
            self._block()
            self._complete()
        return True

    def then(self, step):
        """Run ``step()`` once the collective is complete (now, if it is); returns self."""
        if self._done:
            step()
        else:
            earlier = self._finish
            self._finish = step if earlier is None else lambda: (earlier(), step())
        return self

    def _complete(self):
        self._done = True
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()


def completed():
    """A Work that is already complete (a collective that ran synchronously)."""
    return Work()
