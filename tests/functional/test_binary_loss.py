"""binary_cross_entropy and binary_cross_entropy_with_logits against finite differences and
torch: weights, pos_weight, every reduction, soft targets (with their gradient), saturated
probabilities and huge logits."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@st.composite
def bce_cases(draw):
    """shape (…, C), reduction, and whether a weight (broadcast) and a pos_weight (C,) are
    given."""
    shape = draw(shapes(1, 3, 1, 4))
    return shape, draw(REDUCTIONS), draw(st.booleans()), draw(st.booleans())


def _arrays(rng, shape, with_weight, with_pos_weight):
    target = rng.uniform(0, 1, shape)                            # soft labels
    weight = rng.uniform(0.5, 2, shape[-1:]) if with_weight else None
    pos_weight = rng.uniform(0.5, 3, shape[-1:]) if with_pos_weight else None
    return target, weight, pos_weight


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=bce_cases(), seed=seeds)
def test_bce_with_logits_matches_torch(dtype, device, case, seed):
    shape, reduction, with_weight, with_pos_weight = case
    rng = np.random.default_rng(seed)
    target, weight, pos_weight = _arrays(rng, shape, with_weight, with_pos_weight)
    x = values(rng, shape, low=-8, high=8)
    assert_matches_torch(
        lambda x, t, w, p: F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction,
                                                              pos_weight=p),
        lambda x, t, w, p: TF.binary_cross_entropy_with_logits(x, t, w, reduction=reduction,
                                                               pos_weight=p),
        [x, target, weight, pos_weight], dtype, requires_grad=[True, True, False, False],
        seed=seed, device=device)


@given(case=bce_cases(), seed=seeds)
def test_bce_with_logits_gradcheck(case, seed):
    shape, reduction, with_weight, with_pos_weight = case
    rng = np.random.default_rng(seed)
    target, weight, pos_weight = _arrays(rng, shape, with_weight, with_pos_weight)
    assert_gradcheck(
        lambda x, t, w, p: F.binary_cross_entropy_with_logits(x, t, w, reduction=reduction,
                                                              pos_weight=p),
        [values(rng, shape, low=-8, high=8), target, weight, pos_weight],
        requires_grad=[True, True, False, False])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=bce_cases(), seed=seeds)
def test_bce_matches_torch_and_finite_differences(dtype, device, case, seed):
    shape, reduction, with_weight, _ = case
    rng = np.random.default_rng(seed)
    target, weight, _ = _arrays(rng, shape, with_weight, False)
    p = rng.uniform(0.05, 0.95, shape)
    assert_matches_torch(lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction),
                         lambda p, t, w: TF.binary_cross_entropy(p, t, w, reduction=reduction),
                         [p, target, weight], dtype, requires_grad=[True, True, False],
                         seed=seed, device=device)
    if dtype == np.float64 and device == "cpu":
        assert_gradcheck(lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction),
                         [p, target, weight], requires_grad=[True, True, False])


@pytest.mark.parametrize("dtype", FLOATS)
def test_saturated_inputs_give_torchs_finite_values(dtype):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    out = assert_matches_torch(lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
                               lambda p, t: TF.binary_cross_entropy(p, t, reduction="none"),
                               [p, t], dtype, requires_grad=[False, True])
    assert out[0].detach().numpy().max() == 100.0           # log clamped at −100
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    assert_matches_torch(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
                         lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction="sum"),
                         [x, t], dtype)


def test_bce_errors_name_the_op():
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(sn.tensor([1.5]), sn.tensor([1.0]))
    with pytest.raises(ValueError, match=r"target size \(\(2,\)\) that is different to the "
                                         r"input size \(\(3,\)\)"):
        F.binary_cross_entropy_with_logits(sn.ones(3), sn.ones(2))
    with pytest.raises(TypeError, match="expected a floating point target"):
        F.binary_cross_entropy_with_logits(sn.ones(2), sn.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(sn.ones(2, 2), sn.ones(2, 2), pos_weight=sn.ones(3))
    for kwargs in (dict(weight=sn.ones(2, requires_grad=True)),
                   dict(pos_weight=sn.ones(2, requires_grad=True))):
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
            F.binary_cross_entropy_with_logits(sn.ones(2), sn.ones(2), **kwargs)
