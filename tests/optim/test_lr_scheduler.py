"""Learning-rate schedules against torch.optim.lr_scheduler, side by side on two optimizers."""
import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import optim
from scratchnet.optim import lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.03)   # two param groups with different rates


def _optimizers(name="SGD", **kwargs):
    """The same two-group optimizer (rates LRS) in scratchnet and in torch."""
    if name == "SGD":
        kwargs = {"momentum": 0.9, **kwargs}

    def make(lib, module):
        return getattr(module, name)([{"params": [lib.zeros(2, requires_grad=True)], "lr": LRS[0]},
                                      {"params": [lib.zeros(3, requires_grad=True)], "lr": LRS[1]}],
                                     **kwargs)
    return make(sn, optim), make(torch, torch.optim)


def _run_side_by_side(make, epochs, metrics=None, optimizers=_optimizers):
    """The same schedule in both frameworks for ``epochs`` steps; rates (and momentum or betas,
    which OneCycleLR cycles) must agree exactly before every epoch and after the last step.
    Returns the first group's rate at epochs 0 .. epochs."""
    ours_opt, theirs_opt = optimizers()
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    trace = []
    for epoch in range(epochs + 1):
        for key in ("lr", "momentum", "betas"):
            assert [g.get(key) for g in ours_opt.param_groups] == \
                [g.get(key) for g in theirs_opt.param_groups], f"{key} at epoch {epoch}"
        assert ours.get_last_lr() == theirs.get_last_lr()
        trace.append(ours_opt.param_groups[0]["lr"])
        if epoch == epochs:
            return trace
        ours_opt.step()
        theirs_opt.step()
        if metrics is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metrics[epoch])
            theirs.step(metrics[epoch])


@given(step_size=st.integers(1, 5), gamma=st.sampled_from([0.1, 0.5, 0.9]))
def test_step_lr(step_size, gamma):
    trace = _run_side_by_side(lambda m, o: m.StepLR(o, step_size, gamma), 12)
    assert trace[step_size] == pytest.approx(LRS[0] * gamma)


def test_multistep_lr_counts_repeated_milestones():
    trace = _run_side_by_side(lambda m, o: m.MultiStepLR(o, [2, 5, 5], gamma=0.1), 8)
    assert trace[5] == pytest.approx(LRS[0] * 1e-3)


@given(t_max=st.integers(1, 9), eta_min=st.sampled_from([0.0, 0.001]))
def test_cosine_annealing_lr_beyond_t_max(t_max, eta_min):
    trace = _run_side_by_side(lambda m, o: m.CosineAnnealingLR(o, t_max, eta_min), 3 * t_max + 2)
    assert trace[t_max] == pytest.approx(eta_min, abs=1e-12)


@given(start=st.sampled_from([0.01, 1.0 / 3, 0.5]), end=st.sampled_from([1.0, 0.5]),
       total=st.integers(1, 6))
def test_linear_lr(start, end, total):
    trace = _run_side_by_side(lambda m, o: m.LinearLR(o, start, end, total), total + 4)
    assert trace[0] == pytest.approx(LRS[0] * start)
    assert trace[-1] == pytest.approx(LRS[0] * end)


@given(warmup=st.integers(1, 4), t_max=st.integers(2, 8))
def test_sequential_warmup_then_cosine(warmup, t_max):
    def make(m, o):
        return m.SequentialLR(o, [m.LinearLR(o, 0.1, 1.0, warmup),
                                  m.CosineAnnealingLR(o, t_max)], milestones=[warmup])
    trace = _run_side_by_side(make, warmup + t_max + 2)
    assert trace[warmup] == pytest.approx(LRS[0])


def test_sequential_of_step_schedules():
    _run_side_by_side(lambda m, o: m.SequentialLR(
        o, [m.StepLR(o, 2, 0.5), m.MultiStepLR(o, [1, 3]), m.StepLR(o, 1, 0.9)],
        milestones=[3, 7]), 12)


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", threshold_mode="abs", cooldown=2),
                                    dict(patience=1, factor=0.5, min_lr=[0.02, 0.001])])
def test_reduce_lr_on_plateau(kwargs):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89999, 1.0, 1.0, 0.5] * 4
    kwargs = {"patience": 2, **kwargs}
    trace = _run_side_by_side(lambda m, o: m.ReduceLROnPlateau(o, **kwargs), len(metrics),
                              metrics)
    assert min(trace) < LRS[0], "the schedule never reduced the rate"


@given(gamma=st.sampled_from([0.1, 0.5, 0.9, 1.1]), last_epoch=st.sampled_from([-1, 3]))
def test_exponential_lr(gamma, last_epoch):
    def make(m, o):
        if last_epoch >= 0:  # resuming: initial_lr comes from the optimizer's state
            for group in o.param_groups:
                group["initial_lr"] = group["lr"]
        return m.ExponentialLR(o, gamma, last_epoch=last_epoch)
    trace = _run_side_by_side(make, 8)
    assert trace[2] == pytest.approx(trace[0] * gamma ** 2)


class WarmupFactor:
    """A callable object: its attributes travel in LambdaLR's state_dict, as in torch."""

    def __init__(self, warmup):
        self.warmup = warmup

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.warmup)


def test_lambda_lr_one_function_or_one_per_group():
    trace = _run_side_by_side(lambda m, o: m.LambdaLR(o, lambda epoch: 0.95 ** epoch), 6)
    assert trace[3] == pytest.approx(LRS[0] * 0.95 ** 3)
    _run_side_by_side(lambda m, o: m.LambdaLR(o, [WarmupFactor(4), lambda e: 1 / (1 + e)]), 6)


def test_lambda_lr_state_dict_keeps_callable_objects_like_torch():
    def make(m, o):
        return m.LambdaLR(o, [WarmupFactor(4), lambda e: 1.0])
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    saved = json.loads(json.dumps(ours.state_dict()))
    assert saved["lr_lambdas"] == theirs.state_dict()["lr_lambdas"] == [{"warmup": 4}, None]
    ours_opt, _ = _optimizers()
    resumed = make(lr_scheduler, ours_opt)
    saved["lr_lambdas"][0]["warmup"] = 10
    resumed.load_state_dict(saved)
    assert resumed.lr_lambdas[0].warmup == 10 and saved["lr_lambdas"][0] == {"warmup": 10}


def _one_cycle(total_steps, **kwargs):
    return lambda m, o: m.OneCycleLR(o, total_steps=total_steps, **kwargs)


@given(total=st.integers(1, 30), pct_start=st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.9, 1.0]),
       anneal=st.sampled_from(["cos", "linear"]), three_phase=st.booleans(),
       optimizer=st.sampled_from(["SGD", "Adam", "RMSprop"]),
       max_lr=st.sampled_from([1.0, [0.5, 2.0]]), factors=st.sampled_from([(25.0, 1e4), (10, 100)]))
def test_one_cycle_lr(total, pct_start, anneal, three_phase, optimizer, max_lr, factors):
    make = _one_cycle(total, max_lr=max_lr, pct_start=pct_start, anneal_strategy=anneal,
                      three_phase=three_phase, div_factor=factors[0], final_div_factor=factors[1])
    optimizers = functools.partial(_optimizers, optimizer)
    try:
        make(torch.optim.lr_scheduler, optimizers()[1])
    except ZeroDivisionError:  # a phase of zero steps: torch divides by zero
        with pytest.raises(ValueError, match=r"OneCycleLR: phase \d of the schedule has no steps"):
            make(lr_scheduler, optimizers()[0])
        return
    _run_side_by_side(make, total - 1, optimizers=optimizers)  # steps 0 .. total - 1


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_lr_passes_through_its_anchors(three_phase):
    """initial_lr = max_lr / div_factor at step 0, max_lr at step pct_start·total - 1, and
    initial_lr / final_div_factor at the last step (torch's documented anchors)."""
    trace = _run_side_by_side(_one_cycle(20, max_lr=2.0, pct_start=0.25,
                                         three_phase=three_phase), 19)
    assert trace[0] == pytest.approx(2.0 / 25) and trace[4] == pytest.approx(2.0)
    assert trace[19] == pytest.approx(2.0 / 25 / 1e4)
    if three_phase:
        assert trace[8] == pytest.approx(2.0 / 25)  # back down at 2·pct_start·total - 2


def test_one_cycle_lr_epochs_and_momentum_bounds_per_group():
    make = lambda m, o: m.OneCycleLR(o, max_lr=[0.3, 0.2], epochs=3, steps_per_epoch=4,  # noqa: E731
                                     base_momentum=[0.8, 0.7], max_momentum=0.9)
    _run_side_by_side(make, 12)
    _run_side_by_side(make, 12, optimizers=functools.partial(_optimizers, "Adam"))
    _run_side_by_side(lambda m, o: m.OneCycleLR(o, 1.0, 12, cycle_momentum=False), 12,
                      optimizers=functools.partial(_optimizers, "Adagrad"))


def test_one_cycle_lr_stops_after_total_steps_like_torch():
    for m, o in zip((lr_scheduler, torch.optim.lr_scheduler), _optimizers()):
        sched = m.OneCycleLR(o, 1.0, total_steps=5)
        for _ in range(5):  # step 5 (one past the last index) is still allowed, as in torch
            sched.step()
        with pytest.raises(ValueError, match="(?i)tried to step 6 times"):
            sched.step()


ONE_CYCLE_ERRORS = [
    (dict(max_lr=1.0), "pass either total_steps or both epochs and steps_per_epoch"),
    (dict(max_lr=1.0, total_steps=0), "positive integer total_steps, got 0"),
    (dict(max_lr=1.0, epochs=2, steps_per_epoch=0), "positive integer steps_per_epoch, got 0"),
    (dict(max_lr=1.0, epochs=2.0, steps_per_epoch=3), "positive integer epochs, got 2.0"),
    (dict(max_lr=1.0, total_steps=10, pct_start=1), "float pct_start between 0 and 1, got 1"),
    (dict(max_lr=1.0, total_steps=10, pct_start=1.5), "got 1.5"),
    (dict(max_lr=1.0, total_steps=10, anneal_strategy="exp"), "'cos' or 'linear', got 'exp'"),
    (dict(max_lr=[1.0], total_steps=10), "max_lr must have one value per param group: got 1 "
                                         "values for 2 groups"),
    (dict(max_lr=1.0, total_steps=10, max_momentum=[0.9, 0.9, 0.9]), "max_momentum must have"),
]


@pytest.mark.parametrize("kwargs, message", ONE_CYCLE_ERRORS)
def test_one_cycle_lr_bad_arguments_raise_like_torch(kwargs, message):
    ours_opt, theirs_opt = _optimizers()
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(theirs_opt, **kwargs)
    with pytest.raises(ValueError, match=f"^OneCycleLR: .*{message}"):
        lr_scheduler.OneCycleLR(ours_opt, **kwargs)


def test_one_cycle_lr_needs_momentum_to_cycle_it():
    ours_opt, theirs_opt = _optimizers("Adadelta")
    with pytest.raises(ValueError, match="momentum"):
        torch.optim.lr_scheduler.OneCycleLR(theirs_opt, 1.0, 10)
    with pytest.raises(ValueError, match="^OneCycleLR: Adadelta has neither momentum nor betas; "
                                         "pass cycle_momentum=False"):
        lr_scheduler.OneCycleLR(ours_opt, 1.0, 10)


SCHEDULES = {
    "step": lambda o: lr_scheduler.StepLR(o, 3, 0.5),
    "multistep": lambda o: lr_scheduler.MultiStepLR(o, [2, 4, 4]),
    "cosine": lambda o: lr_scheduler.CosineAnnealingLR(o, 5, 0.001),
    "warmup-cosine": lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, 0.2, total_iters=3), lr_scheduler.CosineAnnealingLR(o, 6)],
        milestones=[3]),
    "plateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1),
    "exponential": lambda o: lr_scheduler.ExponentialLR(o, 0.8),
    "lambda": lambda o: lr_scheduler.LambdaLR(o, [WarmupFactor(3), lambda epoch: 0.9 ** epoch]),
    "one-cycle": lambda o: lr_scheduler.OneCycleLR(o, [0.5, 0.2], total_steps=10),
    "one-cycle-3-phase": lambda o: lr_scheduler.OneCycleLR(
        o, 0.5, epochs=5, steps_per_epoch=2, anneal_strategy="linear", three_phase=True),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_dict_resumes_the_same_schedule(name):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.9, 0.9, 0.9, 0.9]

    def step(sched, epoch):
        sched.step(metrics[epoch]) if name == "plateau" else sched.step()

    opt, _ = _optimizers()
    sched = SCHEDULES[name](opt)
    uninterrupted = []
    for epoch in range(len(metrics)):
        uninterrupted.append([g["lr"] for g in opt.param_groups])
        step(sched, epoch)

    opt, _ = _optimizers()
    sched = SCHEDULES[name](opt)
    for epoch in range(4):
        step(sched, epoch)
    # through JSON, as a checkpoint stores it
    saved_sched = json.loads(json.dumps(sched.state_dict()))
    saved_lrs = [g["lr"] for g in opt.param_groups]
    opt, _ = _optimizers()
    sched = SCHEDULES[name](opt)
    for group, lr in zip(opt.param_groups, saved_lrs):   # what optimizer.load_state_dict does
        group["lr"] = lr
    sched.load_state_dict(saved_sched)
    resumed = []
    for epoch in range(4, len(metrics)):
        resumed.append([g["lr"] for g in opt.param_groups])
        step(sched, epoch)
    assert resumed == uninterrupted[4:]
    assert len({tuple(r) for r in uninterrupted}) > 1


def test_bad_arguments():
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match=r"LinearLR: start_factor must be in \(0, 1\], got 0"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="SequentialLR expects len\\(schedulers\\) - 1 "
                                         "milestones, got 2 schedulers and 2 milestones"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 1), lr_scheduler.StepLR(opt, 2)],
                                  milestones=[1, 2])
    with pytest.raises(ValueError, match="factor must be < 1.0, got 1.5"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(TypeError, match="list is not an optimizer"):
        lr_scheduler.StepLR([], 1)
