"""The CUDA twins of LRN, batch norm and the SGD update against their NumPy references, and the
Adam update's against its Numba twin (itself checked against torch: test_adam.py), under
hypothesis: on the CuPy stand-in (their CUDA bodies compiled for the CPU by
tests/standin/harness.py, about a thousand threads a case) and on a real GPU when there is
one. im2col/col2im and max pooling get the same check in their own test files, whose device
list includes the stand-in."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.backend import to_device, to_numpy
from scratchnet.kernels import batch_norm as bn
from scratchnet.kernels import adam, lrn, sgd
from tests.helpers import DEVICES
from tests.strategies import seeds

GPU_DEVICES = DEVICES[1:]                        # the stand-in, then a real GPU
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
dtypes = st.sampled_from([np.float32, np.float64])
# (N, C, L) up to about a thousand elements, so a thousand threads
ncl_shapes = st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 30))


def _assert_close(ours, ref, dtype):
    assert ours.dtype == dtype
    np.testing.assert_allclose(to_numpy(ours), ref, **TOLERANCE[dtype])


@pytest.mark.parametrize("device", GPU_DEVICES)
@given(shape=ncl_shapes, size=st.integers(1, 7), dtype=dtypes, seed=seeds,
       constants=st.sampled_from([(1e-4, 0.75, 2.0), (2.5, 0.75, 1.5), (1.0, 1.5, 1.0)]))
def test_lrn_twin_matches_reference(device, shape, size, dtype, seed, constants):
    alpha, beta, k = constants                   # large alpha too: the window must matter
    rng = np.random.default_rng(seed)
    x, gy = (rng.uniform(-2, 2, shape).astype(dtype) for _ in range(2))
    y_ref, scale_ref = lrn.lrn_forward_reference(x, size, alpha, beta, k)
    gx_ref = lrn.lrn_backward_reference(x, scale_ref, gy, size, alpha, beta, k)
    x_d = to_device(x, device)
    y, scale = lrn.lrn_forward(x_d, size, alpha, beta, k)
    gx = lrn.lrn_backward(x_d, scale, to_device(gy, device), size, alpha, beta, k)
    for ours, ref in ((y, y_ref), (scale, scale_ref), (gx, gx_ref)):
        _assert_close(ours, ref, dtype)


@pytest.mark.parametrize("device", GPU_DEVICES)
@given(shape=ncl_shapes, dtype=dtypes, seed=seeds, batch=st.booleans(), need_gx=st.booleans())
def test_batch_norm_twins_match_reference(device, shape, dtype, seed, batch, need_gx):
    rng = np.random.default_rng(seed)
    x, gy = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    a, shift = (rng.uniform(0.5, 2, shape[1]).astype(dtype) for _ in range(2))
    mean, var = bn.batch_stats_reference(x)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    on = [to_device(v, device) for v in (x, gy, a, shift, mean, invstd)]
    for ours, ref in zip(bn.batch_stats(on[0]), (mean, var)):
        _assert_close(ours, ref, dtype)
    _assert_close(bn.affine(on[0], on[2], on[3]), bn.affine_reference(x, a, shift), dtype)
    ours = bn.backward(on[0], on[1], on[4], on[5], on[2], batch, need_gx)
    ref = bn.backward_reference(x, gy, mean, invstd, a, batch, need_gx)
    assert (ours[0] is None) == (not need_gx)
    for o, r in zip(ours, ref):
        if r is not None:
            _assert_close(o, r, dtype)


@pytest.mark.parametrize("device", GPU_DEVICES)
@given(size=st.integers(1, 1000), dtype=dtypes, seed=seeds,
       momentum=st.sampled_from([0.0, 0.9]), dampening=st.sampled_from([0.0, 0.3]),
       weight_decay=st.sampled_from([0.0, 0.1]), nesterov=st.booleans(),
       maximize=st.booleans())
def test_sgd_twin_matches_reference(device, size, dtype, seed, momentum, dampening,
                                    weight_decay, nesterov, maximize):
    """Three steps (the first creates the momentum buffer) from the same start."""
    nesterov = nesterov and momentum > 0 and dampening == 0    # torch's rule for nesterov
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(size).astype(dtype)
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(3)]
    options = dict(momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                   nesterov=nesterov, maximize=maximize)
    ref, ref_buf = param.copy(), None
    ours, buf = to_device(param, device), None
    for g in grads:
        ref_buf = sgd.sgd_update_reference(ref, g, ref_buf, 0.05, **options)
        buf = sgd.sgd_update(ours, to_device(g, device), buf, 0.05, **options)
    _assert_close(ours, ref, dtype)
    if momentum:
        _assert_close(buf, ref_buf, dtype)
    else:
        assert buf is None


@pytest.mark.parametrize("device", GPU_DEVICES)
@given(size=st.integers(1, 1000), dtype=dtypes, seed=seeds, beta1=st.sampled_from([0.9, 0.3]),
       weight_decay=st.sampled_from([0.0, 0.1]), decoupled=st.booleans(), amsgrad=st.booleans(),
       maximize=st.booleans())
def test_adam_twin_matches_the_numba_twin(device, size, dtype, seed, beta1, weight_decay,
                                          decoupled, amsgrad, maximize):
    """Three steps from the same start (zero moments, as a first step has them)."""
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(size).astype(dtype)
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(3)]
    cpu = [param.copy()] + [np.zeros_like(param) for _ in range(2 + amsgrad)]
    ours = [to_device(a, device) for a in cpu]
    for t, g in enumerate(grads, 1):
        bias_corrections = dict(step_size=0.01 / (1 - beta1 ** t),
                                bias_correction2_sqrt=(1 - 0.999 ** t) ** 0.5)
        for arrays, grad in ((cpu, g), (ours, to_device(g, device))):
            p, m, v, *v_max = arrays
            adam.adam_update(p, grad, m, v, v_max[0] if amsgrad else None, 0.01, beta1, 0.999,
                             1e-8, weight_decay, decoupled, maximize, **bias_corrections)
    for a, ref in zip(ours, cpu):
        _assert_close(a, ref, dtype)
