"""Test-time views of a batch: AlexNet's five and ten crops (Krizhevsky et al. 2012, section
4.1: "the four corner patches and the center patch as well as their horizontal reflections",
softmax averaged over the ten), with torchvision's names, order and geometry.

Arrays are (..., H, W) (one image (C, H, W) or a batch (N, C, H, W)); crops are views.
"""
TTA_MODES = ("none", "flip", "five-crop", "ten-crop")
CENTRE = {"none": 0, "flip": 0, "five-crop": 4, "ten-crop": 4}   # index of the plain centre
VIEWS = {"none": 1, "flip": 2, "five-crop": 5, "ten-crop": 10}    # how many views


def _size(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def center_crop(images, size):
    """The central (h, w) window; top = round((H - h) / 2), torchvision's rule."""
    (h, w), (height, width) = _size(size), images.shape[-2:]
    _check(images, h, w, "center_crop")
    top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
    return images[..., top:top + h, left:left + w]


def hflip(images):
    return images[..., ::-1]


def five_crop(images, size):
    """(top-left, top-right, bottom-left, bottom-right, centre) crops of (h, w)."""
    (h, w), (height, width) = _size(size), images.shape[-2:]
    _check(images, h, w, "five_crop")
    return (images[..., :h, :w], images[..., :h, width - w:],
            images[..., height - h:, :w], images[..., height - h:, width - w:],
            center_crop(images, (h, w)))


def ten_crop(images, size, vertical_flip=False):
    """``five_crop`` of the images, then ``five_crop`` of their horizontal (or, with
    ``vertical_flip``, vertical) reflection: ten views, torchvision's order."""
    flipped = images[..., ::-1, :] if vertical_flip else hflip(images)
    return five_crop(images, size) + five_crop(flipped, size)


def views(images, mode, size):
    """The views ``mode`` evaluates (one of ``TTA_MODES``): none, the centre crop; flip, the
    centre crop and its reflection; five-crop; ten-crop. ``CENTRE[mode]`` is the plain
    centre crop's index."""
    if mode == "none":
        return (center_crop(images, size),)
    if mode == "flip":
        centre = center_crop(images, size)
        return centre, hflip(centre)
    if mode == "five-crop":
        return five_crop(images, size)
    if mode == "ten-crop":
        return ten_crop(images, size)
    raise ValueError(f"test-time augmentation must be one of {', '.join(TTA_MODES)}, "
                     f"got {mode!r}")


def _check(images, h, w, who):
    height, width = images.shape[-2:]
    if h > height or w > width or min(h, w) < 1:
        raise ValueError(f"{who}: crop {h}x{w} does not fit images of {height}x{width}")
