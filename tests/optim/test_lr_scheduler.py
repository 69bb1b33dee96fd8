"""Learning-rate schedules against torch.optim.lr_scheduler, side by side on two optimizers."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.optim import SGD, lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.03)   # two param groups with different rates


def _optimizers():
    ours = SGD([{"params": [sn.zeros(2, requires_grad=True)], "lr": LRS[0]},
                {"params": [sn.zeros(3, requires_grad=True)], "lr": LRS[1]}], momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": LRS[0]},
                              {"params": [torch.zeros(3, requires_grad=True)], "lr": LRS[1]}],
                             momentum=0.9)
    return ours, theirs


def _run_side_by_side(make, epochs, metrics=None):
    ours_opt, theirs_opt = _optimizers()
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    trace = []
    for epoch in range(epochs):
        assert [g["lr"] for g in ours_opt.param_groups] == \
            [g["lr"] for g in theirs_opt.param_groups], f"epoch {epoch}"
        assert ours.get_last_lr() == theirs.get_last_lr()
        trace.append(ours_opt.param_groups[0]["lr"])
        ours_opt.step()
        theirs_opt.step()
        if metrics is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metrics[epoch])
            theirs.step(metrics[epoch])
    return trace


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


SCHEDULES = {
    "step": lambda o: lr_scheduler.StepLR(o, 3, 0.5),
    "multistep": lambda o: lr_scheduler.MultiStepLR(o, [2, 4, 4]),
    "cosine": lambda o: lr_scheduler.CosineAnnealingLR(o, 5, 0.001),
    "warmup-cosine": lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, 0.2, total_iters=3), lr_scheduler.CosineAnnealingLR(o, 6)],
        milestones=[3]),
    "plateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=1),
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
