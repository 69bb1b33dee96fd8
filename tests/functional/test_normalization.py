"""batch_norm and local_response_norm against finite differences, torch and hand computation."""
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
def lrn_cases(draw):
    """(shape, size, alpha, beta, k): 3 to 5 dims, windows up to wider than C (odd and even),
    and alpha, k large enough that every channel of the window changes the result."""
    C = draw(st.integers(1, 7))
    shape = (draw(st.integers(1, 3)), C) + draw(shapes(1, 3, 1, 4))
    size = draw(st.integers(1, C + 2))
    alpha = draw(st.floats(0.2, 3.0))
    beta = draw(st.floats(0.3, 1.5))
    k = draw(st.floats(0.5, 3.0))
    return shape, size, alpha, beta, k


@given(case=lrn_cases(), seed=seeds)
def test_local_response_norm_gradcheck(case, seed):
    shape, size, alpha, beta, k = case
    x = values(np.random.default_rng(seed), shape)
    assert_gradcheck(lambda x: F.local_response_norm(x, size, alpha, beta, k), [x])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("device", DEVICES)
@given(case=lrn_cases(), seed=seeds)
def test_local_response_norm_matches_torch(dtype, device, case, seed):
    shape, size, alpha, beta, k = case
    x = values(np.random.default_rng(seed), shape)
    assert_matches_torch(lambda x: F.local_response_norm(x, size, alpha, beta, k),
                         lambda x: torch.nn.functional.local_response_norm(x, size, alpha,
                                                                           beta, k),
                         [x], dtype=dtype, device=device, seed=seed)


def test_local_response_norm_window_by_hand():
    # C = 3, size 2: the window of channel c is [c − 1, c] (size//2 = 1 before, 0 after).
    # alpha/size = 1, beta = 1, k = 1: d = (1 + 0 + 1, 1 + 1 + 4, 1 + 4 + 9) = (2, 6, 14).
    x = sn.tensor(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1), requires_grad=True)
    y = F.local_response_norm(x, size=2, alpha=2.0, beta=1.0, k=1.0)
    np.testing.assert_allclose(y.detach().numpy().ravel(), [1 / 2, 2 / 6, 3 / 14], rtol=1e-15)
    # dy_c/dx_j = [c = j]/d_c − x_c/d_c²·2x_j when j is in c's window; with gy = (1, 0, 0) only
    # y_0 counts: gx_0 = 1/2 − 1·2·1/4 = 0, gx_1 = 0 (channel 1 is not in channel 0's window).
    y.backward(np.array([1.0, 0.0, 0.0]).reshape(1, 3, 1))
    np.testing.assert_allclose(x.grad.numpy().ravel(), [0.0, 0.0, 0.0], atol=1e-15)


@pytest.mark.parametrize("paper_alpha", [1e-4, 0.1])
def test_alexnet_paper_constants_map_to_alpha_times_size(paper_alpha):
    # The paper (section 3.3): b_i = a_i / (k + alpha Σ_{j=max(0,i−n/2)}^{min(C−1,i+n/2)} a_j²)^beta
    # with k=2, n=5, beta=0.75, alpha undivided. Written out here channel by channel.
    rng = np.random.default_rng(0)
    a = rng.uniform(-3, 3, (2, 8, 3, 3))
    expected = np.empty_like(a)
    for i in range(8):
        window = a[:, max(0, i - 2):min(7, i + 2) + 1]
        expected[:, i] = a[:, i] / (2 + paper_alpha * (window ** 2).sum(axis=1)) ** 0.75
    out = F.local_response_norm(sn.tensor(a), size=5, alpha=5 * paper_alpha, beta=0.75, k=2.0)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda x: F.local_response_norm(x, 0), ValueError, "size must be an integer >= 1, got 0"),
    (lambda x: F.local_response_norm(x, 2.5), ValueError, "size must be an integer >= 1"),
    (lambda x: F.local_response_norm(x[0], 3), ValueError,
     r"at least 3 dimensions, got \(3, 4\)"),
    (lambda x: F.local_response_norm(x.long(), 3), TypeError, "float32 or float64"),
])
def test_local_response_norm_bad_input(call, error, message):
    with pytest.raises(error, match="local_response_norm: .*" + message):
        call(sn.ones(2, 3, 4))


@st.composite
def bn_cases(draw):
    """(shape, affine): (N, C, *) with 0 to 2 trailing dims and more than one value per
    channel, since training needs it."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4))) + draw(shapes(0, 2, 1, 3))
    if shape[0] * int(np.prod(shape[2:])) == 1:
        shape = (2,) + shape[1:]
    return shape, draw(st.booleans())


def _bn_arrays(rng, shape, affine):
    C = shape[1]
    x = values(rng, shape)
    return [x, rng.uniform(0.5, 2, C), rng.uniform(-1, 1, C)] if affine else [x]


@pytest.mark.parametrize("training", [True, False])
@given(case=bn_cases(), seed=seeds)
def test_batch_norm_gradcheck(training, case, seed):
    shape, affine = case
    rng = np.random.default_rng(seed)
    mean, var = rng.uniform(-1, 1, shape[1]), rng.uniform(0.5, 2, shape[1])
    assert_gradcheck(lambda x, w=None, b=None: F.batch_norm(
        x, mean, var, w, b, training=training, momentum=0.0, eps=1e-3),
        _bn_arrays(rng, shape, affine))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False])
@given(case=bn_cases(), momentum=st.sampled_from([0.1, 0.5, 1.0]), seed=seeds)
def test_batch_norm_matches_torch(dtype, device, training, case, momentum, seed):
    """Output, input gradients and (training) the updated running statistics."""
    shape, affine = case
    rng = np.random.default_rng(seed)
    stats = [rng.uniform(-1, 1, shape[1]).astype(dtype), rng.uniform(0.5, 2, shape[1])
             .astype(dtype)]
    ours = [sn.tensor(s.copy(), device=device).data for s in stats]
    theirs = [torch.tensor(s.copy()) for s in stats]
    assert_matches_torch(
        lambda x, w=None, b=None: F.batch_norm(x, *ours, w, b, training, momentum, 1e-5),
        lambda x, w=None, b=None: torch.nn.functional.batch_norm(x, *theirs, w, b, training,
                                                                 momentum, 1e-5),
        _bn_arrays(rng, shape, affine), dtype=dtype, device=device, seed=seed)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(sn.Tensor(o).numpy(), t.numpy(), **tol)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_parameter_gradients_alone(training):
    """An input that does not require grad (the image in front of a first BN) skips gx."""
    rng = np.random.default_rng(0)
    stats = [rng.uniform(-1, 1, 3), rng.uniform(0.5, 2, 3)]
    assert_matches_torch(
        lambda x, w, b: F.batch_norm(x, *stats, w, b, training=training),
        lambda x, w, b: torch.nn.functional.batch_norm(
            x, *[torch.tensor(s) for s in stats], w, b, training=training),
        _bn_arrays(rng, (4, 3, 2, 2), True), requires_grad=[False, True, True])


def test_batch_norm_running_stats_by_hand():
    # one channel, values (1, 2, 3, 6): mean 3, biased var 3.5, unbiased 14/3
    x = sn.tensor(np.array([1.0, 2.0, 3.0, 6.0]).reshape(4, 1))
    mean, var = np.array([1.0]), np.array([2.0])
    y = F.batch_norm(x, mean, var, training=True, momentum=0.25, eps=0.0)
    np.testing.assert_allclose(mean, [0.75 * 1 + 0.25 * 3])
    np.testing.assert_allclose(var, [0.75 * 2 + 0.25 * 14 / 3])
    np.testing.assert_allclose(y.numpy().ravel(), (np.array([1, 2, 3, 6]) - 3) / np.sqrt(3.5))


def test_batch_norm_variance_is_two_pass_in_float32():
    # mean 1000, std 1: E[x²] − E[x]² would lose every digit of the variance in float32
    x = (1000 + np.random.default_rng(0).standard_normal((64, 3, 8, 8))).astype(np.float32)
    ours = F.batch_norm(sn.tensor(x), None, None, training=True).numpy()
    theirs = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-3)


@pytest.mark.parametrize("call, message", [
    (lambda x: F.batch_norm(x[:1, :, :1], None, None, training=True),
     r"expected more than 1 value per channel when training, got input of shape \(1, 3, 1\)"),
    (lambda x: F.batch_norm(x[:1, :, 0], np.zeros(3), np.ones(3), training=True),
     r"expected more than 1 value per channel.*\(1, 3\)"),
    (lambda x: F.batch_norm(x, np.zeros(4), np.ones(4)),
     r"running_mean has shape \(4,\) but the input of shape \(2, 3, 5\) has 3 channels"),
    (lambda x: F.batch_norm(x, np.zeros(3), np.ones(3), sn.ones(2)),
     r"weight has shape \(2,\) but the input of shape \(2, 3, 5\) has 3 channels"),
    (lambda x: F.batch_norm(x, None, None), "running_mean and running_var must be given"),
    (lambda x: F.batch_norm(x[0, 0], None, None, training=True),
     r"expected input of shape \(N, C, \*\), got \(5,\)"),
])
def test_batch_norm_bad_input(call, message):
    with pytest.raises(ValueError, match="batch_norm: " + message):
        call(sn.ones(2, 3, 5))
