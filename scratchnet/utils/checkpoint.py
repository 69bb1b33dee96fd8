"""Gradient checkpointing: trade compute for memory by recomputing a segment in backward."""
from .. import random
from ..function import Function, enable_grad, no_grad
from ..tensor import Tensor


class CheckpointFunction(Function):
    """Runs ``fn`` without recording its graph; backward runs it again, recording, and
    backpropagates through that fresh graph. Only the inputs are kept in between."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, *arrays):
        self.rng_state = random.get_rng_state()  # so dropout inside fn draws the same mask again
        self.save_for_backward(*arrays)
        with no_grad():
            out = self.fn(*(Tensor(a) for a in arrays))
        self.single = isinstance(out, Tensor)
        return out.data if self.single else tuple(y.data for y in out)

    def backward(self, *gys):
        arrays = self.saved_tensors
        inputs = [Tensor(a, requires_grad=need) for a, need in zip(arrays, self.needs_input_grad)]
        state = random.get_rng_state()
        random.set_rng_state(self.rng_state)
        with enable_grad():
            out = self.fn(*inputs)
        random.set_rng_state(state)
        outs = [out] if self.single else list(out)
        live = [(y, gy) for y, gy in zip(outs, gys) if y.requires_grad]
        if live:
            # one backward over all outputs: Σ <y_j, gy_j>, whose gradient is what we need
            total = live[0][0] * Tensor(live[0][1])
            total = sum(((y * Tensor(gy)).sum() for y, gy in live[1:]), total.sum())
            total.backward()
        return tuple(x.grad.data if x.requires_grad and x.grad is not None else None
                     for x in inputs)

    def composite_inputs(self):
        return tuple(self.graph_input(i, a) for i, a in enumerate(self.saved_tensors))

    def composite(self, *inputs):
        """``fn`` run again on tensors of the graph, drawing the same random numbers: under
        create_graph its gradient is taken through this (higher_order.py), and parameters
        used inside ``fn`` receive theirs as in first-order backward."""
        state = random.get_rng_state()
        random.set_rng_state(self.rng_state)
        try:
            return self.fn(*inputs)
        finally:
            random.set_rng_state(state)


def checkpoint(fn, *inputs):
    """``fn(*inputs)``, keeping no intermediate arrays: backward recomputes ``fn``.

    Parameters that ``fn`` uses (a module's weights) receive their gradients during that
    recomputation. Batch-norm running statistics inside ``fn`` are updated twice in training
    mode, as with ``torch.utils.checkpoint``.
    """
    return CheckpointFunction(fn)(*inputs)
