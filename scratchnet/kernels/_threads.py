"""How many threads a Numba kernel may wake for a given amount of work."""
import contextlib

import numba

GRAIN_SIZE = 32768  # elements per thread below which waking threads costs more than it saves


@contextlib.contextmanager
def threads_for(work):
    """Run the enclosed Numba call on at most work // GRAIN_SIZE threads (torch's grain rule):
    a parallel launch over a few hundred elements costs milliseconds when the cores are busy."""
    available = numba.get_num_threads()
    numba.set_num_threads(max(1, min(available, work // GRAIN_SIZE)))
    try:
        yield
    finally:
        numba.set_num_threads(available)
