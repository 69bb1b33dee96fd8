"""Parameters and multiply-accumulates of every zoo model, LeNet-5 to DenseNet, from summary.

The usual closing picture of the CNN story plots parameters against the year. Here each
figure is counted by ``scratchnet.summary`` on the model's default input, and printed beside
the rounded number people quote, so the two can be compared:

    python examples/param_chart.py            # every model (VGG takes a while to build)
    python examples/param_chart.py --models lenet5,alexnet_v1,resnet50
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402

YEAR = {"lenet5": 1998, "alexnet": 2012, "zfnet": 2013, "vgg": 2014, "googlenet": 2014,
        "resnet": 2015, "plain": 2015, "densenet": 2016}

# (model name, constructor arguments, label, the figure people quote, where it comes from)
VARIANTS = {
    "lenet5": ({}, "LeNet-5", "~60K", "LeCun 1998: 60,000 trainable parameters"),
    "alexnet": ({}, "AlexNet (torchvision)", "61.1M", "torchvision"),
    "alexnet_v1": ({"towers": 2}, "AlexNet 2012, two towers", "60M",
                   "Krizhevsky 2012: '60 million parameters'"),
    "zfnet": ({}, "ZFNet", "~62M", ""),
    "vgg16": ({}, "VGG-16", "138M", "Simonyan 2014, Table 2"),
    "googlenet": ({"aux_logits": False}, "GoogLeNet, no aux heads", "~6.6M (notes: ~5M)",
                  "torchvision"),
    "resnet50": ({}, "ResNet-50", "25.6M", "torchvision"),
    "resnet20": ({}, "ResNet-20 (CIFAR)", "0.27M", "He 2015, Table 6"),
    "resnet56": ({}, "ResNet-56 (CIFAR)", "0.85M", "He 2015, Table 6"),
    "densenet121": ({}, "DenseNet-121", "8.0M", "torchvision"),
}
EXTRA = [("alexnet_v1", {"towers": 1}, "AlexNet 2012, one tower", "62,378,344",
          "the study notes"),
         ("resnet50", {"variant": "paper"}, "ResNet-50, stride on the 1x1 (paper)", "3.8 GMACs",
          "He 2015, Table 1")]


def year(name):
    return next(y for prefix, y in YEAR.items() if name.startswith(prefix))


def measure(name, kwargs):
    model = sn.models.get_model(name, **kwargs)
    s = sn.summary(model)
    return s.total_params, s.total_macs, model.default_input_size


def main(argv=None):
    args = _common.parse_args(__doc__.splitlines()[0], argv, lambda p: p.add_argument(
        "--models", default=None, help="comma-separated zoo names (default: all)"))
    names = (["lenet5", "resnet20"] if args.smoke else
             args.models.split(",") if args.models else sn.models.list_models())
    jobs = [(n, *VARIANTS.get(n, ({}, n, "", ""))) for n in names]
    jobs += [job for job in EXTRA if job[0] in names]
    rows, points = [], []
    for name, kwargs, label, quoted, source in jobs:
        params, macs, size = measure(name, kwargs)
        shown = "x".join(map(str, size))
        rows.append((label, str(year(name)), params, f"{params / 1e6:.2f}M", quoted,
                     macs / 1e9, shown, source))
        points.append((label, year(name), params, macs, bool(quoted)))
        print(f"  {label}: {params:,} parameters, {macs:,} MACs at {shown}", flush=True)
    print()
    print(_common.table(rows, ["model", "year", "parameters", "rounded", "quoted", "GMACs",
                               "input", "quoted by"]))

    def draw(plt):
        # the models people quote are labelled; the other depths of each family are grey dots
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        for label, y, params, macs, key in points:
            for ax, x in ((axes[0], y), (axes[1], macs)):
                ax.scatter(x, params, s=36 if key else 12, color=None if key else "0.6",
                           zorder=3 if key else 2)
                if key:
                    ax.annotate(label, (x, params), fontsize=7, xytext=(4, 2),
                                textcoords="offset points")
        axes[0].set_xlabel("year")
        axes[0].set_xticks(range(1998, 2018, 2))
        axes[1].set_xscale("log")
        axes[1].set_xlabel("multiply-accumulates per image (default input size)")
        for ax in axes:
            ax.set_yscale("log")
            ax.set_ylabel("parameters")
        fig.suptitle("Parameters per model, counted by scratchnet.summary (grey: other depths)")
        return fig

    _common.save_figure(draw, args.out, "param_chart.png")
    return rows


if __name__ == "__main__":
    main()
