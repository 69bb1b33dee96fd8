"""The ``scratchnet`` command.

    scratchnet models [--params]                         the model zoo, one line per model
    scratchnet summary MODEL [--input-size C H W] [-k KEY=VALUE ...]
                                                         layer table of one model

Each subcommand is a pair of functions: ``_add_<name>(subparsers)`` declares its arguments
and sets ``run=_<name>``, and ``_<name>(args)`` does the work and returns the exit status.
A new subcommand (``train``, ``eval``) is one more such pair and one more entry in
``COMMANDS``. A user error (an unknown model, an input the model cannot take) is raised as
``CommandError`` or ``ValueError`` and printed as one line, with exit status 2 and no
traceback; anything else is a bug and keeps its traceback.
"""
import argparse
import os
import ast
import sys

from .train import add_eval_command, add_train_command


class CommandError(Exception):
    """A mistake in the command line, reported without a traceback."""


def _add_models(subparsers):
    p = subparsers.add_parser("models", help="list the model zoo",
                              description="List every model get_model knows, in historical "
                                          "order, with its default input size.")
    p.add_argument("--params", action="store_true",
                   help="also build each model to count its parameters (VGG takes seconds)")
    p.set_defaults(run=_models)


def _models(args):
    from . import models
    for name in models.list_models():
        c, h, w = models.default_input_size(name)
        line = f"{name:<12} {c}x{h}x{w}"
        if args.params:
            count = sum(int(p.data.size) for p in models.get_model(name).parameters())
            line += f"  {count:>13,} parameters"
        print(line, flush=True)
    return 0


def _add_summary(subparsers):
    p = subparsers.add_parser(
        "summary", help="print a model's layers, parameters, MACs and receptive fields",
        description="Run MODEL once on a random input and print, per layer, the output "
                    "shape, parameters, multiply-accumulates (torchvision's convention) and "
                    "the receptive field.")
    p.add_argument("model", metavar="MODEL", help="a name from `scratchnet models`")
    p.add_argument("--input-size", nargs=3, type=int, metavar=("C", "H", "W"),
                   help="input size (default: the model's default_input_size)")
    p.add_argument("-k", "--kwarg", action="append", default=[], metavar="KEY=VALUE",
                   help="a constructor argument, e.g. -k variant=paper -k num_classes=10 "
                        "(VALUE is read as a Python literal, else as a string)")
    p.set_defaults(run=_summary)


def _summary(args):
    from .summary import summary
    model = _build(args.model, _parse_kwargs(args.kwarg))
    print(summary(model, args.input_size))
    return 0


COMMANDS = (_add_models, _add_summary, add_train_command, add_eval_command)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="scratchnet: a deep-learning framework written from scratch on NumPy.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv=None):
    """Entry point: parse ``argv`` (default ``sys.argv[1:]``), run the subcommand and return
    its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CommandError, ValueError) as err:
        print(f"scratchnet {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `scratchnet models | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _build(name, kwargs):
    """The zoo model ``name`` built with ``kwargs``; a CommandError for an unknown name or
    an argument its constructor does not take."""
    from . import models
    known = models.list_models()
    if name not in known:
        raise CommandError(f"unknown model {name!r}; known models: {', '.join(known)}")
    try:
        return models.get_model(name, **kwargs)
    except TypeError as err:
        raise CommandError(f"{name}: {err}") from None


def _parse_kwargs(pairs):
    kwargs = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise CommandError(f"-k expects KEY=VALUE, got {pair!r}")
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text  # a bare word: variant=paper
    return kwargs


if __name__ == "__main__":
    sys.exit(main())
