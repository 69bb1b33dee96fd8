"""Train a small VGG on CIFAR-10: VGG's recipe (only 3x3 convs, stride 1, padding 1, a 2x2 max
pool after each stage, widths doubling) at CIFAR scale, with batch norm.

    python examples/train_cifar_vgg.py --data-dir ~/data      # has cifar-10-batches-bin
    python examples/train_cifar_vgg.py                        # no CIFAR: synthetic data
    python examples/train_cifar_vgg.py --smoke                # 64 images, 1 epoch

The zoo's vgg11..vgg19 are the ImageNet networks (133-144 M parameters, 123.6 M of them in the
4096-wide classifier); this one keeps their convolutional design - it is built by the zoo's
own ``make_layers`` from a shorter column - and ends in a small classifier: 308,394
parameters. Two stacked 3x3 convs per stage see 5x5 with 18C^2 weights instead of 25C^2.
Data, loop, checkpoint and curves are those of train_cifar_resnet.py.
"""
import os
import sys

from scratchnet import nn
from scratchnet.models.vgg import make_layers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling script below
from train_cifar_resnet import parse_args, run  # noqa: E402

# stages of two 3x3 convs, each followed by a 2x2 pool: 32x32 -> 16 -> 8 -> 4
SMALL_VGG = [32, 32, "M", 64, 64, "M", 128, 128, "M"]


def small_vgg(num_classes):
    return nn.Sequential(
        make_layers(SMALL_VGG, batch_norm=True),     # (N, 128, 4, 4)
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128 * 4 * 4, num_classes),
    )


def main(argv=None):
    args = parse_args(argv, "Train a small VGG on CIFAR-10 (synthetic data without "
                            "--data-dir).", default_epochs=3)
    return run("small_vgg", small_vgg, args)


if __name__ == "__main__":
    main()
