"""Optimizers against torch.optim: trajectories, parameter groups, state_dict, zero_grad, errors.

The side-by-side runner and its tolerances are in parity.py.
"""
import copy
import inspect
import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim
from tests.optim.parity import (
    NONE,
    STEPS,
    TOL,
    Problem,
    assert_state_dict_matches,
    run_both,
)

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    # beta1=0.3 takes lerp's other formula (weight 0.7 >= 0.5)
    ("Adam", dict(lr=0.02, betas=(0.3, 0.5), eps=1e-3, weight_decay=0.05, amsgrad=True,
                  maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", CASES)
def test_trajectory_matches_torch(name, kwargs, dtype):
    opt, ref = run_both(name, kwargs, dtype)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[dtype])
    assert NONE not in opt.state_dict()["state"]  # a parameter never given a grad has no state


@pytest.mark.parametrize("name, kwargs", [
    CASES[4], CASES[9], CASES[11],
    ("Adadelta", dict(rho=0.5, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    ("RMSprop", dict(momentum=0.9, centered=True, maximize=True)),
])
def test_trajectory_on_device(name, kwargs, device):
    opt, ref = run_both(name, kwargs, np.float32, device=device)
    for group in opt.param_groups:
        for p in group["params"]:
            assert p.device == device
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[np.float32])


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adadelta", dict(lr=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
])
def test_parameter_groups_with_their_own_options(name, kwargs):
    groups = [([0, 2], {"lr": kwargs["lr"] * 3}),
              ([1], {}),  # takes the defaults
              ([3], {"lr": kwargs["lr"] / 2, "weight_decay": 0.2})]
    opt, ref = run_both(name, kwargs, np.float64, groups=groups)
    assert [g["lr"] for g in opt.param_groups] == [kwargs["lr"] * 3, kwargs["lr"],
                                                   kwargs["lr"] / 2]
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[np.float64])


def test_add_param_group_mid_training_matches_torch():
    problem = Problem(np.float64)
    ours, theirs = problem.params(sn), problem.params(torch)
    opt = optim.Adam(ours[:2], lr=0.01)
    ref = torch.optim.Adam(theirs[:2], lr=0.01)
    for k in range(STEPS):
        if k == 4:  # "unfreeze" the other two parameters with their own lr
            opt.add_param_group({"params": ours[2:], "lr": 0.05, "amsgrad": True})
            ref.add_param_group({"params": theirs[2:], "lr": 0.05, "amsgrad": True})
        problem.step_both(k, ours, theirs, opt, ref)
    assert_state_dict_matches(opt.state_dict(), ref.state_dict(), TOL[np.float64])


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("Adadelta", dict(lr=0.5, rho=0.8)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
])
def test_state_dict_round_trip_continues_the_same_trajectory(name, kwargs):
    problem = Problem(np.float32)
    straight = problem.params(sn)
    opt = getattr(optim, name)(straight, **kwargs)
    for k in range(STEPS):
        if k == 4:
            saved = copy.deepcopy(opt.state_dict())
            snapshot = copy.deepcopy(saved)
            resumed = [sn.tensor(p.detach().numpy(), requires_grad=True) for p in straight]
            other = getattr(optim, name)(resumed, lr=123.0)  # options come from the state dict
            other.load_state_dict(saved)
            assert other.param_groups[0]["lr"] == kwargs["lr"]
        problem.set_grads(straight, k)
        opt.step()
        if k >= 4:
            problem.set_grads(resumed, k)
            other.step()
            for p, q in zip(straight, resumed):
                np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    for index, buffers in snapshot["state"].items():  # loading copied, never aliased
        for key, value in buffers.items():
            np.testing.assert_array_equal(saved["state"][index][key], value)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
])
def test_state_dict_interchanges_with_torch(name, kwargs):
    """torch's state_dict, as NumPy arrays, loads into scratchnet and ours loads into torch;
    each then continues exactly like the optimizer it came from."""
    dtype = np.float64
    opt, ref = run_both(name, kwargs, dtype, steps=4)
    ours_sd, torch_sd = opt.state_dict(), ref.state_dict()
    as_numpy = {"state": {i: {k: v.numpy() for k, v in s.items()}
                          for i, s in torch_sd["state"].items()},
                "param_groups": copy.deepcopy(torch_sd["param_groups"])}
    as_torch = {"state": {i: {k: torch.tensor(sn.backend.to_numpy(v)) for k, v in s.items()}
                          for i, s in ours_sd["state"].items()},
                "param_groups": copy.deepcopy(ours_sd["param_groups"])}
    problem = Problem(dtype, steps=8)
    ours2 = [sn.tensor(q.detach().numpy(), requires_grad=True) for q in ref.param_groups[0]
             ["params"]]
    theirs2 = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in opt.param_groups[0]
               ["params"]]
    opt2, ref2 = getattr(optim, name)(ours2), getattr(torch.optim, name)(theirs2)
    opt2.load_state_dict(as_numpy)
    ref2.load_state_dict(as_torch)
    pairs = [(opt, ref2), (opt2, ref)]
    for k in range(4, 8):
        for a, b in pairs:
            problem.step_both(k, a.param_groups[0]["params"], b.param_groups[0]["params"], a, b)


def test_closure_with_real_gradients_matches_torch():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    w0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    runs = []
    for lib, opt_module in ((sn, optim), (torch, torch.optim)):
        w, b = lib.tensor(w0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        xt, yt = lib.tensor(x), lib.tensor(y)
        opt = opt_module.SGD([w, b], lr=0.05, momentum=0.9, nesterov=True)

        def closure():
            opt.zero_grad()
            loss = ((xt @ w + b - yt) ** 2).mean()
            loss.backward()
            return loss

        grad_off = sn.no_grad() if lib is sn else torch.no_grad()
        with grad_off:  # the closure turns grad mode back on, as in torch
            losses = [opt.step(closure).item() for _ in range(5)]
        runs.append((losses, w.detach().numpy(), b.detach().numpy()))
    for mine, ref in zip(*runs):
        np.testing.assert_allclose(mine, ref, **TOL[np.float64])
    assert runs[0][0][-1] < runs[0][0][0]


def test_step_updates_in_place_without_a_graph():
    p = sn.tensor(np.ones((2, 3)), requires_grad=True)
    array = p.data
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    assert p.data is array and p.is_leaf and p.grad_fn is None and p.requires_grad
    np.testing.assert_allclose(array, 0.9)  # Adam's first step moves every element by lr
    q = sn.tensor(np.ones(4), requires_grad=True)
    opt.add_param_group({"params": [q]})
    with pytest.raises(RuntimeError, match="attempting to assign a gradient of size"):
        q.grad = sn.tensor(np.ones((4, 1)))  # torch's rule: .grad must match the tensor
    p.grad, q.grad = sn.tensor(np.ones((2, 3))), sn.tensor(np.ones(4))
    q.data = np.ones((4, 1))  # the parameter's array replaced after its grad was set
    with pytest.raises(ValueError, match=r"Adam\.step: parameter 0 of group 1 .*\(4, 1\).*"
                                         r"\(4,\)"):
        opt.step()
    np.testing.assert_allclose(array, 0.9)  # checked before any update


def test_zero_grad():
    problem = Problem(np.float64)
    for set_to_none in (True, False):
        ours, theirs = problem.params(sn), problem.params(torch)
        problem.set_grads(ours, 0)
        problem.set_grads(theirs, 0)
        grad = ours[0].grad
        opt, ref = optim.SGD(ours, lr=0.1), torch.optim.SGD(theirs, lr=0.1)
        opt.zero_grad(set_to_none=set_to_none)
        ref.zero_grad(set_to_none=set_to_none)
        for p, q in zip(ours, theirs):
            assert (p.grad is None) == (q.grad is None)
            if q.grad is not None:
                np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
        assert ours[NONE].grad is None
        if not set_to_none:
            assert ours[0].grad is grad and not np.any(grad.data)
    opt.zero_grad()  # the default sets to None, as torch's does
    assert all(p.grad is None for p in ours)


BAD_OPTIONS = [
    ("SGD", dict(lr=-0.1), r"learning rate: lr=-0\.1"),
    ("SGD", dict(momentum=-0.5), "momentum=-0.5"),
    ("SGD", dict(weight_decay=-1e-4), "weight_decay=-0.0001"),
    ("SGD", dict(nesterov=True), "nesterov=True with momentum=0"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "dampening=0.1"),
    ("Adam", dict(lr=-1e-3), "lr=-0.001"),
    ("Adam", dict(eps=-1e-8), "eps=-1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), r"betas\[0\]=1\.0"),
    ("Adam", dict(betas=(0.9, -0.1)), r"betas\[1\]=-0\.1"),
    ("Adam", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("AdamW", dict(betas=(0.9, 1.0)), r"betas\[1\]=1\.0"),
    ("AdamW", dict(lr=-1.0), "lr=-1.0"),
    ("Adadelta", dict(lr=-1.0), "learning rate: lr=-1.0"),
    ("Adadelta", dict(rho=1.5), r"rho=1\.5 \(must be in \[0, 1\]\)"),
    ("Adadelta", dict(eps=-1e-6), "eps=-1e-06"),
    ("Adadelta", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("Adagrad", dict(lr=-0.1), "lr=-0.1"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay=-0.1"),
    ("Adagrad", dict(weight_decay=-0.1), "weight_decay=-0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value=-1.0"),
    ("Adagrad", dict(eps=-1e-10), "eps=-1e-10"),
    ("RMSprop", dict(lr=-0.01), "lr=-0.01"),
    ("RMSprop", dict(alpha=-0.5), "alpha=-0.5"),
    ("RMSprop", dict(eps=-1e-8), "eps=-1e-08"),
    ("RMSprop", dict(momentum=-0.9), "momentum=-0.9"),
    ("RMSprop", dict(weight_decay=-0.1), "weight_decay=-0.1"),
]


@pytest.mark.parametrize("name, kwargs, message", BAD_OPTIONS)
def test_bad_options_raise_like_torch(name, kwargs, message):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=rf"^{name}: .*{message}"):
        getattr(optim, name)([sn.zeros(2, requires_grad=True)], **kwargs)


def test_bad_group_options_raise_too():
    # torch only checks the constructor's defaults; a group's own options are checked here too
    p = sn.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"^SGD: .*lr=-1"):
        optim.SGD([{"params": [p], "lr": -1}], lr=0.1)
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match=r"^Adam: .*betas\[1\]=1\.5"):
        opt.add_param_group({"params": [sn.zeros(3, requires_grad=True)], "betas": (0.9, 1.5)})
    assert len(opt.param_groups) == 1


def test_bad_params_raise_like_torch():
    cases = [
        (TypeError, "params should be an iterable", lambda lib, o: o.SGD(lib.zeros(2))),
        (ValueError, "empty parameter list", lambda lib, o: o.SGD([])),
        (TypeError, "only optimize Tensors, but one of the params is ndarray",
         lambda lib, o: o.Adam([np.zeros(2)])),
        (TypeError, "sets", lambda lib, o: o.SGD([{"params": {lib.zeros(2, requires_grad=True)}}])),
        (ValueError, "non-leaf", lambda lib, o: o.SGD([lib.zeros(2, requires_grad=True) * 2])),
    ]
    for error, message, make in cases:
        with pytest.raises(error):
            make(torch, torch.optim)
        with pytest.raises(error, match=message):
            make(sn, optim)
    p = sn.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [sn.zeros(1, requires_grad=True), p]}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optim.SGD([p, p])
    assert any("duplicate" in str(w.message) for w in caught)


def test_load_state_dict_errors():
    a, b = sn.zeros((2, 2), requires_grad=True), sn.zeros(3, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = sn.ones((2, 2)), sn.ones(3)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="state dict has 1 parameter groups, the optimizer "
                                         "has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict but 1"):
        optim.SGD([a]).load_state_dict(saved)
    swapped = optim.SGD([b, a])
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(2, 2\), "
                                         r"the parameter has shape \(3,\)"):
        swapped.load_state_dict(saved)
    assert not swapped.state  # nothing half-loaded


def test_state_dict_layout_and_repr():
    a, b = sn.zeros(2, requires_grad=True), sn.zeros(3, requires_grad=True)
    opt = optim.AdamW([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad = sn.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert list(sd["state"]) == [0]  # b had no grad: no state
    step = sd["state"][0]["step"]
    assert isinstance(step, np.ndarray) and step.dtype == np.float32 and step == 1
    assert sd["param_groups"][0]["weight_decay"] == 0.01  # AdamW's default
    assert "Parameter Group 1\n" in repr(opt) and "    lr: 0.5\n" in repr(opt)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "RMSprop"])
def test_the_constructor_takes_torchs_arguments_with_torchs_defaults(name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        assert (ours[key].kind, ours[key].default) == (param.kind, param.default), key
