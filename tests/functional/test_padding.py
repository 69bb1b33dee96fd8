"""F.pad (constant, reflect, replicate, circular; negative amounts crop) against finite differences,
torch and hand-worked examples."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")

MODES = ["constant", "reflect", "replicate", "circular"]


@st.composite
def pad_cases(draw, mode):
    """(shape, pad, value) valid for ``mode``: k padded dims (any number for constant; 1 to 3
    with k+1 or k+2 dims otherwise), each side from a crop that leaves at least one element
    (torch's reflect backward returns uninitialised memory for an empty output) to a pad of 3
    (reflect: at most n − 1; circular: at most what is left after the other side's crop)."""
    if mode == "constant":
        ndim = draw(st.integers(1, 4))
        k = draw(st.integers(1, ndim))
    else:
        k = draw(st.integers(1, 3))
        ndim = draw(st.integers(k + 1, k + 2))
    shape = draw(shapes(ndim, ndim, 1, 4 if ndim < 4 else 3))
    pad = []
    for dim in reversed(range(ndim - k, ndim)):               # pairs start at the last dim
        n = shape[dim]
        high = {"reflect": n - 1, "circular": (n + 1) // 2}.get(mode, 3)
        pad += [draw(st.integers(-((n - 1) // 2), high)) for _ in range(2)]
    value = draw(st.sampled_from([0.0, 1.5, -2.0])) if mode == "constant" else None
    return shape, tuple(pad), value


@pytest.mark.parametrize("mode", MODES)
@given(data=st.data(), seed=seeds)
def test_pad_gradcheck(mode, data, seed):
    shape, pad, value = data.draw(pad_cases(mode), label="case")
    x = values(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda x: F.pad(x, pad, mode, value), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
@given(data=st.data(), seed=seeds)
def test_pad_matches_torch(dtype, device, mode, data, seed):
    shape, pad, value = data.draw(pad_cases(mode), label="case")
    x = values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda x: F.pad(x, pad, mode, value),
                         lambda x: torch.nn.functional.pad(x, pad, mode, value),
                         [x], dtype=dtype, device=device, seed=seed)


@pytest.mark.parametrize("mode, output, grad", [
    # x = (1, 2, 3) padded (2, 1); the gradient of all-ones counts the copies of each element
    ("constant", [0, 0, 1, 2, 3, 0], [1, 1, 1]),
    ("reflect", [3, 2, 1, 2, 3, 2], [1, 3, 2]),
    ("replicate", [1, 1, 1, 2, 3, 3], [3, 1, 2]),
    ("circular", [2, 3, 1, 2, 3, 1], [2, 2, 2]),
])
def test_pad_by_hand(mode, output, grad):
    x = sn.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    y = F.pad(x, (2, 1), mode)
    y.backward(np.ones((1, 6)))
    np.testing.assert_array_equal(y.detach().numpy()[0], output)
    np.testing.assert_array_equal(x.grad.numpy()[0], grad)


def test_negative_pad_crops_and_reflects_about_the_original_border():
    x = sn.tensor(np.array([[0.0, 1.0, 2.0]]))
    np.testing.assert_array_equal(F.pad(x, (-1, 2), "reflect").numpy()[0], [1, 2, 1, 0])
    np.testing.assert_array_equal(F.pad(x, (-2, 1), value=7.0).numpy()[0], [2, 7])


@pytest.mark.parametrize("call, message", [
    (lambda x: F.pad(x, (1,)), r"padding length must be divisible by 2, got \(1,\)"),
    (lambda x: F.pad(x, (1, 1) * 4), r"pads 4 dims but the input of shape \(2, 3, 4\) has 3"),
    (lambda x: F.pad(x, (1, 1), "wrap"), "unknown padding mode 'wrap'"),
    (lambda x: F.pad(x, (5, 0), "circular"), r"circular padding \(5, 0\) of dim 2 .* wraps "
     "around more than once"),
    (lambda x: F.pad(x, (4, 0), "reflect"),
     r"reflect padding \(4, 0\) must be less than the size 4 of dim 2"),
    (lambda x: F.pad(x, (1, 1), "reflect", value=2.0), "doesn't take a value argument"),
    (lambda x: F.pad(x, (1, 1) * 3, "replicate"),
     r"replicate padding of 3 dims needs an input of 4 or 5 dims, got shape \(2, 3, 4\)"),
    (lambda x: F.pad(x, (-3, -2)), r"padding \(-3, -2\) crops more than the 4 elements of dim 2"),
])
def test_pad_bad_arguments(call, message):
    with pytest.raises(ValueError, match="pad: .*" + message):
        call(sn.ones(2, 3, 4))
