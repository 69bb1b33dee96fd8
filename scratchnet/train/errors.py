"""What can stop a training run, by whose fault. The command line maps each to an exit status:
``TrainError`` (the user's setup: options, data, output folder, checkpoint) to a one-line
error with status 2; ``DivergedError`` and ``CheckpointWriteError`` (the run itself failed) to a
one-line error with status 1; ``Interrupted`` to the signal's status after saving."""


class TrainError(ValueError):
    """A user error: a bad option or recipe value, an unusable output folder, a checkpoint
    that does not belong to this run. The message says what and how to fix it."""


class CheckpointError(TrainError):
    """A checkpoint that cannot be read, is damaged, or does not fit the run; names the file."""


class DivergedError(ArithmeticError):
    """The loss (or the weights) became NaN or infinite: the run cannot go on. Raised before
    the step that would use it, so no checkpoint is ever written from non-finite weights."""

    def __init__(self, message, epoch, batch):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (disk full, quota, file too large, no permission). The
    previous file at ``path`` is intact: writes are atomic."""

    def __init__(self, path, cause):
        super().__init__(cause.errno, f"cannot write checkpoint {path}: "
                                      f"{cause.strerror or cause}")
        self.path, self.cause = path, cause

    def __str__(self):
        return self.strerror


class Interrupted(Exception):
    """``Trainer.fit`` stopped at a ``request_stop()`` (after the callbacks saw ``on_stop``),
    at ``epoch`` (0-based) and ``batch`` (batches of it done)."""

    def __init__(self, epoch, batch):
        super().__init__(f"stopped at epoch {epoch + 1}, batch {batch}")
        self.epoch, self.batch = epoch, batch
