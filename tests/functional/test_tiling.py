"""clone, expand, repeat (and the transposes t, mT) against finite differences and torch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, shapes, values

torch = pytest.importorskip("torch")


@st.composite
def expand_cases(draw):
    """A shape with some sides 1, and sizes that grow those, keep others (or -1) and may add
    leading dims."""
    shape = draw(shapes(0, 3, 1, 3))
    shape = tuple(1 if draw(st.booleans()) else n for n in shape)
    sizes = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    for n in shape:
        if n == 1:
            sizes.append(draw(st.sampled_from([1, 2, 3, -1])))
        else:
            sizes.append(draw(st.sampled_from([n, -1])))
    return shape, tuple(sizes)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=expand_cases(), seed=seeds)
def test_expand_matches_torch_and_finite_differences(dtype, device, case, seed):
    shape, sizes = case
    x = values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: t.expand(sizes), lambda t: t.expand(sizes), [x], dtype,
                         seed=seed, device=device)
    if device == "cpu":
        assert_gradcheck(lambda t: F.expand(t, sizes), [x])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(shape=shapes(0, 3, 1, 3), data=st.data(), seed=seeds)
def test_repeat_matches_torch_and_finite_differences(dtype, device, shape, data, seed):
    repeats = tuple(data.draw(st.lists(st.integers(0, 3), min_size=len(shape),
                                       max_size=len(shape) + 2), label="repeats"))
    x = values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda t: t.repeat(repeats), lambda t: t.repeat(repeats), [x], dtype,
                         seed=seed, device=device)
    if device == "cpu":
        assert_gradcheck(lambda t: F.repeat(t, repeats), [x])


def test_clone_contiguous_and_transposes_match_torch():
    x = values(np.random.default_rng(0), (2, 3, 4))
    for op in (lambda t: t.clone() * 2, lambda t: t.mT, lambda t: t[0].t(),
               lambda t: t.transpose(0, 2).contiguous(), lambda t: t[:1].expand_as(t),
               lambda t: t.view_as(t.reshape(4, 6)), lambda t: t[0, 0].t()):
        assert_matches_torch(op, op, [x])
    t = sn.tensor(x)
    assert t.transpose(0, 2).contiguous().is_contiguous() and not t.transpose(0, 2).is_contiguous()
    assert t.contiguous() is t
    clone = t.clone()
    assert not np.shares_memory(clone.data, t.data)


def test_expand_and_repeat_errors_as_torch():
    with pytest.raises(ValueError, match=r"expanded size of the tensor \(3\) must match the "
                                         r"existing size \(2\) at non-singleton dimension 1"):
        sn.ones(1, 2).expand(2, 3)
    with pytest.raises(ValueError, match="-1 is not allowed in a leading"):
        sn.ones(2).expand(-1, 2)
    with pytest.raises(ValueError, match="can not be smaller than number of dimensions"):
        sn.ones(2, 2).repeat(2)
    with pytest.raises(ValueError, match=r"t\(\) expects a tensor with <= 2 dimensions"):
        sn.ones(2, 2, 2).t()
