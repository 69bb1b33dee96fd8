"""The command line's own error types: the only exceptions ``main`` catches. A command turns
the library's user-facing errors into these where it calls the library; anything else is a
bug and keeps its traceback (exit status 1)."""


class CommandError(Exception):
    """A mistake in the command line or in what it names (a model, a data folder, a
    checkpoint): printed as one line, exit status 2."""
    exit_status = 2


class RunFailed(CommandError):
    """The command started but could not finish (the loss diverged, a checkpoint could not be
    written): printed as one line, exit status 1."""
    exit_status = 1
