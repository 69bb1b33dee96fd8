"""``scratchnet summary MODEL [--input-size C H W] [-k KEY=VALUE ...]``: a model's layer table."""
import ast

from .. import models
from ..summary import summary
from .errors import CommandError


def add_parser(subparsers):
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
    p.set_defaults(run=run)


def run(args):
    model = build_model(args.model, parse_kwargs(args.kwarg))
    try:
        table = summary(model, args.input_size)
    except ValueError as err:    # an input size the model cannot take, checked before work
        raise CommandError(str(err)) from None
    print(table)
    return 0


def build_model(name, kwargs):
    """The zoo model ``name`` built with ``kwargs``; a CommandError for an unknown name or
    an argument its constructor does not take or accept."""
    known = models.list_models()
    if name not in known:
        raise CommandError(f"unknown model {name!r}; known models: {', '.join(known)}")
    try:
        return models.get_model(name, **kwargs)
    except TypeError as err:
        raise CommandError(f"{name}: {err}") from None
    except ValueError as err:    # the constructor's own argument checks
        raise CommandError(str(err)) from None


def parse_kwargs(pairs):
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
