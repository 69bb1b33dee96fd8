"""& | ^ ~ and logical_* against torch; float tensors refused as torch refuses them."""
import numpy as np
import pytest

import scratchnet as sn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.uint8])
def test_bitwise_operators_match_torch(dtype):
    a = np.array([[0, 1, 1, 0]], dtype)
    b = np.array([[0], [1]], dtype)
    ours, theirs = (sn.tensor(a), sn.tensor(b)), (torch.tensor(a), torch.tensor(b))
    for op in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x,
               lambda x, y: x & True if x.dtype == np.bool_ or x.dtype == torch.bool else x & 1,
               lambda x, y: (x > 0).logical_not()):
        out, expected = op(*ours), op(*theirs)
        assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", ""))
        np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_logical_functions_match_torch_on_floats():
    a, b = np.array([0.0, 2.0, -1.0, 0.0]), np.array([1.0, 0.0, 3.0, 0.0])
    for name in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(sn, name)(sn.tensor(a), sn.tensor(b)).numpy(),
                                      getattr(torch, name)(torch.tensor(a),
                                                           torch.tensor(b)).numpy())


def test_bitwise_ops_refuse_float_tensors():
    with pytest.raises(TypeError, match="bitwise_and: only bool and integer tensors"):
        sn.ones(2) & sn.ones(2)
    with pytest.raises(TypeError, match="bitwise_not: only bool and integer tensors"):
        ~sn.ones(2)
