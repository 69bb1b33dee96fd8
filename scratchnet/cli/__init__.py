"""The ``scratchnet`` command (also ``python -m scratchnet``).

    scratchnet models [--params]                  the model zoo, one line per model
    scratchnet summary MODEL [...]                layer table of one model
    scratchnet train MODEL [...]                  train, checkpointing as it goes
    scratchnet eval CHECKPOINT [...]              top-1/top-5 error: test-time crops, ensembles
    scratchnet --version

One module per command, each with ``add_parser(subparsers)`` (declaring its arguments and
``run``) and ``run(args)`` (doing the work, returning the exit status); a new command is one
more module and one more entry in ``COMMANDS``. ``main`` catches only the command line's own
errors (``errors.py``): a ``CommandError`` prints one line and exits 2, a ``RunFailed`` one
line and exits 1; Ctrl-C exits 130 (``train`` saves first: ``signals.py``). Commands turn
the library's user-facing errors into these where they call it; any other exception is a bug
and keeps its traceback (exit status 1).
"""
import argparse
import os
import sys

from .. import __version__
from . import evaluate, models, summary, train
from .errors import CommandError, RunFailed

COMMANDS = (models, summary, train, evaluate)

__all__ = ["COMMANDS", "CommandError", "RunFailed", "build_parser", "main"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="scratchnet: a deep-learning framework written from scratch on NumPy.")
    parser.add_argument("--version", action="version",
                        version=f"scratchnet {__version__} (Python {sys.version.split()[0]})")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point: parse ``argv`` (default ``sys.argv[1:]``), run the command and return
    its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as err:
        print(f"scratchnet {args.command}: error: {err}", file=sys.stderr)
        return err.exit_status
    except BrokenPipeError:  # `scratchnet models | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # Ctrl-C outside training (which saves first): the user's call
        print(f"scratchnet {args.command}: interrupted", file=sys.stderr)
        return 130
