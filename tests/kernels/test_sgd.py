"""The fused SGD kernel equals the NumPy update it replaces (SGD._update's reference path)."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.optim import sgd as sgd_module

OPTIONS = [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3),
           dict(momentum=0.8, nesterov=True, weight_decay=0.1),
           dict(momentum=0.5, weight_decay=0.01, maximize=True)]


def _trajectory(options, dtype, fused, monkeypatch):
    if not fused:
        monkeypatch.setattr(sgd_module, "can_fuse", lambda param, grad: False)
    rng = np.random.default_rng(0)
    p = sn.tensor(rng.standard_normal((7, 5)).astype(dtype), requires_grad=True)
    opt = sn.optim.SGD([p], lr=0.05, **options)
    for _ in range(4):
        p.grad = sn.tensor(rng.standard_normal((7, 5)).astype(dtype))
        opt.step()
    monkeypatch.undo()
    return p.detach().numpy(), opt.state_dict()["state"]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sgd_equals_numpy_reference(options, dtype, monkeypatch):
    fused, fused_state = _trajectory(options, dtype, True, monkeypatch)
    ref, ref_state = _trajectory(options, dtype, False, monkeypatch)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fused, ref, **tol)
    assert fused.dtype == dtype
    if options["momentum"]:
        np.testing.assert_allclose(fused_state[0]["momentum_buffer"],
                                   ref_state[0]["momentum_buffer"], **tol)
    else:
        assert fused_state == ref_state == {}


def test_fused_kernel_body_runs_as_python():
    """The jitted body itself, interpreted, so coverage sees it without NUMBA_DISABLE_JIT."""
    from scratchnet.kernels.sgd import _sgd_numba
    p, g, b = np.ones(3), np.full(3, 2.0), np.zeros(3)
    _sgd_numba.py_func(p, g, b, 0.5, 0.9, 1.0, 0.0, False, False, True)
    np.testing.assert_array_equal(b, [2, 2, 2])        # first step: b = g
    np.testing.assert_array_equal(p, [0, 0, 0])        # 1 - 0.5 * 2
