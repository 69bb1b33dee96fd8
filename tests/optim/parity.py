"""Running a scratchnet optimizer and a torch one side by side on the same problem.

torch's CPU kernels fuse multiply-adds (``add(alpha=)``, ``lerp``), NumPy rounds the product
first, so single elements differ in the last bit after one step; trajectories are compared
with tolerances a few ulps wide, not bit for bit.
"""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import optim

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (5,), (2, 3, 2), (3,)]
ZERO, NONE = 2, 3  # parameter 2 always gets a zero gradient, parameter 3 never gets one
STEPS = 10
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}


class Problem:
    """Parameters of SHAPES and, at step k, the gradient g = c ⊙ θ + n_k of a quadratic plus
    fixed noise, computed in NumPy from each framework's own current θ: an update that goes
    wrong also changes every later gradient."""

    def __init__(self, dtype, steps=STEPS, seed=0):
        self.dtype = dtype
        rng = np.random.default_rng(seed)
        self.init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        self.scale = [rng.uniform(0.5, 1.5, s).astype(dtype) for s in SHAPES]
        self.noise = [[rng.standard_normal(s).astype(dtype) for s in SHAPES]
                      for _ in range(steps)]

    def params(self, lib, device="cpu"):
        if lib is torch:
            return [torch.tensor(a, requires_grad=True) for a in self.init]
        return [sn.tensor(a, requires_grad=True, device=device) for a in self.init]

    def set_grads(self, params, k):
        for i, p in enumerate(params):
            if i == NONE:
                continue
            theta = p.detach().numpy()
            g = np.zeros_like(theta) if i == ZERO else self.scale[i] * theta + self.noise[k][i]
            p.grad = torch.tensor(g) if isinstance(p, torch.Tensor) else sn.tensor(g,
                                                                                  device=p.device)

    def step_both(self, k, ours, theirs, opt, ref):
        """Step k in both frameworks: gradients from each one's θ, a step each, θs compared."""
        self.set_grads(ours, k)
        self.set_grads(theirs, k)
        opt.step()
        ref.step()
        assert_params_close(ours, theirs, TOL[self.dtype], f"after step {k + 1}")


def make_groups(params, groups):
    """``groups``: None for one group of all params, else [(indices, options), ...]."""
    if groups is None:
        return params
    return [{"params": [params[i] for i in idx], **opts} for idx, opts in groups]


def assert_params_close(ours, theirs, tol, msg=""):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol,
                                   err_msg=f"parameter {i} {msg}")


def assert_state_dict_matches(ours, theirs, tol):
    """Same indices, buffer names and values as torch; every option we keep equals torch's."""
    assert set(ours["state"]) == set(theirs["state"])
    for index, buffers in theirs["state"].items():
        assert set(ours["state"][index]) == set(buffers), f"buffers of parameter {index}"
        for key, value in buffers.items():
            np.testing.assert_allclose(sn.backend.to_numpy(ours["state"][index][key]),
                                       value.numpy(), **tol, err_msg=f"{key} of {index}")
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for mine, ref in zip(ours["param_groups"], theirs["param_groups"]):
        assert {k: ref[k] for k in mine} == mine


def run_both(name, kwargs, dtype, groups=None, device="cpu", steps=STEPS, torch_kwargs=None):
    """``steps`` steps of optimizer ``name`` in both frameworks, parameters compared after each;
    torch gets ``torch_kwargs`` when given (a flag it cannot run on the CPU), else ``kwargs``."""
    problem = Problem(dtype, steps)
    ours, theirs = problem.params(sn, device), problem.params(torch)
    opt = getattr(optim, name)(make_groups(ours, groups), **kwargs)
    ref = getattr(torch.optim, name)(make_groups(theirs, groups),
                                     **(kwargs if torch_kwargs is None else torch_kwargs))
    for k in range(steps):
        problem.step_both(k, ours, theirs, opt, ref)
    return opt, ref
