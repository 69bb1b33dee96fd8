"""The fused Adam/AdamW update against torch's single-tensor step (foreach=False), bit for bit:
one step from the same state, through scratchnet's and torch's optimizers, for every option
combination, float32 and float64, on the Numba twin (one worker and two) and the CUDA twin on
the CuPy stand-in; the array path (float16, non-contiguous arrays) within rounding."""
import itertools

import numba
import numpy as np
import pytest

import scratchnet as sn
from scratchnet.backend import to_device, to_numpy
from scratchnet.kernels import adam
from tests.helpers import DEVICES
from tests.kernels.paths import PARALLEL_PATHS, forced

torch = pytest.importorskip("torch")

LR, STEP, SIZE = 0.01, 3, 1000    # 1000 elements: torch's vector loop and its scalar tail
# beta1 = 0.3 takes lerp's other formula (weight 0.7 >= 0.5); eps = 1e-3 moves the result
GRID = dict(betas=[(0.9, 0.999), (0.3, 0.5)], weight_decay=[0, 0.1], amsgrad=[False, True],
            maximize=[False, True], decoupled=[False, True])
OPTIONS = [pytest.param(dict(zip(GRID, values)),
                        id="-".join(f"{k}={v}" for k, v in zip(GRID, values)))
           for values in itertools.product(*GRID.values())]


def _case(dtype, options, seed=0, size=SIZE):
    """θ, g and a state as after STEP − 1 steps: m ~ g, v ~ g², v̂ above v for about half."""
    rng = np.random.default_rng(seed)
    param, grad = (rng.standard_normal(size).astype(dtype) for _ in range(2))
    state = {"exp_avg": 0.3 * rng.standard_normal(size),
             "exp_avg_sq": rng.uniform(0, 0.5, size)}
    if options["amsgrad"]:
        state["max_exp_avg_sq"] = state["exp_avg_sq"] * rng.uniform(0.5, 1.5, size)
    return param, grad, {k: v.astype(dtype) for k, v in state.items()}


def _one_step(lib, param, grad, state, options, device="cpu"):
    """One step of lib's Adam (AdamW when decoupled) from ``state``: θ and the state, NumPy."""
    kwargs = {k: v for k, v in options.items() if k != "decoupled"}
    name = "AdamW" if options["decoupled"] else "Adam"
    if lib is torch:
        p = torch.tensor(param, requires_grad=True)
        opt = getattr(torch.optim, name)([p], lr=LR, foreach=False, **kwargs)
        opt.state[p] = {"step": torch.tensor(STEP - 1.0),
                        **{k: torch.tensor(v) for k, v in state.items()}}
        p.grad = torch.tensor(grad)
    else:
        p = sn.tensor(param, requires_grad=True, device=device)
        opt = getattr(sn.optim, name)([p], lr=LR, **kwargs)
        opt.state[p] = {"step": np.array(STEP - 1.0, np.float32),
                        **{k: to_device(v.copy(), device) for k, v in state.items()}}
        p.grad = sn.tensor(grad, device=device)
    opt.step()
    buffers = {k: to_numpy(v.numpy() if lib is torch else v) for k, v in opt.state[p].items()
               if k != "step"}
    return to_numpy(p.detach().numpy() if lib is torch else p.data), buffers


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() == "DEFAULT",
                    reason="torch's scalar CPU kernels do not fuse multiply-adds")
@pytest.mark.parametrize("device", DEVICES[:2])                # the Numba twin, the stand-in
@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", OPTIONS)
def test_one_step_is_torchs_bit_for_bit(options, dtype, path, device):
    """m, v and v̂ equal torch's exactly; θ too wherever torch's √v' (a vectorized library
    square root) is the correctly rounded one, and within two roundings elsewhere."""
    param, grad, state = _case(dtype, options)
    with forced(path):
        ours, our_state = _one_step(sn, param, grad, state, options, device)
    theirs, their_state = _one_step(torch, param, grad, state, options)
    assert ours.dtype == dtype and set(our_state) == set(their_state)
    for key, value in their_state.items():
        np.testing.assert_array_equal(our_state[key], value, err_msg=key)
    second = their_state["max_exp_avg_sq" if options["amsgrad"] else "exp_avg_sq"]
    exact_root = torch.tensor(second).sqrt().numpy() == np.sqrt(second)
    assert exact_root.mean() > 0.5                     # the exact comparison covers most
    np.testing.assert_array_equal(ours[exact_root], theirs[exact_root])
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(ours, theirs, rtol=2 * eps, atol=4 * eps * LR)


@pytest.mark.parametrize("path", PARALLEL_PATHS)
def test_state_that_is_nan_stays_nan_in_the_maximum(path):
    """torch.maximum propagates NaN from either side; so does v̂ ← max(v̂, v)."""
    options = dict(betas=(0.9, 0.999), weight_decay=0, amsgrad=True, maximize=False,
                   decoupled=False)
    param, grad, state = _case(np.float64, options, size=4)
    state["max_exp_avg_sq"][1] = state["exp_avg_sq"][2] = np.nan
    with forced(path):
        ours, our_state = _one_step(sn, param, grad, state, options)
    theirs, their_state = _one_step(torch, param, grad, state, options)
    np.testing.assert_array_equal(our_state["max_exp_avg_sq"], their_state["max_exp_avg_sq"])
    assert np.isnan(our_state["max_exp_avg_sq"][1:3]).all()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("options", OPTIONS[::5])
def test_float16_takes_the_array_path_as_torch_steps(options):
    """The twins take float32 and float64; float16 steps through array operations, each
    rounded to float16 (torch computes each of lerp, addcmul and addcdiv in float32 and rounds
    once: hence a tolerance of about float16's epsilon times |g|)."""
    param, grad, state = _case(np.float16, options)
    ours, our_state = _one_step(sn, param, grad, state, options)
    theirs, their_state = _one_step(torch, param, grad, state, options)
    assert ours.dtype == np.float16
    for key, value in their_state.items():
        np.testing.assert_allclose(our_state[key], value, rtol=2e-3, atol=1e-3, err_msg=key)
    np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_non_contiguous_arrays_take_the_array_path(amsgrad):
    """A transposed θ (and so transposed buffers): the array path, within rounding of the
    fused update of the same numbers laid out contiguously."""
    options = dict(betas=(0.9, 0.999), weight_decay=0.1, amsgrad=amsgrad, maximize=False,
                   decoupled=False)
    param, grad, state = _case(np.float64, options, size=12)
    shaped = [a.reshape(3, 4) for a in (param, grad, *state.values())]
    fused = [a.copy() for a in shaped]
    strided = [np.ascontiguousarray(a.T).T for a in shaped]     # same values, F order
    assert not strided[0].flags.c_contiguous
    for p, g, m, v, *v_max in (fused, strided):
        adam.adam_update(p, g, m, v, v_max[0] if amsgrad else None, LR, 0.9, 0.999, 1e-8, 0.1,
                         False, False, step_size=0.02, bias_correction2_sqrt=0.05)
    for a, b in zip(fused, strided):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-16)
    assert not np.array_equal(fused[0], shaped[0])       # the update happened


@numba.njit
def _fma_jitted(a, b, c):
    return adam.fma(a, b, c)


@pytest.mark.parametrize("fma", [adam.fma, _fma_jitted], ids=["python", "jitted"])
def test_fma_rounds_once(fma):
    """a·b + c with one rounding, in Python (the JIT-disabled body) as in jitted code."""
    f32, f64 = np.float32, np.float64
    a = f32(1 + 2**-12)         # a² = 1 + 2^-11 + 2^-24: rounding it first loses the 2^-24
    assert fma(a, a, f32(-1)) == f32(2**-11 + 2**-24)
    # a² + 2^-80 is just above a float32 tie: a float64 sum rounds onto the tie, and a
    # second rounding to float32 would then go to even (down); once, it goes up
    assert fma(a, a, f32(2**-80)) == np.nextafter(f32(1 + 2**-11), f32(2))
    b = f64(1 + 2**-30)
    assert fma(b, b, f64(-1)) == f64(2**-29 + 2**-60)
    assert fma(f64(np.inf), f64(1), f64(1)) == np.inf and np.isnan(fma(f64(np.nan), b, b))
    assert np.signbit(fma(f64(-0.0), f64(1), f64(-0.0)))     # zeros keep IEEE's sign
    assert not np.signbit(fma(f64(1), f64(-1), f64(1)))
