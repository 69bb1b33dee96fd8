"""Adadelta, Adagrad, RMSprop, Adam and AdamW against torch.optim for every combination of their
options, in float32 and float64; Adagrad's state made at construction; torch's implementation
flags."""
import itertools

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from tests.optim.parity import (
    NONE,
    TOL,
    ZERO,
    Problem,
    assert_state_dict_matches,
    run_both,
)

torch = pytest.importorskip("torch")

# Each option at its default and at one value that changes the update: rho=0.3 and alpha=0.5
# give short memories (alpha=0.5 also takes lerp's other formula in the centred average),
# eps=1e-3 is large enough to move the result. (alpha=0.3 makes float32 RMSprop so sensitive
# that torch's fused multiply-adds alone move a momentum buffer by 2e-5 relative in 10 steps.)
GRIDS = {
    "Adadelta": dict(lr=(1.0, 0.5), rho=(0.9, 0.3), eps=(1e-6, 1e-3), weight_decay=(0, 0.1),
                     maximize=(False, True)),
    "Adagrad": dict(lr=(0.1,), lr_decay=(0, 0.1), weight_decay=(0, 0.1),
                    initial_accumulator_value=(0, 0.5), eps=(1e-10, 1e-3),
                    maximize=(False, True)),
    "RMSprop": dict(lr=(0.01,), alpha=(0.99, 0.5), eps=(1e-8, 1e-3), weight_decay=(0, 0.1),
                    momentum=(0, 0.9), centered=(False, True), maximize=(False, True)),
    # betas=(0.3, 0.5): lerp's other formula and short memories (the fused kernel: kernels/adam.py)
    "Adam": dict(lr=(0.01,), betas=((0.9, 0.999), (0.3, 0.5)), eps=(1e-8, 1e-3),
                 weight_decay=(0, 0.1), amsgrad=(False, True), maximize=(False, True)),
    "AdamW": dict(lr=(0.01,), betas=((0.9, 0.999), (0.3, 0.5)), eps=(1e-8, 1e-3),
                  weight_decay=(0, 0.1), amsgrad=(False, True), maximize=(False, True)),
}
GRID_CASES = [
    pytest.param(name, dict(zip(grid, values)),
                 id=name + "-" + "-".join(f"{k}={v}" for k, v in zip(grid, values)))
    for name, grid in GRIDS.items() for values in itertools.product(*grid.values())
]
ADAPTIVE = ["Adadelta", "Adagrad", "RMSprop", "Adam", "AdamW"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", GRID_CASES)
def test_every_option_combination_matches_torch(name, kwargs, dtype):
    opt, ref = run_both(name, kwargs, dtype)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[dtype])


@pytest.mark.parametrize("name", ADAPTIVE)
def test_param_groups_hold_torchs_keys(name):
    ours = getattr(optim, name)([sn.zeros(2, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


def test_adagrad_state_exists_from_construction_as_in_torch():
    """Every parameter, even NONE (never a grad), has ``step`` 0 and ``sum`` =
    initial_accumulator_value before any step; a group added later starts from the
    constructor's value, never from its own."""
    problem = Problem(np.float64)
    ours, theirs = problem.params(sn), problem.params(torch)
    first, late = [0, 1, NONE], {"initial_accumulator_value": 2.0, "weight_decay": 0.5}
    opt = optim.Adagrad([ours[i] for i in first], lr=0.1, initial_accumulator_value=0.5)
    ref = torch.optim.Adagrad([theirs[i] for i in first], lr=0.1, initial_accumulator_value=0.5)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[np.float64])
    assert sorted(opt.state_dict()["state"]) == [0, 1, 2]
    # the ZERO parameter's gradient is its weight decay alone: 0.5 θ
    opt.add_param_group({"params": [ours[ZERO]], **late})
    ref.add_param_group({"params": [theirs[ZERO]], **late})
    for k in range(3):
        problem.step_both(k, ours, theirs, opt, ref)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[np.float64])
    np.testing.assert_array_equal(opt.state[ours[NONE]]["sum"], 0.5)


def test_rmsprop_momentum_switched_on_later_starts_from_a_zero_buffer():
    """torch raises KeyError when momentum goes from 0 to > 0 after the first step; scratchnet
    starts the buffer at zero then, which is torch's trajectory given a zero buffer there."""
    problem = Problem(np.float64)
    ours, theirs = problem.params(sn), problem.params(torch)
    opt, ref = optim.RMSprop(ours, centered=True), torch.optim.RMSprop(theirs, centered=True)
    for k in range(6):
        if k == 3:
            opt.param_groups[0]["momentum"] = ref.param_groups[0]["momentum"] = 0.9
            for p in theirs:
                if p in ref.state:
                    ref.state[p]["momentum_buffer"] = torch.zeros_like(p)
        problem.step_both(k, ours, theirs, opt, ref)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[np.float64])


@pytest.mark.parametrize("name, kwargs", [
    ("Adadelta", dict(foreach=True, weight_decay=0.1)),
    ("Adagrad", dict(foreach=True, lr_decay=0.1)),
    ("Adagrad", dict(fused=True, initial_accumulator_value=0.5)),
    ("RMSprop", dict(foreach=True, momentum=0.9, centered=True)),
    ("Adam", dict(foreach=True, amsgrad=True)),
    ("Adam", dict(fused=True, weight_decay=0.1)),
    ("AdamW", dict(fused=True, amsgrad=True)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_foreach_and_fused_are_accepted_and_give_torchs_trajectory(name, kwargs, dtype):
    """torch runs its multi-tensor or fused kernel; scratchnet its one implementation."""
    opt, ref = run_both(name, kwargs, dtype)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[dtype])


@pytest.mark.parametrize("name", ["Adadelta", "RMSprop", "Adam", "AdamW"])
def test_capturable_is_accepted_and_changes_nothing(name):
    # torch's capturable step needs a CUDA tensor, so its reference runs without the flag
    opt, _ = run_both(name, dict(capturable=True), np.float32, torch_kwargs={})
    assert opt.param_groups[0]["capturable"] is True


@pytest.mark.parametrize("name", ADAPTIVE)
def test_differentiable_is_refused_clearly(name):
    getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], differentiable=True)
    with pytest.raises(NotImplementedError, match=rf"^{name}: differentiable=True is not "
                                                  "supported: .* outside autograd"):
        getattr(optim, name)([sn.zeros(2, requires_grad=True)], differentiable=True)
    opt = getattr(optim, name)([sn.zeros(2, requires_grad=True)])
    with pytest.raises(NotImplementedError, match=f"^{name}: differentiable=True"):
        opt.add_param_group({"params": [sn.zeros(3, requires_grad=True)],
                             "differentiable": True})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("name", ["Adagrad", "Adam", "AdamW"])
def test_fused_with_foreach_raises_like_torch(name):
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], fused=True,
                                   foreach=True)
    with pytest.raises(RuntimeError, match=f"^{name}: `fused` and `foreach` cannot be"):
        getattr(optim, name)([sn.zeros(2, requires_grad=True)], fused=True, foreach=True)
