"""Decoding image files with Pillow (the ``images`` extra: ``pip install scratchnet[images]``).

An image becomes what the rest of ``scratchnet.data`` works on: a float32 array (C, H, W) in
[0, 1] (torchvision's ``ToTensor`` of the decoded picture). Resizing to a shorter side happens
here, in Pillow, before the array exists: for a photograph of several megapixels that is far
cheaper than resizing the float array, and JPEGs are even decoded at a reduced scale when that
is still larger than needed (Pillow's ``draft``, the DCT's own 1/2, 1/4, 1/8 scaling).
"""
import numpy as np

from .datasets import DataError

# torchvision's IMG_EXTENSIONS
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
MODES = {"RGB": 3, "L": 1}


def pil_image():
    """``PIL.Image``, or an ImportError saying how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading image files needs Pillow, which is not installed: "
                          "pip install 'scratchnet[images]' (or pip install Pillow)") from None
    return Image


def shorter_side_size(height, width, size):
    """(height, width) after resizing the shorter side to ``size``, the longer one in
    proportion: torchvision's ``Resize(int)`` rule, int(size * long / short)."""
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def load_image(path, mode="RGB", shorter_side=None):
    """Decode the image file ``path`` into float32 (C, H, W) in [0, 1].

    mode: "RGB" (3 channels) or "L" (1 grey channel; Pillow's luma of a colour image).
    shorter_side: resize so that the shorter side is this many pixels, keeping the aspect
    ratio (Pillow's bilinear filter, antialiased when shrinking, as torchvision's ``Resize``
    on a PIL image). A file Pillow cannot read raises DataError naming it.
    """
    if mode not in MODES:
        raise ValueError(f"load_image: mode must be one of {list(MODES)}, got {mode!r}")
    Image = pil_image()
    try:
        with Image.open(path) as img:
            if shorter_side is not None and img.format == "JPEG":
                img.draft(mode, (shorter_side, shorter_side))   # both sides stay >= it
            img = img.convert(mode)
            if shorter_side is not None:
                height, width = shorter_side_size(img.height, img.width, shorter_side)
                if (height, width) != (img.height, img.width):
                    img = img.resize((width, height), Image.BILINEAR)
            pixels = np.asarray(img, dtype=np.uint8)            # (H, W) or (H, W, C)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot decode the image {path}: {err}") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]                             # (H, W, 1)
    return pixels.transpose(2, 0, 1).astype(np.float32) / 255.0  # (C, H, W)
