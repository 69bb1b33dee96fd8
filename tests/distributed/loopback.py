"""A process group of one, in this process: what DDP's bookkeeping is tested on without MPI.

Its collectives return Works that complete on ``wait()`` or on the ``polls_to_finish``-th
``is_completed()``, and log what happened ("all_reduce 3" with the element count; "done" when
a reduction completes), so a test can see when buckets start and end relative to backward.
"""
import numpy as np

from scratchnet.distributed.work import Work


class LoopbackGroup:
    name = "loopback"

    def __init__(self, log=None, polls_to_finish=2):
        self.log = [] if log is None else log
        self.polls_to_finish = polls_to_finish

    def rank(self):
        return 0

    def size(self):
        return 1

    def all_reduce(self, array, op):
        self.log.append(f"all_reduce {array.size}")
        return self._work()

    def broadcast(self, array, src):
        self.log.append(f"broadcast {array.size}")
        return self._work()

    def all_gather(self, array):
        return self._work(), np.asarray(array)[None].copy()

    def barrier(self):
        pass

    def duplicate(self):
        return self

    def _work(self):
        polls = [0]

        def poll():
            polls[0] += 1
            return polls[0] >= self.polls_to_finish
        return Work(poll, lambda: None, lambda: self.log.append("done"))
