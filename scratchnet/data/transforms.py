"""Image transforms in NumPy, on one float image of shape (C, H, W), as torchvision's.

Random transforms draw from the ``rng`` they are given (a ``numpy.random.Generator``): the
DataLoader hands each batch its own generator derived from (seed, epoch, batch), so an
augmented epoch is reproducible and a resumed run sees the same crops and flips as an
uninterrupted one. Without ``rng`` they draw from scratchnet's global generator.

Geometry follows torchvision: crop boxes are (top, left, height, width), ``Pad`` takes
(left, top, right, bottom), ``Resize`` is bilinear with half-pixel centres
(``F.interpolate(..., mode="bilinear", align_corners=False)``, no antialiasing).
"""
import inspect
import math
import numbers

import numpy as np

from .. import random as _random
from ..tensor import Tensor


def _size_pair(size, name):
    if isinstance(size, numbers.Integral):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name}: size must be a positive int or (height, width), got {size}")
    return size


def _rng(rng):
    return _random.generator() if rng is None else rng


def _takes_rng(transform):
    """True when ``transform`` can be called as ``transform(img, rng)``."""
    try:
        params = inspect.signature(transform).parameters.values()
    except (TypeError, ValueError):             # a builtin without a signature
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class Compose:
    """Apply transforms in order, passing the same generator to each that takes one (a plain
    one-argument callable, as torchvision's Compose takes, gets the image only)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        self._takes_rng = [_takes_rng(t) for t in self.transforms]

    def __call__(self, img, rng=None):
        rng = _rng(rng)
        for t, takes_rng in zip(self.transforms, self._takes_rng):
            img = t(img, rng) if takes_rng else t(img)
        return img

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose({inner}\n)"


class Normalize:
    """x[c] = (x[c] - mean[c]) / std[c], one mean and std per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)  # (C, 1, 1) broadcasts
        self.std = np.asarray(std, np.float32).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std}")

    def __call__(self, img, rng=None):
        if self.mean.shape[0] not in (1, img.shape[0]):
            raise ValueError(f"Normalize: {self.mean.shape[0]} means for an image with "
                             f"{img.shape[0]} channels")
        if isinstance(img, Tensor):                    # after ToTensor, as in torchvision
            return (img - Tensor(self.mean)) / Tensor(self.std)
        return ((img - self.mean) / self.std).astype(img.dtype, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class Grayscale:
    """Convert to ``num_output_channels`` (1 or 3) grey channels: an RGB image becomes its
    luma 0.2989 R + 0.587 G + 0.114 B (torchvision's weights on tensors), a grey image is
    kept; three output channels repeat the grey one (how a 3-channel model reads MNIST)."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, "
                             f"got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img, rng=None):
        if img.shape[0] == 3:
            weights = np.array([0.2989, 0.587, 0.114], img.dtype).reshape(3, 1, 1)
            img = (img * weights).sum(axis=0, keepdims=True)
        elif img.shape[0] != 1:
            raise ValueError(f"Grayscale: expected 1 or 3 channels, got image {img.shape}")
        return np.repeat(img, self.num_output_channels, axis=0)

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


class Pad:
    """Constant padding: an int pads all four sides, (lr, tb) pads left/right and
    top/bottom, (left, top, right, bottom) pads each side (torchvision's order)."""

    def __init__(self, padding, fill=0.0):
        if isinstance(padding, numbers.Integral):
            padding = (padding,) * 4
        padding = tuple(int(p) for p in padding)
        if len(padding) == 2:
            padding = padding * 2
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(f"Pad: padding must be an int, 2 or 4 non-negative ints, "
                             f"got {padding}")
        self.padding, self.fill = padding, fill

    def __call__(self, img, rng=None):
        left, top, right, bottom = self.padding
        return np.pad(img, ((0, 0), (top, bottom), (left, right)), constant_values=self.fill)

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill})"


def crop(img, top, left, height, width):
    return img[:, top:top + height, left:left + width]


class RandomCrop:
    """Pad by ``padding`` (optional), then cut a (height, width) window at a uniformly drawn
    position: with padding p and size = image size, a shift of -p..p pixels each way."""

    def __init__(self, size, padding=None, fill=0.0):
        self.size = _size_pair(size, "RandomCrop")
        self.pad = None if padding is None else Pad(padding, fill)

    def __call__(self, img, rng=None):
        rng = _rng(rng)
        if self.pad is not None:
            img = self.pad(img)
        (h, w), (th, tw) = img.shape[1:], self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop: crop {self.size} larger than the (padded) image "
                             f"{(h, w)}")
        top = int(rng.integers(0, h - th + 1))
        left = int(rng.integers(0, w - tw + 1))
        return crop(img, top, left, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.pad and self.pad.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img, rng=None):
        return img[:, :, ::-1] if _rng(rng).random() < self.p else img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class CenterCrop:
    """The central (height, width) window; top = round((H - height) / 2) as torchvision."""

    def __init__(self, size):
        self.size = _size_pair(size, "CenterCrop")

    def __call__(self, img, rng=None):
        (h, w), (th, tw) = img.shape[1:], self.size
        if th > h or tw > w:
            raise ValueError(f"CenterCrop: crop {self.size} larger than the image {(h, w)}")
        return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


def _bilinear_weights(n_in, n_out):
    """Source indices i0, i1 (n_out,) and weight w1 of i1 for 1-D linear resampling with
    half-pixel centres: output pixel o samples source coordinate (o + 0.5) * n_in/n_out - 0.5,
    clamped at 0 (torch's area_pixel_compute_source_index)."""
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def resize(img, size):
    """Bilinear resize of (C, H, W) to (C, *size): rows first, then columns."""
    (h, w), (oh, ow) = img.shape[1:], size
    r0, r1, wr = _bilinear_weights(h, oh)
    c0, c1, wc = _bilinear_weights(w, ow)
    wr, wc = wr.astype(img.dtype), wc.astype(img.dtype)   # weights in the image's precision
    rows = img[:, r0, :] * (1 - wr)[:, None] + img[:, r1, :] * wr[:, None]  # (C, OH, W)
    return (rows[:, :, c0] * (1 - wc) + rows[:, :, c1] * wc).astype(img.dtype, copy=False)


class Resize:
    """Bilinear resize. An int resizes the shorter side to it, keeping the aspect ratio
    (the longer side becomes int(size * long / short)); a pair gives (height, width)."""

    def __init__(self, size):
        self.size = size if isinstance(size, numbers.Integral) else _size_pair(size, "Resize")

    def __call__(self, img, rng=None):
        h, w = img.shape[1:]
        if isinstance(self.size, numbers.Integral):
            short, long = (h, w) if h <= w else (w, h)
            other = int(self.size * long / short)
            size = (self.size, other) if h <= w else (other, self.size)
        else:
            size = self.size
        return img if size == (h, w) else resize(img, size)

    def __repr__(self):
        return f"Resize(size={self.size})"


class RandomResizedCrop:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio`` (log-uniform),
    then resize it to ``size``: torchvision's algorithm, 10 tries, then a central crop with the
    ratio clamped into range (Inception's augmentation, used by the ImageNet recipes)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0)):
        self.size = _size_pair(size, "RandomResizedCrop")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale and ratio must be (min, max), got "
                             f"{scale} and {ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def get_params(self, height, width, rng):
        """(top, left, h, w) of the crop."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                return top, int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img, rng=None):
        top, left, h, w = self.get_params(*img.shape[1:], _rng(rng))
        return resize(crop(img, top, left, h, w), self.size)

    def __repr__(self):
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


class PCALighting:
    """AlexNet's colour augmentation (Krizhevsky et al. 2012, section 4.1): to every pixel add
    ``eigvecs @ (alphas * eigvals)``, where eigvals/eigvecs are the eigen-decomposition of
    the 3x3 covariance of the training set's RGB values and alphas ~ N(0, alphastd) is
    drawn once per image. The paper uses alphastd = 0.1 on pixel values in [0, 255]; here
    images are in [0, 1] and the covariance is computed on them, so the same 0.1 applies.
    """

    def __init__(self, eigvals, eigvecs, alphastd=0.1):
        self.eigvals = np.asarray(eigvals, np.float64)   # (3,)
        self.eigvecs = np.asarray(eigvecs, np.float64)   # (3, 3), column i <-> eigvals[i]
        if self.eigvals.shape != (3,) or self.eigvecs.shape != (3, 3):
            raise ValueError(f"PCALighting: expected eigvals (3,) and eigvecs (3, 3), got "
                             f"{self.eigvals.shape} and {self.eigvecs.shape}")
        self.alphastd = alphastd

    @classmethod
    def from_images(cls, images, alphastd=0.1):
        """Fit on images (N, 3, H, W) (uint8 images are scaled to [0, 1])."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"PCALighting.from_images: expected (N, 3, H, W), got "
                             f"{images.shape}")
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        pixels = images.transpose(1, 0, 2, 3).reshape(3, -1) / scale  # (3, N*H*W)
        eigvals, eigvecs = np.linalg.eigh(np.cov(pixels))
        return cls(eigvals, eigvecs, alphastd)

    def shift(self, alphas):
        """The RGB offset (3,) added to every pixel for the given alphas."""
        return self.eigvecs @ (np.asarray(alphas, np.float64) * self.eigvals)

    def __call__(self, img, rng=None):
        if img.shape[0] != 3:
            raise ValueError(f"PCALighting: expected an RGB image (3, H, W), got {img.shape}")
        alphas = _rng(rng).normal(0.0, self.alphastd, 3)
        return (img + self.shift(alphas).reshape(3, 1, 1)).astype(img.dtype, copy=False)

    def __repr__(self):
        return f"PCALighting(eigvals={self.eigvals.round(5).tolist()}, alphastd={self.alphastd})"


class ToTensor:
    """An image as torchvision's ToTensor gives it: a NumPy array (H, W, C) or (H, W), or a
    PIL image, becomes a Tensor (C, H, W); uint8 values are scaled to float32 in [0, 1],
    other dtypes are kept. (scratchnet's own data sets already hold (C, H, W) float images
    and need no ToTensor.)"""

    def __call__(self, pic, rng=None):
        array = np.asarray(pic)                  # a PIL image converts to (H, W[, C]) uint8
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"ToTensor: expected an image (H, W) or (H, W, C), got shape "
                             f"{array.shape}")
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))     # (H, W, C) -> (C, H, W)
        if chw.dtype == np.uint8:
            return Tensor(chw.astype(np.float32) / np.float32(255))
        return Tensor(chw)

    def __repr__(self):
        return "ToTensor()"


class Lambda:
    """Apply a user function to the image, as torchvision's Lambda."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img, rng=None):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"
