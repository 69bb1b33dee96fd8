"""scratchnet.evaluation: the test-time crops (torchvision's geometry, written out by hand on
a 4x4 image), predict's softmax averages over views and ensemble's over members, checked
against averages computed here from those hand-written crops."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import evaluation, nn
from scratchnet.data import DataLoader, TensorDataset

IMAGE = np.arange(16, dtype=np.float32).reshape(1, 4, 4)       # one channel, values 0..15
# The 2x2 crops of IMAGE, by hand: corners, then the centre (top = left = round((4-2)/2) = 1)
CROPS = [[[0, 1], [4, 5]], [[2, 3], [6, 7]], [[8, 9], [12, 13]], [[10, 11], [14, 15]],
         [[5, 6], [9, 10]]]
# ... and of its mirror image (rows 3 2 1 0 / 7 6 5 4 / 11 10 9 8 / 15 14 13 12)
FLIPPED = [[[3, 2], [7, 6]], [[1, 0], [5, 4]], [[11, 10], [15, 14]], [[9, 8], [13, 12]],
           [[6, 5], [10, 9]]]


def test_five_and_ten_crop_cut_torchvisions_windows():
    five = evaluation.five_crop(IMAGE, 2)
    assert [c[0].tolist() for c in five] == CROPS
    ten = evaluation.ten_crop(IMAGE, 2)
    assert [c[0].tolist() for c in ten] == CROPS + FLIPPED
    assert evaluation.center_crop(IMAGE, 2)[0].tolist() == CROPS[4]


def test_crops_of_a_batch_and_non_square_sizes():
    batch = np.stack([IMAGE, IMAGE + 100])                       # (2, 1, 4, 4)
    tl, tr, bl, br, centre = evaluation.five_crop(batch, (3, 2))  # 3 rows, 2 columns
    assert tl.shape == (2, 1, 3, 2)
    assert tr[1, 0].tolist() == [[102, 103], [106, 107], [110, 111]]
    # top = round(0.5) = 0 (Python rounds halves to even, as torchvision relies on), left = 1
    assert centre[0, 0].tolist() == [[1, 2], [5, 6], [9, 10]]
    vflip = evaluation.ten_crop(batch, 2, vertical_flip=True)[5]
    assert vflip[0, 0].tolist() == [[12, 13], [8, 9]]


def test_views_per_mode_and_a_crop_too_large():
    assert [len(evaluation.views(IMAGE, m, 2)) for m in evaluation.TTA_MODES] == [1, 2, 5, 10]
    assert evaluation.views(IMAGE, "flip", 2)[1][0].tolist() == [[6, 5], [10, 9]]
    with pytest.raises(ValueError, match="crop 5x5 does not fit images of 4x4"):
        evaluation.five_crop(IMAGE, 5)
    with pytest.raises(ValueError, match="must be one of none, flip, five-crop, ten-crop"):
        evaluation.views(IMAGE, "twelve-crop", 2)


def _linear_model():
    """Flatten, then a linear layer 4 -> 3 with weights chosen by hand."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    model[1].weight.data[...] = [[0.1, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.1],
                                 [0.05, 0.05, 0.05, 0.05]]
    model[1].bias.data[...] = [0.0, 0.5, -0.5]
    return model


def _softmax_by_hand(crop):
    a, b, c, d = np.asarray(crop, np.float64).ravel()
    z = np.array([0.1 * a, 0.1 * d + 0.5, 0.05 * (a + b + c + d) - 0.5])
    return np.exp(z) / np.exp(z).sum()


@pytest.mark.parametrize("mode, crops", [("none", [CROPS[4]]),
                                         ("flip", [CROPS[4], FLIPPED[4]]),
                                         ("five-crop", CROPS),
                                         ("ten-crop", CROPS + FLIPPED)])
def test_predict_averages_the_softmax_of_the_views(mode, crops):
    images = np.stack([IMAGE, IMAGE])
    loader = DataLoader(TensorDataset(images, np.array([0, 2])), batch_size=1)
    p = evaluation.predict(_linear_model(), loader, tta=mode, crop=2)
    expected = np.mean([_softmax_by_hand(c) for c in crops], axis=0)
    np.testing.assert_allclose(p.probs, [expected, expected], rtol=1e-6)
    np.testing.assert_allclose(p.centre[0], _softmax_by_hand(CROPS[4]), rtol=1e-6)
    assert p.labels.tolist() == [0, 2]
    assert p.loss == pytest.approx(-(np.log(expected[0]) + np.log(expected[2])) / 2, rel=1e-6)


def test_predict_restores_the_training_mode_and_records_no_graph():
    model = _linear_model()
    model.train()
    loader = DataLoader(TensorDataset(IMAGE[None], np.array([1])), batch_size=1)
    evaluation.predict(model, loader, tta="ten-crop", crop=2)
    assert model.training and model[1].weight.grad is None


def test_ensemble_averages_the_members_softmax():
    labels = np.array([0, 1])
    a = evaluation.Predictions(np.array([[0.6, 0.4], [0.2, 0.8]]),
                               np.array([[0.5, 0.5], [0.1, 0.9]]), labels)
    b = evaluation.Predictions(np.array([[0.2, 0.8], [0.4, 0.6]]),
                               np.array([[0.3, 0.7], [0.3, 0.7]]), labels)
    both = evaluation.ensemble([a, b])
    np.testing.assert_allclose(both.probs, [[0.4, 0.6], [0.3, 0.7]])
    np.testing.assert_allclose(both.centre, [[0.4, 0.6], [0.2, 0.8]])
    other = evaluation.Predictions(a.probs, a.centre, np.array([1, 1]))
    with pytest.raises(ValueError, match="member 2 was evaluated on other data"):
        evaluation.ensemble([a, other])


def test_ensemble_of_two_different_models_through_predict():
    sn.manual_seed(0)
    images = np.random.default_rng(0).standard_normal((6, 1, 4, 4)).astype(np.float32)
    loader = DataLoader(TensorDataset(images, np.arange(6) % 3), batch_size=4)
    linear = _linear_model()
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    p = evaluation.predict(linear, loader, crop=2)     # the central 2x2: 4 inputs
    q = evaluation.predict(mlp, loader)                # no crop: the whole 4x4 image
    with sn.no_grad():
        logits = mlp(sn.tensor(images)).numpy().astype(np.float64)
    assert p.probs.shape == q.probs.shape == (6, 3)
    z = logits - logits.max(axis=1, keepdims=True)
    np.testing.assert_allclose(q.probs, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
                               rtol=1e-5)
    np.testing.assert_allclose(evaluation.ensemble([p, q]).probs, (p.probs + q.probs) / 2)
