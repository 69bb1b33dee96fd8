"""The fused SGD kernel equals its array reference, and the optimizer makes one call into it."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.kernels import sgd
from tests.kernels.paths import PARALLEL_PATHS, forced

OPTIONS = [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3),
           dict(momentum=0.8, nesterov=True, weight_decay=0.1),
           dict(momentum=0.5, weight_decay=0.01, maximize=True)]


def _trajectory(update, options, dtype):
    """Four steps of ``update`` from the same start and gradients: (θ, b)."""
    rng = np.random.default_rng(0)
    param, buf = rng.standard_normal((7, 5)).astype(dtype), None
    kwargs = dict(dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                       maximize=False), **options)
    for _ in range(4):
        grad = rng.standard_normal((7, 5)).astype(dtype)
        buf = update(param, grad, buf, 0.05, **kwargs)
    return param, buf


@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sgd_equals_the_reference(options, dtype, path):
    with forced(path):
        fused, fused_buf = _trajectory(sgd.sgd_update, options, dtype)
    ref, ref_buf = _trajectory(sgd.sgd_update_reference, options, dtype)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fused, ref, **tol)
    assert fused.dtype == dtype
    if options["momentum"]:
        np.testing.assert_allclose(fused_buf, ref_buf, **tol)
    else:
        assert fused_buf is ref_buf is None


def test_optimizer_step_is_one_kernel_call_and_keeps_the_buffer(monkeypatch):
    calls = []
    update = sgd.sgd_update

    def counted(*args):
        calls.append(args)
        return update(*args)
    monkeypatch.setattr("scratchnet.optim.sgd.sgd_update", counted)
    p = sn.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = sn.optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = sn.tensor(np.full(3, 2.0, np.float32))
    opt.step()
    assert len(calls) == 1
    np.testing.assert_array_equal(p.detach().numpy(), [0, 0, 0])          # 1 − 0.5·2
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["momentum_buffer"], [2, 2, 2])


def test_non_contiguous_parameters_take_the_reference():
    param = np.ones((4, 4))[:, ::2]
    buf = sgd.sgd_update(param, np.full((4, 2), 2.0), None, 0.5, 0.9, 0.0, 0.0, False, False)
    np.testing.assert_array_equal(param, 0.0)
    np.testing.assert_array_equal(buf, 2.0)
