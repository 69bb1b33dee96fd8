"""From a data set name and a model's input size to train and held-out ImageDatasets with
their transforms: the data half of ``scratchnet train``.

The held-out transform fits the images to the model (grey <-> RGB, ``resize``, LeNet's
28 -> 32 padding) and normalises them; the training transform adds augmentation:

    grey digits       random shifts of up to 2 pixels (RandomCrop with padding 2)
    colour images     random shifts of up to size/8 pixels, horizontal flips and AlexNet's
                      PCA colour jitter (eigen-decomposition of the training set's RGB)
    synthetic         none (its class templates are not shift invariant)

Your own images (``folder``: an ``ImageFolder``, decoded with Pillow) follow AlexNet's recipe
(Krizhevsky et al. 2012, section 2 and 4.1): each image is resized so that its shorter side is
R pixels and its central R x R square kept (R = ``resize``, default S * 256 / 224 for a model
taking S x S: 256 for 224), then training takes random S x S crops and horizontal flips, and
evaluation the central S x S crop.
"""
import functools
import os

import numpy as np

from . import transforms as T
from .datasets import DataError, bundled_mnist, cifar10, mnist, synthetic
from .folder import folder_datasets
from .images import load_image

# name -> (channels, size, mean, std); mean/std are the usual per-channel figures of the
# full training sets (MNIST's 0.1307/0.3081, CIFAR-10's from its 50,000 images).
DATASETS = {
    "mnist": (1, 28, (0.1307,), (0.3081,)),
    "cifar10": (3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "synthetic": (1, 28, (0.5,), (0.3,)),
    "folder": (3, None, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),   # ImageNet's
}

# LeNet-5's 1998 paper centres 28x28 digits in a 32x32 field; a gap this small is padded,
# anything larger needs an explicit --resize.
MAX_PAD = 4


class DataConfigError(DataError):
    """A data set that is unknown, missing, or does not fit the model (a user error)."""


def describe(name, data_dir):
    if name == "mnist" and data_dir is None:
        return "mnist (bundled 5,000-digit subset: 4,000 train / 1,000 held out)"
    if name == "folder":
        split = "train/ and val/" if all(os.path.isdir(os.path.join(data_dir, d))
                                         for d in ("train", "val")) else "a stratified split"
        return f"images in {data_dir} ({split})"
    return name if data_dir is None else f"{name} from {data_dir}"


def load_datasets(name, data_dir=None):
    """(train, held_out) ImageDatasets without transforms."""
    if name not in DATASETS:
        raise DataConfigError(f"unknown dataset {name!r}; known datasets: "
                              f"{', '.join(DATASETS)}")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise DataConfigError(f"--data-dir {data_dir}: no such directory")
    if name == "synthetic":
        return synthetic(True), synthetic(False)
    if name == "folder":
        _check_folder(data_dir)
        return folder_datasets(data_dir)
    if name == "mnist":
        if data_dir is None:
            return bundled_mnist(True), bundled_mnist(False)
        return mnist(data_dir, True), mnist(data_dir, False)
    if data_dir is None:
        raise DataConfigError("cifar10 is not bundled: download the binary version "
                              "(cifar-10-binary.tar.gz, which unpacks to cifar-10-batches-bin) "
                              "and pass --data-dir DIR")
    return cifar10(data_dir, True), cifar10(data_dir, False)


def fit_transforms(name, image_size, input_size, resize=None):
    """Deterministic steps taking (C, H, W) images of data set ``name`` to the model's
    ``input_size`` (C', S, S'), and the Normalize to end with; raises DataConfigError when
    the model's input is larger than the data's and no ``resize`` was asked for."""
    channels, height, width = image_size
    want_c, want_h, want_w = input_size
    steps = []
    if channels != want_c:
        steps.append(T.Grayscale(want_c))
    if resize is not None:
        steps.append(T.Resize((resize, resize)))
        height = width = resize
    elif want_h > height or want_w > width:
        if want_h - height > MAX_PAD or want_w - width > MAX_PAD:
            raise DataConfigError(
                f"the model expects {want_c}x{want_h}x{want_w} input but {name} images are "
                f"{channels}x{height}x{width}; pass --resize {max(want_h, want_w)} to resize "
                f"them (bilinear), or choose a model made for {height}x{width} images")
        top, left = (want_h - height) // 2, (want_w - width) // 2
        steps.append(T.Pad((left, top, want_w - width - left, want_h - height - top)))
    mean, std = DATASETS[name][2:]
    if channels != want_c:   # grey <-> RGB: one statistic per output channel
        mean, std = (np.mean(mean),) * want_c, (np.mean(std),) * want_c
    return steps, T.Normalize(mean, std)


def augmentations(name, images, size, channels):
    """Random steps for the training set, applied after resizing and before Normalize;
    ``size`` (H, W) and ``channels`` are those of the images at that point."""
    if name == "synthetic":
        return []
    if name == "mnist":
        return [T.RandomCrop(size, padding=2)]
    steps = [T.RandomCrop(size, padding=max(1, min(size) // 8)), T.RandomHorizontalFlip()]
    if images.shape[1] == 3 and channels == 3:
        sample = images[np.random.default_rng(0).permutation(len(images))[:5000]]
        steps.append(T.PCALighting.from_images(sample))
    return steps


def check_batch_fits(resize, channels, batch_size):
    """A DataConfigError, naming the bytes, when one batch of ``batch_size`` images resized to
    ``resize`` x ``resize`` (float32, ``channels`` deep) exceeds this machine's memory."""
    need = batch_size * channels * resize * resize * 4
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # no sysconf (Windows): nothing to check
        return
    if need > have:
        raise DataConfigError(
            f"--resize {resize}: one batch of {batch_size} images of {channels}x{resize}x"
            f"{resize} float32 takes {need:,} bytes, more than the {have:,} bytes of memory "
            "of this machine")


def _check_folder(data_dir):
    if data_dir is None:
        raise DataConfigError("--dataset folder needs --data-dir DIR: DIR/CLASS/IMAGE files, "
                              "or DIR/train/CLASS/... and DIR/val/CLASS/...")
    if not os.path.isdir(data_dir):
        raise DataConfigError(f"--data-dir {data_dir}: no such directory")


def folder_resize(input_size, resize=None):
    """R of AlexNet's recipe for a model taking ``input_size`` (C, S, S): ``resize``, or
    S * 256 / 224 rounded."""
    return resize if resize is not None else round(max(input_size[1:]) * 256 / 224)


def build_folder(data_dir, input_size, resize=None, augment=True, held_out_crop=True):
    """(train, held_out) ImageFolders of ``data_dir`` with AlexNet's recipe (module docstring);
    without ``held_out_crop`` held-out images stay R x R (for test-time crops)."""
    _check_folder(data_dir)
    channels, size = input_size[0], input_size[1:]
    side = folder_resize(input_size, resize)
    if side < max(size):
        raise DataConfigError(f"--resize {side} is smaller than the model's {size[0]}x{size[1]} "
                              f"input: folder images are cropped to it, so pass --resize "
                              f"{max(size)} or more")
    loader = functools.partial(load_image, mode="L" if channels == 1 else "RGB",
                               shorter_side=side)
    train, held_out = folder_datasets(data_dir, loader)
    mean, std = DATASETS["folder"][2:]
    if channels == 1:
        mean, std = (float(np.mean(mean)),), (float(np.mean(std)),)
    square, normalize = T.CenterCrop(side), T.Normalize(mean, std)
    random = [T.RandomCrop(size), T.RandomHorizontalFlip()] if augment else [T.CenterCrop(size)]
    train.transform = T.Compose([square, *random, normalize])
    held_out.transform = T.Compose([square, *([T.CenterCrop(size)] if held_out_crop else []),
                                    normalize])
    return train, held_out


def build(name, input_size, data_dir=None, resize=None, augment=True, batch_size=1,
          held_out_crop=True):
    """(train, held_out) datasets with their transforms set, ready for a DataLoader; with
    ``resize``, batches of ``batch_size`` must fit in memory (``check_batch_fits``).
    ``held_out_crop`` (folder only): crop held-out images to the model's size."""
    if name == "folder":
        check_batch_fits(folder_resize(input_size, resize), input_size[0], batch_size)
        return build_folder(data_dir, input_size, resize, augment, held_out_crop)
    if resize is not None:
        check_batch_fits(resize, input_size[0], batch_size)
    train, held_out = load_datasets(name, data_dir)
    fit, normalize = fit_transforms(name, train.image_size, input_size, resize)
    if resize is not None:
        size = (resize, resize)
    else:   # padded up to the model's size, never cropped down to it
        size = (max(input_size[1], train.image_size[1]), max(input_size[2], train.image_size[2]))
    extra = augmentations(name, train.images, size, input_size[0]) if augment else []
    train.transform = T.Compose(fit + extra + [normalize])
    held_out.transform = T.Compose(fit + [normalize])
    return train, held_out
