"""ImageFolder on files written with Pillow: torchvision's layout, decoding, the stratified
held-out split and AlexNet's crops in the folder pipeline."""
import os
import sys

import numpy as np
import pytest

from scratchnet.data import (DataError, DataFileNotFound, ImageFolder, load_image, pipeline,
                             stratified_split)

from .files import write_image_folder

pytest.importorskip("PIL", reason="ImageFolder decodes with Pillow (the images extra)")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pics"
    written = write_image_folder(root, per_class=4)
    (root / "cat" / "notes.txt").write_text("not an image")
    os.makedirs(root / ".thumbnails")
    return root, written


def test_layout_classes_and_samples_as_torchvision(folder):
    root, _ = folder
    ds = ImageFolder(root)
    assert ds.classes == ["cat", "dog", "fox"]
    assert ds.class_to_idx == {"cat": 0, "dog": 1, "fox": 2}
    assert len(ds) == 12 and ds.targets == [0] * 4 + [1] * 4 + [2] * 4
    assert [os.path.basename(p) for p, _ in ds.samples[:4]] == ["0.png", "1.jpg", "2.png",
                                                                 "3.jpg"]
    assert ds.imgs is ds.samples


def test_png_decodes_exactly_to_chw_floats(folder):
    root, written = folder
    ds = ImageFolder(root)
    path, target = ds.samples[4]                     # dog/0.png, 40x48
    image, label = ds[4]
    assert (label, target) == (1, 1) and image.dtype == np.float32
    assert image.shape == (3, 40, 48)
    np.testing.assert_array_equal(image, written[path].transpose(2, 0, 1) / np.float32(255))


def test_grey_mode_and_shorter_side_resize(folder):
    root, written = folder
    path = str(root / "fox" / "1.jpg")               # 48 rows x 40 columns
    grey = load_image(path, mode="L")
    assert grey.shape == (1, 48, 40)
    assert load_image(path, shorter_side=20).shape == (3, 24, 20)   # torchvision's Resize(20)
    assert load_image(str(root / "fox" / "0.png"), shorter_side=30).shape == (3, 30, 36)
    pixels = written[str(root / "fox" / "0.png")].astype(np.float64)
    luma = load_image(str(root / "fox" / "0.png"), mode="L")[0] * 255
    # ITU-R 601-2 luma, Pillow's L conversion, to within its integer rounding
    np.testing.assert_allclose(luma, pixels @ [0.299, 0.587, 0.114], atol=1.01)


def test_transform_and_target_transform_are_applied(folder):
    root, _ = folder
    calls = []

    def transform(image, rng):
        calls.append(rng)
        return image[:, :2, :2]
    ds = ImageFolder(root, transform=transform, target_transform=lambda t: t + 10)
    image, target = ds.get(0, rng="the batch's generator")
    assert image.shape == (3, 2, 2) and target == 10 and calls == ["the batch's generator"]


def test_unreadable_image_names_the_file(folder):
    root, _ = folder
    bad = root / "dog" / "9.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    ds = ImageFolder(root)
    index = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(DataError, match=r"cannot decode the image .*dog/9\.png"):
        ds[index]


def test_missing_pillow_says_how_to_install_it(folder, monkeypatch):
    root, _ = folder
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"needs Pillow.*pip install 'scratchnet\[images\]'"):
        ImageFolder(root)[0]


def test_errors_for_empty_and_missing_folders(tmp_path):
    with pytest.raises(DataFileNotFound, match="no folder"):
        ImageFolder(tmp_path / "nowhere")
    with pytest.raises(DataFileNotFound, match="has no class sub-folders"):
        ImageFolder(tmp_path)
    os.makedirs(tmp_path / "cat")
    with pytest.raises(DataFileNotFound, match=r"no image files in .*cat"):
        ImageFolder(tmp_path)
    assert len(ImageFolder(tmp_path, allow_empty=True)) == 0


def test_val_folder_keeps_the_training_indices(tmp_path):
    write_image_folder(tmp_path / "train", per_class=2)
    write_image_folder(tmp_path / "val", per_class=1,
                       classes={"fox": (20, 20, 90)})            # only the last class
    train, val = pipeline.load_datasets("folder", str(tmp_path))
    assert val.classes == train.classes == ["cat", "dog", "fox"]
    assert val.targets == [2] and len(train) == 6
    write_image_folder(tmp_path / "val", per_class=1, classes={"owl": (9, 9, 9)})
    with pytest.raises(DataError, match=r"classes \['owl'\] that are not among the 3 given"):
        pipeline.load_datasets("folder", str(tmp_path))


def test_stratified_split_holds_out_a_tenth_of_every_class():
    targets = [0] * 20 + [1] * 10 + [2] * 1 + [3] * 3
    train, held = stratified_split(targets, 0.1, seed=0)
    assert sorted(train + held) == list(range(len(targets)))
    assert [sum(targets[i] == c for i in held) for c in range(4)] == [2, 1, 0, 1]
    assert stratified_split(targets, 0.1, seed=0) == (train, held)
    assert stratified_split(targets, 0.1, seed=1) != (train, held)


def test_folder_without_train_and_val_is_split(folder):
    root, _ = folder
    train, held = pipeline.load_datasets("folder", str(root))
    assert len(train) == 9 and len(held) == 3 and sorted(held.targets) == [0, 1, 2]
    assert not set(train.samples) & set(held.samples)


def test_alexnet_recipe_resize_square_then_crop(folder):
    root, _ = folder
    train, held = pipeline.build("folder", (3, 32, 32), str(root))   # R = 32 * 256/224 = 37
    path = held.samples[0][0]
    decoded = load_image(path, shorter_side=37)                      # 37 x 44 or 44 x 37
    # torchvision's centre offsets: round((44 - 37) / 2) = round(3.5) = 4, round(2.5) = 2
    top, left = {(37, 44): (0, 4), (44, 37): (4, 0)}[decoded.shape[1:]]
    square = decoded[:, top:top + 37, left:left + 37]
    centre = square[:, 2:34, 2:34]
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    np.testing.assert_allclose(held[0][0], (centre - mean) / std, rtol=1e-6, atol=1e-6)
    assert train.get(0, np.random.default_rng(0))[0].shape == (3, 32, 32)
    _, uncropped = pipeline.build("folder", (3, 32, 32), str(root), held_out_crop=False)
    assert uncropped[0][0].shape == (3, 37, 37)
    grey, _ = pipeline.build("folder", (1, 32, 32), str(root), resize=40)
    assert grey.get(0, np.random.default_rng(0))[0].shape == (1, 32, 32)
    with pytest.raises(DataError, match="--resize 30 is smaller than the model's 32x32"):
        pipeline.build("folder", (3, 32, 32), str(root), resize=30)
    with pytest.raises(DataError, match="--dataset folder needs --data-dir"):
        pipeline.build("folder", (3, 32, 32))
