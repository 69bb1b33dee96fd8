"""What the tests share: the device and dtype lists, finite differences, parity with torch,
and the global state every test must leave as it found it."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import backend, function
from scratchnet.kernels import workspace

# "standin": the CUDA path on the CuPy stand-in (tests/standin), its kernels run on the CPU
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.standin, id="standin"),
           pytest.param("cuda", marks=pytest.mark.gpu)]
FLOATS = [np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def assert_gradcheck(fn, arrays, requires_grad=None, **kwargs):
    """Finite-difference check of ``fn`` on float64 copies of ``arrays`` (NumPy)."""
    requires_grad = requires_grad or [True] * len(arrays)
    inputs = [sn.tensor(np.asarray(a, np.float64), requires_grad=r) if a is not None else None
              for a, r in zip(arrays, requires_grad)]
    assert sn.gradcheck(fn, inputs, **kwargs)


def assert_matches_torch(fn, torch_fn, arrays, dtype=np.float64, requires_grad=None, seed=0,
                         device="cpu", rtol=None, atol=None):
    """Run ``fn`` (scratchnet) and ``torch_fn`` (torch) on the same inputs, then backprop the
    same random upstream gradient through both; outputs and every input gradient must agree.

    Non-float arrays (class indices) are passed without grad. Also checks that neither the
    arrays the op received nor the upstream gradient were mutated and that no two gradients
    share memory.
    """
    torch = pytest.importorskip("torch")
    tol = dict(TOLERANCE[np.dtype(dtype).type])
    tol.update({k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None})
    arrays = [a if a is None or np.asarray(a).dtype.kind != "f" else np.asarray(a, dtype)
              for a in arrays]
    requires_grad = requires_grad or [a is not None and np.asarray(a).dtype.kind == "f"
                                      for a in arrays]
    ours = [None if a is None else sn.tensor(a, requires_grad=r, device=device)
            for a, r in zip(arrays, requires_grad)]
    theirs = [None if a is None else torch.tensor(a, requires_grad=r)
              for a, r in zip(arrays, requires_grad)]
    received = [None if x is None else backend.to_numpy(x.data).copy() for x in ours]

    out, ref = _as_list(fn(*ours)), _as_list(torch_fn(*theirs))
    assert len(out) == len(ref)
    rng = np.random.default_rng(seed)
    upstream = []
    for y, r in zip(out, ref):
        assert y.shape == tuple(r.shape), f"shape {y.shape} != torch's {tuple(r.shape)}"
        np.testing.assert_allclose(y.detach().numpy(), r.detach().numpy(), **tol,
                                   err_msg="forward differs from torch")
        if r.requires_grad:
            upstream.append(rng.standard_normal(r.shape).astype(r.detach().numpy().dtype))
    if upstream:
        frozen = [u.copy() for u in upstream]
        diff = [(y, r, u) for y, r, u in zip([y for y, r in zip(out, ref) if r.requires_grad],
                                             [r for r in ref if r.requires_grad], upstream)]
        total = sum((y * sn.tensor(u, device=device)).sum() for y, _, u in diff)
        total.backward()
        torch.autograd.backward([r for _, r, _ in diff],
                                [torch.tensor(u) for _, _, u in diff])
        for u, f in zip(upstream, frozen):
            np.testing.assert_array_equal(u, f, err_msg="upstream gradient was mutated")
    for i, (x, t) in enumerate(zip(ours, theirs)):
        if x is None or not x.requires_grad:
            continue
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), f"input {i}: torch has no grad"
            continue
        assert x.grad is not None, f"input {i}: no gradient, torch has one"
        assert x.grad.dtype == x.dtype, f"input {i}: grad dtype {x.grad.dtype} != {x.dtype}"
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol,
                                   err_msg=f"gradient of input {i} differs from torch")
    for i, (x, snapshot) in enumerate(zip(ours, received)):
        if x is not None:
            np.testing.assert_array_equal(backend.to_numpy(x.data), snapshot,
                                          err_msg=f"input {i}: the op wrote into its input")
    grads = [x.grad.data for x in ours if x is not None and x.grad is not None]
    for i in range(len(grads)):
        for j in range(i + 1, len(grads)):
            assert not backend.get_array_module(grads[i]).shares_memory(grads[i], grads[j]), \
                "two gradients share memory"
    return out


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def global_state():
    """The process-wide settings a test could leave changed, by name."""
    return {"grad mode": sn.is_grad_enabled(),
            "default device": sn.get_default_device(),
            "workspace limit": (workspace._limit, workspace.get_workspace_limit()),
            "forward observers": list(function.forward_observers),
            "backward observers": list(function.backward_observers),
            "threads": sn.get_num_threads()}


def restore_global_state(state):
    function._GradMode.enabled = state["grad mode"]
    sn.set_default_device(state["default device"])
    sn.set_workspace_limit(state["workspace limit"][0])
    function.forward_observers[:] = state["forward observers"]
    function.backward_observers[:] = state["backward observers"]
    sn.set_num_threads(state["threads"])


def state_changes(before, after):
    """'name: before -> after' for every setting that differs."""
    return [f"{name}: {before[name]!r} -> {after[name]!r}" for name in before
            if after[name] != before[name]]
