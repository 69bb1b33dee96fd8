"""layer_norm against finite differences and torch (1 to 3 normalized dims, with and
without weight and bias)."""
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


@st.composite
def layer_norm_cases(draw):
    shape = draw(shapes(1, 4, 1, 4))
    k = draw(st.integers(1, len(shape)))
    if int(np.prod(shape[len(shape) - k:])) == 1:   # one element: x̂ = 0, nothing to check
        shape = shape[:-1] + (2,)
    return shape, shape[len(shape) - k:], draw(st.booleans()), draw(st.booleans())


def _arrays(rng, case):
    shape, normalized, affine, bias = case
    return [values(rng, shape), values(rng, normalized) if affine else None,
            values(rng, normalized) if bias else None]


@given(case=layer_norm_cases(), seed=seeds)
def test_layer_norm_gradcheck(case, seed):
    arrays = _arrays(np.random.default_rng(seed), case)
    assert_gradcheck(lambda x, w, b: F.layer_norm(x, case[1], w, b), arrays,
                     requires_grad=[True, case[2], case[3]])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=layer_norm_cases(), seed=seeds, eps=st.sampled_from([1e-5, 0.1]))
def test_layer_norm_matches_torch(dtype, device, case, seed, eps):
    arrays = _arrays(np.random.default_rng(seed), case)
    assert_matches_torch(lambda x, w, b: F.layer_norm(x, case[1], w, b, eps),
                         lambda x, w, b: TF.layer_norm(x, case[1], w, b, eps), arrays, dtype,
                         seed=seed, device=device)


def test_layer_norm_rejects_shapes_that_do_not_match():
    with pytest.raises(ValueError, match=r"last 1 dims are normalized_shape \(4,\), got "
                                         r"\(2, 3\)"):
        F.layer_norm(sn.ones(2, 3), 4)
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) does not match"):
        F.layer_norm(sn.ones(2, 3), (3,), sn.ones(2))
