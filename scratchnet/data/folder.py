"""``ImageFolder``: your own images, one sub-folder per class (torchvision's layout).

    root/cat/0001.jpg
    root/cat/0002.png
    root/dog/a.jpeg

Classes are the sub-folder names in sorted order (``classes``, ``class_to_idx``); ``samples``
lists (path, class index) sorted by class, then by path. Files are decoded lazily, one per
``__getitem__``, so a data set of any size fits in memory, and decoding runs in the
DataLoader's worker processes when it has some (``num_workers``).
"""
import copy
import functools
import os

import numpy as np

from .datasets import DataError, DataFileNotFound, Dataset
from .images import IMG_EXTENSIONS, load_image


def find_classes(directory):
    """(classes, class_to_idx): the sub-folders of ``directory``, sorted."""
    try:
        classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir()
                         and not entry.name.startswith("."))
    except FileNotFoundError:
        raise DataFileNotFound(f"ImageFolder: no folder {directory}") from None
    except OSError as err:
        raise DataError(f"ImageFolder: cannot read the folder {directory}: "
                        f"{err.strerror or err}") from None
    if not classes:
        raise DataFileNotFound(f"ImageFolder: {directory} has no class sub-folders (expected "
                               f"{directory}/CLASS/IMAGE, one sub-folder per class)")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx, is_valid_file=None, allow_empty=False):
    """[(path, class index)] of every image file under ``directory/CLASS`` (searched
    recursively, symbolic links followed), by class, then by path."""
    if is_valid_file is None:
        def is_valid_file(path):
            return path.lower().endswith(IMG_EXTENSIONS)
    samples = []
    for name, index in sorted(class_to_idx.items(), key=lambda item: item[1]):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        found = []
        for dirpath, _, filenames in os.walk(folder, followlinks=True):
            found += [os.path.join(dirpath, f) for f in filenames
                      if is_valid_file(os.path.join(dirpath, f))]
        if not found and not allow_empty:
            raise DataFileNotFound(f"ImageFolder: no image files in {folder} (looked for "
                                   f"{', '.join(IMG_EXTENSIONS)})")
        samples += [(path, index) for path in sorted(found)]
    return samples


class ImageFolder(Dataset):
    """Images in ``root/CLASS/*.jpg|png|...``; sample i is (transform(image), target), image
    float32 (C, H, W) in [0, 1] as ``loader`` decodes it (default: Pillow, RGB).

    transform: called as ``transform(image, rng)`` (scratchnet's transforms; rng is the
        generator the DataLoader gives the batch). target_transform: ``f(target)``.
    loader: path -> array; ``functools.partial(load_image, mode="L", shorter_side=256)``
        decodes grey and shrinks on decoding.
    is_valid_file: path -> bool, instead of the extension list.
    class_to_idx: use this mapping instead of the sub-folders' (a held-out folder lacking a
        class keeps the training folder's indices); classes without a folder are skipped.
    allow_empty: accept class folders with no image.

    Differs from torchvision's: the loader gives arrays, not PIL images, so a transform works
    on arrays (``scratchnet.data.transforms``) and needs no ``ToTensor``.
    """

    def __init__(self, root, transform=None, target_transform=None, loader=None,
                 is_valid_file=None, allow_empty=False, class_to_idx=None):
        self.root = os.fspath(root)
        if class_to_idx is None:
            self.classes, self.class_to_idx = find_classes(self.root)
        else:
            self.class_to_idx = dict(class_to_idx)
            self.classes = sorted(self.class_to_idx, key=self.class_to_idx.get)
            extra = sorted(set(find_classes(self.root)[0]) - set(self.class_to_idx))
            if extra:
                raise DataError(f"ImageFolder: {self.root} has classes {extra} that are not "
                                f"among the {len(self.classes)} given ({', '.join(self.classes)})")
        self.samples = make_dataset(self.root, self.class_to_idx, is_valid_file, allow_empty)
        if not self.samples and not allow_empty:
            raise DataFileNotFound(f"ImageFolder: no image files under {self.root}")
        self.loader = loader if loader is not None else functools.partial(load_image,
                                                                           mode="RGB")
        self.transform, self.target_transform = transform, target_transform

    @property
    def imgs(self):
        return self.samples

    @property
    def targets(self):
        return [target for _, target in self.samples]

    def __len__(self):
        return len(self.samples)

    def get(self, index, rng=None):
        path, target = self.samples[index]
        image = self.loader(path)
        if self.transform is not None:
            image = self.transform(image, rng)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def subset(self, indices):
        """A copy holding only the samples at ``indices`` (same classes, loader, transforms)."""
        part = copy.copy(self)
        part.samples = [self.samples[int(i)] for i in indices]
        return part

    def __repr__(self):
        return (f"ImageFolder({self.root!r}: {len(self)} images, {len(self.classes)} "
                f"classes)")


def stratified_split(targets, fraction, seed=0):
    """(train indices, held-out indices): ``fraction`` of each class's samples held out
    (rounded, at least one of every class that has two or more), drawn with ``seed``."""
    if not 0 < fraction < 1:
        raise ValueError(f"stratified_split: fraction must be in (0, 1), got {fraction}")
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    train, held_out = [], []
    for label in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == label))
        n = 0 if len(members) < 2 else min(len(members) - 1,
                                           max(1, round(fraction * len(members))))
        held_out += members[:n].tolist()
        train += members[n:].tolist()
    return sorted(train), sorted(held_out)


HELD_OUT_FRACTION = 0.1


def folder_datasets(root, loader=None):
    """(train, held_out) ImageFolders of ``root``: ``root/train`` and ``root/val`` when both
    exist (val read with train's class indices); else ``root/train`` (or ``root`` itself,
    without a train/ folder) split by ``stratified_split``: a tenth of each class held out,
    seed 0."""
    train_dir, val_dir = os.path.join(root, "train"), os.path.join(root, "val")
    if os.path.isdir(train_dir) and os.path.isdir(val_dir):
        train = ImageFolder(train_dir, loader=loader)
        return train, ImageFolder(val_dir, loader=loader, class_to_idx=train.class_to_idx)
    whole = ImageFolder(train_dir if os.path.isdir(train_dir) else root, loader=loader)
    kept, held = stratified_split(whole.targets, HELD_OUT_FRACTION)
    if not held:
        raise DataError(f"ImageFolder: {whole.root} has too few images to hold some out (no "
                        "class has two); add images, or give it train/ and val/ sub-folders")
    return whole.subset(kept), whole.subset(held)
