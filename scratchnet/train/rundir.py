"""The output folder of a run, held while the run writes into it."""
import os

from ..io import _npz
from .checkpoint import BEST, LAST
from .errors import TrainError

LOCK_NAME = ".scratchnet.lock"


class RunDirectory:
    """``with RunDirectory(path):`` creates ``path`` if needed and holds it for one run:

    - a second run into the same folder is refused while this one lives (an ``flock`` on
      ``path/.scratchnet.lock``, which the kernel releases when a process dies: a crash never
      leaves the folder locked);
    - temporary files that a killed save left behind (``.last.npz.<hex>.tmp``, up to a whole
      checkpoint each) are removed;
    - a folder that cannot be created or written raises TrainError at once, before training.
    Where ``fcntl`` is missing (Windows) there is no lock, the rest holds.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._fd = None

    def __enter__(self):
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise TrainError(f"output folder {self.path} exists and is not a folder")
        try:
            os.makedirs(self.path, exist_ok=True)
            self._lock()
            for name in (LAST, BEST):
                for stale in _npz.stale_temporaries(self.path, name):
                    os.unlink(stale)
        except OSError as err:
            self.__exit__()
            raise TrainError(f"cannot write into the output folder {self.path}: "
                             f"{err.strerror or err}") from None
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            lock = os.path.join(self.path, LOCK_NAME)
            try:
                if _same_file(self._fd, lock):
                    os.unlink(lock)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None

    def _lock(self):
        try:
            import fcntl
        except ImportError:
            return
        lock = os.path.join(self.path, LOCK_NAME)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                raise TrainError(f"another run is writing into {self.path} (pid {holder or '?'}"
                                 f"); wait for it, stop it, or choose another folder") from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, lock):     # not unlinked by a run that ended meanwhile
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd


def _same_file(fd, path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
