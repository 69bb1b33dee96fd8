"""The tools around training on the CuPy stand-in (tests/standin): ``summary``, the ``viz``
functions, checkpoints crossing between the devices, learning-rate schedulers and a
``scratchnet train --device cuda`` run. Expected values come from the CPU path (whose own
tests check it against torch and hand-derived figures), and for the schedulers from torch.
``summary``, the step after loading a checkpoint and the scheduled optimizer steps make no
host copy (the stand-in counts them); the viz tools report numbers, so they copy those."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn
from scratchnet import backend, models
from tests.standin import fake_cupy

pytestmark = pytest.mark.standin


def _host(a):
    return a.get() if backend.is_cupy(a) else np.asarray(a)


def _mlp():
    sn.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()


# ---- summary and viz ---------------------------------------------------------------------

def test_summary_of_a_model_on_the_stand_in_equals_the_cpu_one():
    model = models.get_model("lenet5")
    expected = sn.summary(model)
    model.to("cuda")
    before = fake_cupy.host_copies
    got = sn.summary(model)
    assert fake_cupy.host_copies == before, fake_cupy.host_copy_sites[-5:]
    assert got.rows == expected.rows
    assert (got.total_params, got.total_macs) == (expected.total_params, expected.total_macs)
    assert str(got).splitlines()[1:] == str(expected).splitlines()[1:]


def _forward_backward(model, x, g, device):
    """The model's output and dL/dx for the upstream gradient ``g``, on ``device``."""
    x = sn.tensor(x, device=device, requires_grad=True)
    y = model(x)
    y.backward(sn.tensor(g, device=device))
    return y, x


def test_gradient_flow_on_the_stand_in_equals_the_cpu_one():
    model = _mlp()
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    flow = sn.viz.GradientFlow(model)
    _forward_backward(model, x, g, "cpu")
    expected, expected_table = flow.stats, flow.table()
    model.zero_grad()
    model.to("cuda")
    _forward_backward(model, x, g, "cuda")
    got = flow.stats
    assert [(s.name, s.type, s.shape, s.zeros) for s in got] == [
        (s.name, s.type, s.shape, s.zeros) for s in expected]
    fields = ("act_mean", "act_std", "act_norm", "grad_mean", "grad_std", "grad_norm")
    for s, e in zip(got, expected):
        assert all(isinstance(getattr(s, f), float) for f in fields)
        np.testing.assert_allclose([getattr(s, f) for f in fields],
                                   [getattr(e, f) for f in fields], rtol=1e-12)
        assert (s.param_grad_norm is None) == (e.param_grad_norm is None)
        if e.param_grad_norm is not None:
            np.testing.assert_allclose(s.param_grad_norm, e.param_grad_norm, rtol=1e-12)
    assert flow.table() == expected_table
    flow.remove()


def test_trace_backward_on_the_stand_in_equals_the_cpu_one():
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    traces = {}
    for device in ("cpu", "cuda"):
        model = _mlp().to(device)
        with sn.viz.trace_backward() as trace:
            _forward_backward(model, x, g, device)
        traces[device] = trace
    assert traces["cuda"].names == traces["cpu"].names
    for s, e in zip(traces["cuda"], traces["cpu"]):
        assert (s.output_shapes, s.input_shapes) == (e.output_shapes, e.input_shapes)
        for ours, ref in ((s.grad_output_norms, e.grad_output_norms),
                          (s.grad_input_norms, e.grad_input_norms)):
            assert [v is None for v in ours] == [v is None for v in ref]
            np.testing.assert_allclose([v for v in ours if v is not None],
                                       [v for v in ref if v is not None], rtol=1e-12)


def test_graph_of_an_output_on_the_stand_in_equals_the_cpu_one():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    sources = {}
    for device in ("cpu", "cuda"):
        model = _mlp().to(device)
        y = model(sn.tensor(x, device=device))
        sources[device] = str(sn.viz.graph(y, params=dict(model.named_parameters())))
    assert "(5, 3)" in sources["cpu"] and "float64" in sources["cpu"]
    assert sources["cuda"] == sources["cpu"]


@pytest.mark.parametrize("layer", ["features.c1", "features.s2", "features.c3"])
def test_receptive_field_on_the_stand_in_equals_the_cpu_one(layer):
    sn.manual_seed(0)
    model = models.get_model("lenet5")
    expected = sn.viz.receptive_field(model, None, layer, samples=2)
    got = sn.viz.receptive_field(model.to("cuda"), None, layer, samples=2)
    assert (got.size, got.rows, got.cols, got.clipped) == (
        expected.size, expected.rows, expected.cols, expected.clipped)
    assert isinstance(got.gradient, np.ndarray)
    np.testing.assert_allclose(got.gradient, expected.gradient, rtol=1e-4,
                               atol=1e-6 * np.abs(expected.gradient).max())


# ---- checkpoints across devices ----------------------------------------------------------

def _convnet():    # no conv bias: before batch norm its gradient is rounding noise
    sn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(32, 3)).double()


OPTIMIZERS = {"sgd": lambda ps: sn.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                             weight_decay=1e-2),
              "adamw": lambda ps: sn.optim.AdamW(ps, lr=0.01, amsgrad=True)}


def _train_steps(model, optimizer, device, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        optimizer.zero_grad()
        x = sn.tensor(rng.standard_normal((4, 1, 6, 6)), device=device)
        labels = sn.tensor(rng.integers(0, 3, 4), device=device)
        sn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()


def _host_state(model):
    return {k: _host(v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("source, target", [("cuda", "cpu"), ("cpu", "cuda")])
@pytest.mark.parametrize("through_file", [True, False], ids=["file", "memory"])
def test_checkpoint_moves_between_devices_and_training_continues_alike(
        tmp_path, optimizer, source, target, through_file):
    """Save model and optimizer on ``source`` after two steps, load them into a fresh model
    and optimizer on ``target``: the weights, buffers and optimizer state are equal, and a
    third step on each device gives equal weights (the moment estimates came along)."""
    model = _convnet().to(source)
    opt = OPTIMIZERS[optimizer](model.parameters())
    _train_steps(model, opt, source, 2, seed=1)
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}
    if through_file:
        sn.save(checkpoint, tmp_path / "ckpt.npz")
        checkpoint = sn.load(tmp_path / "ckpt.npz")
        assert checkpoint["epoch"] == 2

    moved = _convnet().to(target)
    moved_opt = OPTIMIZERS[optimizer](moved.parameters())
    moved.load_state_dict(checkpoint["model"])
    moved_opt.load_state_dict(checkpoint["optimizer"])
    on_device = (backend.is_cupy if target == "cuda" else
                 lambda a: isinstance(a, np.ndarray))
    assert all(on_device(v) for v in moved.state_dict().values())
    for p in moved.parameters():
        assert all(on_device(v) for k, v in moved_opt.state[p].items() if k != "step")
    expected_state = _host_state(model)
    for key, value in _host_state(moved).items():
        np.testing.assert_array_equal(value, expected_state[key], err_msg=key)
    for p, q in zip(model.parameters(), moved.parameters()):
        for key, value in opt.state[p].items():
            np.testing.assert_array_equal(_host(moved_opt.state[q][key]), _host(value), key)

    before = fake_cupy.host_copies
    _train_steps(moved, moved_opt, target, 1, seed=2)
    assert fake_cupy.host_copies == before, fake_cupy.host_copy_sites[-5:]
    _train_steps(model, opt, source, 1, seed=2)
    expected_state = _host_state(model)
    for key, value in _host_state(moved).items():
        np.testing.assert_allclose(value, expected_state[key], rtol=1e-10, atol=1e-14,
                                   err_msg=key)


# ---- learning-rate schedulers ------------------------------------------------------------

SCHEDULES = {
    "step-sgd": ("SGD", dict(lr=0.1, momentum=0.9), "StepLR", dict(step_size=2, gamma=0.5)),
    "cosine-adam": ("Adam", dict(lr=0.05), "CosineAnnealingLR", dict(T_max=4, eta_min=0.001)),
    "onecycle-sgd": ("SGD", dict(lr=0.1, momentum=0.9), "OneCycleLR",
                     dict(max_lr=0.5, total_steps=6)),
    "onecycle-adamw": ("AdamW", dict(lr=0.01), "OneCycleLR", dict(max_lr=0.05, total_steps=6)),
    "plateau-sgd": ("SGD", dict(lr=0.1, momentum=0.5), "ReduceLROnPlateau",
                    dict(patience=0, factor=0.5)),
}


def _scheduled_run(lib, name, device=None):
    """Six steps minimising sum(c·θ²/2) + n_k·θ with the schedule ``name``, in ``lib``
    (scratchnet on ``device``, or torch): the rates used and the final θ (where it lives).
    The gradient c·θ + n_k is computed from the current θ, on θ's device. The plateau
    schedule is fed a stalled loss as a 0-d tensor (on the device for scratchnet)."""
    opt_name, opt_kwargs, sched_name, sched_kwargs = SCHEDULES[name]
    rng = np.random.default_rng(0)
    theta0, scale = rng.standard_normal(5), rng.uniform(0.5, 1.5, 5)
    noise = rng.standard_normal((6, 5))
    if lib == "torch":
        torch = pytest.importorskip("torch")
        make = torch.tensor
        theta = torch.tensor(theta0, requires_grad=True)
        optim = torch.optim
    else:
        def make(a):
            return sn.tensor(a, device=device)
        theta = sn.tensor(theta0, device=device, requires_grad=True)
        optim = sn.optim
    opt = getattr(optim, opt_name)([theta], **opt_kwargs)
    sched = getattr(optim.lr_scheduler, sched_name)(opt, **sched_kwargs)
    c, rates = make(scale), []
    for k in range(6):
        t = theta.detach()
        theta.grad = c * t + make(noise[k])
        opt.step()
        rates.append(opt.param_groups[0]["lr"])
        if sched_name == "ReduceLROnPlateau":
            sched.step((t * 0).sum() + 1.0)      # a loss computed on θ's device that stalls
        else:
            sched.step()
    return rates, theta.detach().numpy() if lib == "torch" else theta.data


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedulers_drive_an_optimizer_on_the_stand_in_as_torch_on_the_cpu(name):
    expected_rates, expected = _scheduled_run("torch", name)
    before = fake_cupy.host_copies
    rates, got = _scheduled_run("sn", name, "cuda")
    plateau = name.startswith("plateau")        # its step(loss) reads the loss: one copy each
    assert fake_cupy.host_copies - before == (6 if plateau else 0), fake_cupy.host_copy_sites[-5:]
    assert all(type(r) is float for r in rates)
    np.testing.assert_allclose(rates, expected_rates, rtol=1e-12)
    assert len(set(rates)) > 1                   # the schedule did change the rate
    assert backend.is_cupy(got)
    np.testing.assert_allclose(got.get(), expected, rtol=1e-10, atol=1e-12)


# ---- scratchnet train --device cuda --------------------------------------------------------

def _train_command(out, device, capsys):
    """``scratchnet train lenet5 --device DEVICE``, in-process, one epoch of synthetic data
    (4 batches of 128, then the held-out 128): its exit code, epoch line and checkpoint."""
    from scratchnet.cli import main
    code = main(["train", "lenet5", "--dataset", "synthetic", "--batch-size", "128",
                 "--epochs", "1", "--no-progress", "--no-curves", "--device", device,
                 "--out", str(out)])
    epoch_line = next(line for line in capsys.readouterr().out.splitlines()
                      if line.startswith("epoch 1/1"))
    return code, epoch_line.rsplit("lr", 1)[0], sn.load(out / "last.npz")


def test_train_command_on_the_stand_in_matches_the_cpu(tmp_path, capsys):
    code, line, expected = _train_command(tmp_path / "cpu", "cpu", capsys)
    assert code == 0
    code, got_line, got = _train_command(tmp_path / "cuda", "cuda", capsys)
    assert code == 0 and (tmp_path / "cuda" / "best.npz").exists()
    assert got_line == line              # losses to 4 digits, accuracies to 0.01 %
    assert (got["epoch"], got["batch"], got["config"]) == (expected["epoch"], expected["batch"],
                                                           expected["config"])
    assert got["model"].keys() == expected["model"].keys()
    pairs = [(got["model"][k], expected["model"][k]) for k in expected["model"]]
    state, ref = got["optimizer"]["state"], expected["optimizer"]["state"]
    pairs += [(state[i]["momentum_buffer"], ref[i]["momentum_buffer"]) for i in ref]
    assert len(pairs) == 20
    for ours, theirs in pairs:
        assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype == np.float32
        assert np.linalg.norm(ours - theirs) <= 1e-4 * np.linalg.norm(theirs)
