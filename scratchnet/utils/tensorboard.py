"""``SummaryWriter`` with torch.utils.tensorboard's names, writing TensorBoard event files
through tensorboardX (the ``tensorboard`` extra: ``pip install scratchnet[tensorboard]``; no
TensorFlow and no torch needed). View them with ``tensorboard --logdir DIR``.

    from scratchnet.utils.tensorboard import SummaryWriter
    with SummaryWriter("runs/mine") as writer:
        writer.add_scalar("loss", loss.item(), step)
        writer.add_histogram("fc.weight", model.fc.weight, epoch)   # Tensors or arrays
        writer.add_image("filters", grid, epoch)                      # (C, H, W) in [0, 1]
"""
import numpy as np

from .. import backend
from ..tensor import Tensor


def _tensorboardx():
    try:
        import tensorboardX
    except ImportError:
        raise ImportError("TensorBoard logging needs tensorboardX, which is not installed: "
                          "pip install 'scratchnet[tensorboard]' (or pip install tensorboardX "
                          "Pillow)") from None
    return tensorboardX


def _numpy(value):
    """A Tensor, CuPy or NumPy array, or a number, as NumPy."""
    if isinstance(value, Tensor):
        value = value.data
    return backend.to_numpy(value) if hasattr(value, "shape") else np.asarray(value)


def _scalar(value):
    return float(_numpy(value).reshape(()))


class SummaryWriter:
    """Writes scalars, histograms and images to an event file in ``log_dir`` (default
    ``runs/<date>_<host><comment>``, as torch). Arguments and methods are torch's; values may be
    scratchnet Tensors, NumPy or CuPy arrays, or Python numbers."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        tensorboardx = _tensorboardx()
        self._writer = tensorboardx.SummaryWriter(
            logdir=log_dir, comment=comment, purge_step=purge_step, max_queue=max_queue,
            flush_secs=flush_secs, filename_suffix=filename_suffix)
        self.log_dir = self._writer.logdir

    def get_logdir(self):
        return self.log_dir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        self._writer.add_scalar(tag, _scalar(scalar_value), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        self._writer.add_scalars(main_tag, {k: _scalar(v) for k, v in tag_scalar_dict.items()},
                                 global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        self._writer.add_histogram(tag, _numpy(values).astype(np.float64, copy=False),
                                   global_step, bins, walltime, max_bins)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """``img_tensor``: floats in [0, 1] or uint8 in [0, 255], laid out as ``dataformats``
        ("CHW", "HWC" or "HW")."""
        self._writer.add_image(tag, _numpy(img_tensor), global_step, walltime, dataformats)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._writer.add_text(tag, text_string, global_step, walltime)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
