"""``scratchnet models [--params]``: the model zoo, one line per model."""
from .. import models


def add_parser(subparsers):
    p = subparsers.add_parser("models", help="list the model zoo",
                              description="List every model get_model knows, in historical "
                                          "order, with its default input size.")
    p.add_argument("--params", action="store_true",
                   help="also build each model to count its parameters (VGG takes seconds)")
    p.set_defaults(run=run)


def run(args):
    for name in models.list_models():
        c, h, w = models.default_input_size(name)
        line = f"{name:<12} {c}x{h}x{w}"
        if args.params:
            count = sum(int(p.data.size) for p in models.get_model(name).parameters())
            line += f"  {count:>13,} parameters"
        print(line, flush=True)
    return 0
