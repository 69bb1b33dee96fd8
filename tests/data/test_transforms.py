"""Transforms against hand-computed results (and torch's bilinear interpolation for Resize)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.data import transforms as T


def _img(c, h, w):
    return np.arange(c * h * w, dtype=np.float32).reshape(c, h, w)


def test_normalize_per_channel():
    img = np.array([[[0.0, 1.0]], [[2.0, 4.0]]], np.float32)        # (2, 1, 2)
    out = T.Normalize(mean=(1.0, 2.0), std=(0.5, 2.0))(img)
    np.testing.assert_array_equal(out, [[[-2.0, 0.0]], [[0.0, 1.0]]])
    assert out.dtype == np.float32


def test_normalize_rejects_channel_mismatch_and_zero_std():
    with pytest.raises(ValueError, match="3 means for an image with 2 channels"):
        T.Normalize((0, 0, 0), (1, 1, 1))(np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="std must be non-zero"):
        T.Normalize((0,), (0,))


def test_pad_left_top_right_bottom():
    img = np.array([[[1.0, 2.0]]], np.float32)                      # (1, 1, 2)
    out = T.Pad((1, 0, 2, 1), fill=9.0)(img)
    np.testing.assert_array_equal(out, [[[9, 1, 2, 9, 9], [9, 9, 9, 9, 9]]])
    assert T.Pad(2)(_img(3, 4, 5)).shape == (3, 8, 9)
    assert T.Pad((1, 3))(_img(1, 4, 5)).shape == (1, 10, 7)


def test_random_crop_with_padding_covers_every_shift():
    img = _img(1, 3, 3) + 1.0                                       # no zeros inside
    crop = T.RandomCrop(3, padding=1)
    padded = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    windows = {(t, s): padded[:, t:t + 3, s:s + 3] for t in range(3) for s in range(3)}
    rng = np.random.default_rng(0)
    seen = {}
    for _ in range(450):
        out = crop(img, rng)
        match = [k for k, w in windows.items() if np.array_equal(w, out)]
        assert len(match) == 1, "the crop is not one of the 9 padded windows"
        seen[match[0]] = seen.get(match[0], 0) + 1
    assert set(seen) == set(windows)
    assert min(seen.values()) > 25      # uniform: about 50 each


def test_random_crop_same_generator_same_crop():
    img = np.random.default_rng(1).standard_normal((3, 8, 8)).astype(np.float32)
    t = T.RandomCrop(5)
    a = t(img, np.random.default_rng(7))
    b = t(img, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"crop \(9, 9\) larger than the \(padded\) image"):
        T.RandomCrop(9)(img, np.random.default_rng(0))


def test_horizontal_flip():
    img = _img(2, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[:, :, [2, 1, 0]])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(img), img)
    rng = np.random.default_rng(0)
    flips = sum(T.RandomHorizontalFlip()(img, rng)[0, 0, 0] == 2 for _ in range(400))
    assert 150 < flips < 250


def test_center_crop_offsets():
    img = _img(1, 5, 6)
    # top = round((5 - 3) / 2) = 1, left = round((6 - 2) / 2) = 2
    np.testing.assert_array_equal(T.CenterCrop((3, 2))(img), img[:, 1:4, 2:4])
    # round half to even, as torchvision's int(round(...)): (4 - 1) / 2 = 1.5 -> 2
    np.testing.assert_array_equal(T.CenterCrop(1)(_img(1, 4, 4)), [[[10.0]]])
    with pytest.raises(ValueError, match="CenterCrop: crop"):
        T.CenterCrop(7)(img)


def test_resize_doubles_by_hand():
    img = np.array([[[0.0, 1.0]]], np.float32)                      # (1, 1, 2)
    # half-pixel centres: outputs sample x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped)
    out = T.Resize((1, 4))(img)
    np.testing.assert_allclose(out, [[[0.0, 0.25, 0.75, 1.0]]])


def test_resize_int_keeps_aspect_ratio():
    assert T.Resize(16)(_img(1, 8, 12)).shape == (1, 16, 24)
    assert T.Resize(10)(_img(3, 30, 20)).shape == (3, 15, 10)


@given(h=st.integers(1, 12), w=st.integers(1, 12), oh=st.integers(1, 20), ow=st.integers(1, 20),
       seed=st.integers(0, 2**32 - 1))
def test_resize_matches_torch_bilinear(h, w, oh, ow, seed):
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(seed).standard_normal((2, h, w))
    expected = torch.nn.functional.interpolate(torch.tensor(img)[None], size=(oh, ow),
                                               mode="bilinear", align_corners=False)[0]
    np.testing.assert_allclose(T.Resize((oh, ow))(img), expected.numpy(), rtol=1e-12,
                               atol=1e-12)


def test_random_resized_crop_fixed_scale_is_a_window():
    img = _img(1, 8, 8)
    # area fraction 1/4 and ratio 1 force a 4x4 window; resizing 4 -> 4 keeps it unchanged
    t = T.RandomResizedCrop(4, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    rng = np.random.default_rng(3)
    for _ in range(20):
        out = t(img, rng)
        top, left = divmod(int(out[0, 0, 0]), 8)
        np.testing.assert_array_equal(out, img[:, top:top + 4, left:left + 4])


def test_random_resized_crop_falls_back_to_center_crop():
    img = _img(1, 4, 12)
    # no ratio in [1, 1] fits a crop of 95%+ of a 4x12 image: central crop 4x4, ratio clamped
    t = T.RandomResizedCrop(4, scale=(0.95, 1.0), ratio=(1.0, 1.0))
    assert t.get_params(4, 12, np.random.default_rng(0)) == (0, 4, 4, 4)
    np.testing.assert_array_equal(t(img, np.random.default_rng(0)), img[:, :, 4:8])


def test_pca_lighting_adds_eigvecs_times_alphas_eigvals():
    # rotation about the blue axis by 30 degrees: columns are the eigenvectors
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    eigvecs = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    eigvals = np.array([0.2, 0.05, 0.01])
    alphas = np.array([0.1, -0.2, 0.3])
    t = T.PCALighting(eigvals, eigvecs)
    # by hand: alphas * eigvals = (0.02, -0.01, 0.003), then rotate
    expected = np.array([0.02 * c + 0.01 * s, 0.02 * s - 0.01 * c, 0.003])
    np.testing.assert_allclose(t.shift(alphas), expected, rtol=1e-15)
    img = np.random.default_rng(0).uniform(size=(3, 4, 5))
    out = t(img, np.random.default_rng(11))
    drawn = np.random.default_rng(11).normal(0.0, 0.1, 3)            # the alphas it drew
    np.testing.assert_allclose(out - img, np.broadcast_to(
        (eigvecs @ (drawn * eigvals))[:, None, None], img.shape), rtol=1e-12, atol=1e-15)


def test_pca_lighting_from_images_decomposes_rgb_covariance():
    rng = np.random.default_rng(0)
    mix = np.array([[1.0, 0.0, 0.0], [0.8, 0.3, 0.0], [0.5, 0.2, 0.1]])
    pixels = mix @ rng.standard_normal((3, 6 * 4 * 4))               # correlated RGB
    images = pixels.reshape(3, 6, 4, 4).transpose(1, 0, 2, 3)        # (N, 3, H, W)
    t = T.PCALighting.from_images(images)
    cov = mix @ mix.T                                                # population covariance
    sample_cov = np.cov(pixels)
    np.testing.assert_allclose(t.eigvecs @ np.diag(t.eigvals) @ t.eigvecs.T, sample_cov,
                               atol=1e-12)
    np.testing.assert_allclose(t.eigvecs.T @ t.eigvecs, np.eye(3), atol=1e-12)
    assert np.all(np.abs(sample_cov - cov) < 0.5)   # the estimate is near the truth
    with pytest.raises(ValueError, match=r"expected \(N, 3, H, W\)"):
        T.PCALighting.from_images(np.zeros((2, 1, 4, 4)))


def test_compose_passes_one_generator_through():
    img = _img(3, 6, 6)
    pipeline = T.Compose([T.Pad(1), T.RandomCrop(6), T.RandomHorizontalFlip(),
                          T.Normalize((1.0, 2.0, 3.0), (2.0, 2.0, 2.0))])
    a = pipeline(img, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    b = T.Pad(1)(img)
    b = T.RandomCrop(6)(b, rng)
    b = T.RandomHorizontalFlip()(b, rng)
    np.testing.assert_array_equal(a, (b - np.array([1.0, 2.0, 3.0])[:, None, None]) / 2.0)


def test_grayscale_luma_and_repeat():
    img = np.array([[[1.0]], [[0.5]], [[0.0]]], np.float32)         # (3, 1, 1)
    np.testing.assert_allclose(T.Grayscale()(img), [[[0.2989 + 0.2935]]], rtol=1e-6)
    grey = _img(1, 2, 2)
    out = T.Grayscale(3)(grey)
    assert out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out[2], grey[0])
