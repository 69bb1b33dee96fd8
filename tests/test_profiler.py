"""sn.profiler.profile(): one event per Function call and per backward, self time without the
calls nested inside, torch's table, and the engine left as it was."""
import time

import pytest

import scratchnet as sn
from scratchnet import Function, function


def _counts(prof):
    return {e.key: e.count for e in prof.key_averages()}


def test_records_each_forward_call_and_each_backward_by_name():
    x = sn.randn(4, 4, requires_grad=True)
    w = sn.randn(4, 4)
    with sn.profiler.profile() as prof:
        y = x
        for _ in range(3):
            y = y * w
        (y @ w).relu().sum().backward()
    assert _counts(prof) == {
        "MulFunction": 3, "MulFunctionBackward": 3, "MatMulFunction": 1,
        "MatMulFunctionBackward": 1, "ReLUFunction": 1, "ReLUFunctionBackward": 1,
        "SumFunction": 1, "SumFunctionBackward": 1}
    for e in prof.key_averages():
        assert 0 < e.self_cpu_time_total <= e.cpu_time_total <= prof.wall_time


def test_no_grad_forward_has_no_backward_events_and_nothing_is_recorded_after_exit():
    x = sn.randn(3)
    with sn.profiler.profile() as prof, sn.no_grad():
        x.exp()
    (sn.randn(3, requires_grad=True) * 2).sum().backward()      # outside: not recorded
    assert _counts(prof) == {"ExpFunction": 1}


class _Sleep(Function):
    """Identity that sleeps, for timing."""

    def forward(self, a):
        time.sleep(0.1)
        return a.copy()

    def backward(self, g):
        return g


class _Outer(Function):
    """Identity whose forward calls _Sleep on a Tensor of its own."""

    def forward(self, a):
        return _Sleep()(sn.tensor(a)).data

    def backward(self, g):
        return g


def test_a_call_nested_in_a_forward_counts_in_the_outer_total_not_its_self_time():
    with sn.profiler.profile() as prof:
        _Outer()(sn.randn(2))
    events = {e.key: e for e in prof.key_averages()}
    outer, inner = events["_Outer"], events["_Sleep"]
    assert inner.self_cpu_time_total >= 1e5                     # 0.1 s, in µs
    assert outer.cpu_time_total >= inner.cpu_time_total
    assert outer.self_cpu_time_total < 0.5 * inner.self_cpu_time_total


def test_table_has_torchs_columns_and_rows_sorted_by_self_time():
    with sn.profiler.profile() as prof:
        _Sleep()(sn.randn(2))
        sn.randn(2).exp()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
    lines = table.splitlines()
    for column in ("Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                   "# of Calls"):
        assert column in lines[1]
    assert lines[3].split()[0] == "_Sleep" and lines[4].split()[0] == "ExpFunction"
    assert lines[3].split()[-1] == "1"
    assert lines[-1].startswith("Self CPU time total: ")
    assert len(prof.key_averages().table(row_limit=1).splitlines()) == 6


def test_the_engine_is_restored_after_an_error_and_profiles_do_not_nest():
    call, observers = Function.__call__, list(function.backward_observers)
    with pytest.raises(ZeroDivisionError):
        with sn.profiler.profile():
            1 / 0
    assert Function.__call__ is call and function.backward_observers == observers
    with sn.profiler.profile():
        with pytest.raises(RuntimeError, match="already running"):
            sn.profiler.profile().__enter__()
    assert Function.__call__ is call
