"""softplus, logsigmoid, gelu (both forms) against finite differences and torch, in both
tails and across softplus's threshold."""
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

CASES = {
    "softplus": (F.softplus, TF.softplus, {}),
    "softplus beta 2, threshold 5": (F.softplus, TF.softplus, dict(beta=2.0, threshold=5.0)),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid, {}),
    "gelu": (F.gelu, TF.gelu, {}),
    "gelu tanh": (F.gelu, TF.gelu, dict(approximate="tanh")),
}


def _away_from_threshold(x, kwargs):
    """Softplus switches formula at βx = threshold; keep finite differences off the seam."""
    if "threshold" in kwargs:
        seam = kwargs["threshold"] / kwargs["beta"]
        x = np.where(np.abs(x - seam) < 0.05, x + 0.1, x)
    return x


@pytest.mark.parametrize("name", CASES)
@given(shape=shapes(0, 3), seed=seeds)
def test_smooth_activation_gradcheck(name, shape, seed):
    op, _, kwargs = CASES[name]
    x = _away_from_threshold(values(np.random.default_rng(seed), shape, low=-6, high=6), kwargs)
    assert_gradcheck(lambda t: op(t, **kwargs), [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", CASES)
@given(shape=shapes(0, 3), seed=seeds, scale=st.sampled_from([1.0, 30.0]))
def test_smooth_activation_matches_torch(name, dtype, device, shape, seed, scale):
    op, torch_op, kwargs = CASES[name]
    x = values(np.random.default_rng(seed), shape, low=-3 * scale, high=3 * scale)
    assert_matches_torch(lambda t: op(t, **kwargs), lambda t: torch_op(t, **kwargs), [x], dtype,
                         seed=seed, device=device)


@pytest.mark.parametrize("dtype", FLOATS)
def test_tails_are_exact_as_torchs(dtype):
    x = np.array([-200.0, -40.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 40.0, 200.0])
    for op, torch_op in [(F.softplus, TF.softplus), (F.logsigmoid, TF.logsigmoid),
                         (F.gelu, TF.gelu)]:
        out = assert_matches_torch(op, torch_op, [x], dtype)
        assert np.all(np.isfinite(out[0].detach().numpy()))


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(sn.ones(2), "erf")
