"""What 1x1 convolutions save: Inception with and without its reductions, and ResNet's
bottleneck against two 3x3 convs, parameters and MACs measured by ``summary``.

GoogLeNet puts a 1x1 conv before each 3x3 and 5x5 branch to cut the channels they see; the
naive module (the paper's Figure 2a) runs them on the full input and passes the pooled input
through. ResNet-50's bottleneck squeezes 256 channels to 64 for its 3x3 and expands back.

    python examples/bottleneck_1x1.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402
import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402
import scratchnet.nn as nn  # noqa: E402
from scratchnet.models.resnet import BasicBlock, Bottleneck  # noqa: E402

# GoogLeNet's Table 1: name, input channels, map size, #1x1, #3x3 reduce, #3x3, #5x5 reduce,
# #5x5, pool proj
INCEPTION = [("3a", 192, 28, 64, 96, 128, 16, 32, 32),
             ("3b", 256, 28, 128, 128, 192, 32, 96, 64),
             ("4a", 480, 14, 192, 96, 208, 16, 48, 64),
             ("4b", 512, 14, 160, 112, 224, 24, 64, 64),
             ("4c", 512, 14, 128, 128, 256, 24, 64, 64),
             ("4d", 512, 14, 112, 144, 288, 32, 64, 64),
             ("4e", 528, 14, 256, 160, 320, 32, 128, 128),
             ("5a", 832, 7, 256, 160, 320, 32, 128, 128),
             ("5b", 832, 7, 384, 192, 384, 48, 128, 128)]


class InceptionModule(nn.Module):
    """The paper's module (real 5x5, conv biases, no batch norm). ``reduce=False`` is the naive
    version: 3x3 and 5x5 convs straight on the input, the pooled input concatenated as is."""

    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, reduce=True):
        super().__init__()
        self.branch1 = nn.Conv2d(cin, ch1x1, 1)
        if reduce:
            self.branch2 = nn.Sequential(nn.Conv2d(cin, ch3x3red, 1), nn.ReLU(),
                                         nn.Conv2d(ch3x3red, ch3x3, 3, padding=1))
            self.branch3 = nn.Sequential(nn.Conv2d(cin, ch5x5red, 1), nn.ReLU(),
                                         nn.Conv2d(ch5x5red, ch5x5, 5, padding=2))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1),
                                         nn.Conv2d(cin, pool_proj, 1))
        else:
            self.branch2 = nn.Conv2d(cin, ch3x3, 3, padding=1)
            self.branch3 = nn.Conv2d(cin, ch5x5, 5, padding=2)
            self.branch4 = nn.MaxPool2d(3, 1, padding=1)

    def forward(self, x):
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return F.cat([F.relu(b) for b in branches], 1)


def measure(module, input_size):
    s = sn.summary(module, input_size)
    return s.total_params, s.total_macs, s.rows[-1].output_shape


def main(argv=None):
    args = _common.parse_args(__doc__.splitlines()[0], argv)
    modules = INCEPTION[:1] if args.smoke else INCEPTION
    rows, totals = [], [0, 0, 0, 0]
    for name, cin, size, *channels in modules:
        scale = 4 if args.smoke else 1  # smoke: a quarter of the channels, same shapes of table
        cin, channels = cin // scale, [c // scale for c in channels]
        with_1x1 = measure(InceptionModule(cin, *channels), (cin, size, size))
        naive = measure(InceptionModule(cin, *channels, reduce=False), (cin, size, size))
        out_with = channels[0] + channels[2] + channels[4] + channels[5]
        out_naive = channels[0] + channels[2] + channels[4] + cin
        rows.append((name, f"{cin}x{size}x{size}", naive[0], with_1x1[0],
                     f"{1 - with_1x1[0] / naive[0]:.0%}", naive[1], with_1x1[1],
                     f"{1 - with_1x1[1] / naive[1]:.0%}", f"{out_naive} / {out_with}"))
        totals = [t + v for t, v in zip(totals, (naive[0], with_1x1[0], naive[1], with_1x1[1]))]
    rows.append(("all", "", totals[0], totals[1], f"{1 - totals[1] / totals[0]:.0%}",
                 totals[2], totals[3], f"{1 - totals[3] / totals[2]:.0%}", ""))
    print("Inception modules of GoogLeNet's Table 1, each alone on its input (conv biases "
          "counted; MACs per image):")
    print(_common.table(rows, ["module", "input", "params naive", "params 1x1", "saved",
                               "MACs naive", "MACs 1x1", "saved", "channels out"]))

    width, size = (64, 14) if args.smoke else (256, 56)
    planes = width // 4
    blocks = [(f"bottleneck 1x1-3x3-1x1 ({width}->{planes}->{width})", Bottleneck(width, planes)),
              (f"two 3x3 at {width} channels", BasicBlock(width, width)),
              (f"two 3x3 at {planes} channels (ResNet-34's block)", BasicBlock(planes, planes))]
    block_rows = []
    for label, module in blocks:
        cin = module.conv1.in_channels
        params, macs, out = measure(module, (cin, size, size))
        block_rows.append((label, f"{cin}x{size}x{size}", params, macs))
    print()
    print("ResNet blocks (zoo classes: convs without bias, batch norm counted):")
    print(_common.table(block_rows, ["block", "input", "params", "MACs"]))
    print(f"The bottleneck costs {block_rows[0][2] / block_rows[1][2]:.1%} of the parameters "
          f"of two 3x3 convs at {width} channels.")

    def draw(plt):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        names = [r[0] for r in rows[:-1]]
        x = range(len(names))
        axes[0].bar([i - 0.2 for i in x], [r[2] for r in rows[:-1]], 0.4, label="naive")
        axes[0].bar([i + 0.2 for i in x], [r[3] for r in rows[:-1]], 0.4, label="with 1x1")
        axes[0].set_xticks(list(x), names)
        axes[0].set_ylabel("parameters")
        axes[0].set_title("Inception modules")
        axes[0].legend()
        axes[1].barh([r[0] for r in block_rows], [r[2] for r in block_rows])
        axes[1].set_xlabel("parameters")
        axes[1].set_title("ResNet blocks")
        return fig

    _common.save_figure(draw, args.out, "bottleneck_1x1.png")
    return rows, block_rows


if __name__ == "__main__":
    main()
