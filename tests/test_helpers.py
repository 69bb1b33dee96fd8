"""The test helpers catch what they are there to catch: an op that writes into its input, and
a test that leaves global state changed."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import function
from tests.helpers import assert_matches_torch, global_state, restore_global_state, state_changes

torch = pytest.importorskip("torch")


class Double(sn.Function):
    """y = 2x; with ``in_place`` its forward also writes into its input, which an op must
    never do (the caller's tensor would change under it)."""

    def __init__(self, in_place):
        self.in_place = in_place

    def forward(self, x):
        y = 2 * x
        if self.in_place:
            x += 1
        return y

    def backward(self, gy):
        return 2 * gy


def test_an_op_that_writes_into_its_input_fails_assert_matches_torch():
    a = np.arange(3.0)
    assert_matches_torch(lambda x: Double(False)(x), lambda x: 2 * x, [a])
    with pytest.raises(AssertionError, match="input 0: the op wrote into its input"):
        assert_matches_torch(lambda x: Double(True)(x), lambda x: 2 * x, [a])
    np.testing.assert_array_equal(a, np.arange(3.0))   # the caller's array was copied


def test_every_global_setting_is_seen_and_restored():
    before = global_state()
    threads = sn.get_num_threads()
    try:
        function._GradMode.enabled = False
        sn.set_workspace_limit(4096)
        function.forward_observers.append(print)
        function.backward_observers.append(print)
        sn.set_num_threads(1)
        changed = [c.split(":")[0] for c in state_changes(before, global_state())]
        assert changed == (["grad mode", "workspace limit", "forward observers",
                            "backward observers"] + (["threads"] if threads > 1 else []))
    finally:
        restore_global_state(before)
    assert state_changes(before, global_state()) == []
