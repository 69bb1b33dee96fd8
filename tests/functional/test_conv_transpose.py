"""conv_transpose2d against finite differences and torch: strides, padding, output_padding,
dilation, groups, non-square everything, bias or not."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, values

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@st.composite
def conv_transpose_cases(draw):
    """Shapes and arguments built valid: output_padding < max(stride, dilation), padding
    small enough to leave a positive output."""
    groups = draw(st.integers(1, 2))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    full = [(size - 1) * s + d * (k - 1) + o + 1 for size, s, d, k, o in zip(
        (h, w), stride, dilation, kernel, output_padding)]
    padding = tuple(draw(st.integers(0, (f - 1) // 2)) for f in full)
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)
    return (n, c_in, h, w), (c_in, c_out // groups) + kernel, draw(st.booleans()), kwargs


def _arrays(rng, case):
    x_shape, w_shape, bias, _ = case
    return [values(rng, x_shape), values(rng, w_shape),
            values(rng, (w_shape[1] * case[3]["groups"],)) if bias else None]


@given(case=conv_transpose_cases(), seed=seeds)
def test_conv_transpose2d_gradcheck(case, seed):
    assert_gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **case[3]),
                     _arrays(np.random.default_rng(seed), case),
                     requires_grad=[True, True, case[2]])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@given(case=conv_transpose_cases(), seed=seeds)
def test_conv_transpose2d_matches_torch(dtype, device, case, seed):
    assert_matches_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **case[3]),
                         lambda x, w, b: TF.conv_transpose2d(x, w, b, **case[3]),
                         _arrays(np.random.default_rng(seed), case), dtype, seed=seed,
                         device=device)


def test_conv_transpose2d_of_an_unbatched_input_matches_torch():
    rng = np.random.default_rng(0)
    assert_matches_torch(lambda x, w: F.conv_transpose2d(x, w, stride=2),
                         lambda x, w: TF.conv_transpose2d(x, w, stride=2),
                         [values(rng, (2, 3, 3)), values(rng, (2, 4, 3, 3))])


@pytest.mark.parametrize("call, message", [
    (lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=2),
     r"output_padding \(2, 2\) must be smaller than either stride \(2, 2\) or dilation"),
    (lambda x, w: F.conv_transpose2d(x, sn.ones(3, 4, 3, 3)),
     r"input \(1, 2, 4, 4\) has 2 channels but weight \(3, 4, 3, 3\) expects 3"),
    (lambda x, w: F.conv_transpose2d(x, w, sn.ones(3)),
     r"bias of shape \(3,\) does not match the 4 output channels"),
    (lambda x, w: F.conv_transpose2d(x, w, padding=4),
     r"gives output size \(-2, -2\), which is too small"),
])
def test_conv_transpose2d_bad_arguments_raise_naming_the_op(call, message):
    with pytest.raises(ValueError, match="conv_transpose2d: .*" + message):
        call(sn.ones(1, 2, 4, 4), sn.ones(2, 4, 3, 3))
