"""transforms.ToTensor and Lambda as torchvision's, Normalize on Tensors, and Compose with
plain one-argument callables (torchvision's Compose contract)."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import transforms as T

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 1), (5, 4, 3)])
def test_to_tensor_is_torchvisions_rule(shape):
    image = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    out = T.ToTensor()(image)
    hwc = image if image.ndim == 3 else image[:, :, None]
    expected = torch.from_numpy(hwc.transpose(2, 0, 1).copy()).float().div(255)   # torchvision
    assert isinstance(out, sn.Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_to_tensor_keeps_other_dtypes_and_rejects_other_shapes():
    floats = np.random.default_rng(1).random((2, 3, 2))
    out = T.ToTensor()(floats)
    assert out.dtype == np.float64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), floats.transpose(2, 0, 1))
    with pytest.raises(ValueError, match=r"ToTensor: expected an image \(H, W\) or \(H, W, C\)"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_compose_with_to_tensor_normalize_and_plain_callables():
    image = np.full((2, 2), 255, np.uint8)
    pipeline = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,)), lambda t: t * 2,
                          T.Lambda(lambda t: t + 1)])
    out = pipeline(image)
    assert isinstance(out, sn.Tensor) and out.dtype == np.float32 and out.shape == (1, 2, 2)
    np.testing.assert_allclose(out.numpy(), 5.0)          # (1 − 0.5) / 0.25 · 2 + 1
