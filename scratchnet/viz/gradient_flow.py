"""Per-layer activation and gradient statistics: how signal flows forward and back.

    flow = sn.viz.GradientFlow(model)        # hooks every leaf layer
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    print(flow)                              # one row per layer call, in forward order
    flow.plot("flow.png")                    # needs matplotlib
    flow.remove()

A forward hook reads each layer's output y (the activation) and registers a tensor hook on it,
which reads dL/dy when backward reaches it. A network whose activation std or gradient norm
shrinks or grows layer after layer is one that will train badly; a ReLU layer whose output is
mostly zeros has mostly dead units.
"""
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._plot import pyplot
from .receptive_field import module_by_name


@dataclass
class LayerStats:
    """Statistics of one layer call. Activation = the layer's output y; gradient = dL/dy.
    ``std`` is the population standard deviation (ddof=0); ``zeros`` the fraction of exactly
    zero outputs (after a ReLU: the dead units); ``param_grad_norm`` the L2 norm of the layer's
    own parameters' ``.grad`` (None without parameters or before backward)."""

    name: str
    type: str
    shape: tuple
    act_mean: float
    act_std: float
    act_norm: float
    zeros: float
    grad_mean: float = None
    grad_std: float = None
    grad_norm: float = None
    param_grad_norm: float = None


class GradientFlow:
    """Collects :class:`LayerStats` for every leaf module of ``model`` (or for the modules
    named in ``layers``) on each forward and backward; ``stats`` holds those of the latest
    forward pass (a new forward of ``model`` starts afresh). A module called twice in one
    forward (a shared ReLU) gets a row per call, the second named ``name#2``.

    Use as a context manager, or call ``remove()`` to take the hooks off.
    """

    def __init__(self, model, layers=None):
        if layers is None:
            chosen = [(name, m) for name, m in model.named_modules()
                      if name and not any(True for _ in m.children())]
        else:
            chosen = [(name, module_by_name(model, name, "GradientFlow")) for name in layers]
        if not chosen:
            raise ValueError(f"GradientFlow: {type(model).__name__} has no sub-layers to watch; "
                             "pass a model built from layers (e.g. nn.Sequential)")
        self.model = model
        self._records = []
        self._calls = {}
        self._handles = [model.register_forward_pre_hook(self._reset)]
        for name, module in chosen:
            self._handles.append(module.register_forward_hook(self._make_hook(name)))

    def _reset(self, module, inputs):
        self._records, self._calls = [], {}

    def _make_hook(self, name):
        def hook(module, inputs, output):
            if not isinstance(output, Tensor):  # tuple outputs (aux heads) are not tracked
                return
            count = self._calls[name] = self._calls.get(name, 0) + 1
            record = LayerStats(name if count == 1 else f"{name}#{count}", type(module).__name__,
                                output.shape, *_statistics(output.data, zeros=True))
            self._records.append((record, module))
            if output.requires_grad:
                output.register_hook(lambda grad: self._read_grad(record, grad))
        return hook

    @staticmethod
    def _read_grad(record, grad):
        record.grad_mean, record.grad_std, record.grad_norm = _statistics(grad.data)

    @property
    def stats(self):
        """The rows of the latest forward (and backward, once it ran), in forward order."""
        for record, module in self._records:
            grads = [p.grad.data for p in module.parameters(recurse=False) if p.grad is not None]
            record.param_grad_norm = (float(np.sqrt(sum(_statistics(g)[2] ** 2 for g in grads)))
                                      if grads else None)
        return [record for record, _ in self._records]

    def table(self):
        stats = self.stats
        if not stats:
            return "GradientFlow: no forward pass seen yet; run the model, then backward()"
        header = ("layer", "type", "output shape", "act mean", "act std", "act norm", "zeros",
                  "grad mean", "grad std", "grad norm", "param grad norm")
        rows = [header] + [(s.name, s.type, str(s.shape), *(_fmt(v) for v in (
            s.act_mean, s.act_std, s.act_norm)), f"{s.zeros:.1%}", *(_fmt(v) for v in (
                s.grad_mean, s.grad_std, s.grad_norm, s.param_grad_norm))) for s in stats]
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join(lines)

    __str__ = table

    def plot(self, path=None):
        """Activation std, fraction of zeros and gradient norm per layer, as a matplotlib figure
        (saved to ``path`` when given). Raises ImportError with install advice without it."""
        plt = pyplot("GradientFlow.plot")
        stats = self.stats
        x = np.arange(len(stats))
        fig, axes = plt.subplots(3, 1, figsize=(max(6, 0.35 * len(stats)), 8), sharex=True)
        axes[0].bar(x, [s.act_std for s in stats])
        axes[0].set_ylabel("activation std")
        axes[1].bar(x, [s.zeros for s in stats])
        axes[1].set_ylabel("fraction of zeros")
        axes[2].bar(x, [s.grad_norm or 0.0 for s in stats])
        axes[2].set_ylabel("|dL/dy|")
        axes[2].set_yscale("log")
        axes[2].set_xticks(x, [s.name for s in stats], rotation=90, fontsize=7)
        fig.suptitle(f"{type(self.model).__name__}: activations and gradients per layer")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _statistics(array, zeros=False):
    """(mean, std, L2 norm[, fraction of zeros]) of ``array`` in float64, as Python floats:
    computed where the array lives, so a GPU array costs one copy of these few numbers."""
    xp = backend.get_array_module(array)
    y = array.astype(xp.float64)
    stats = [y.mean(), y.std(), xp.sqrt(xp.sum(y * y))] + ([xp.mean(y == 0)] if zeros else [])
    return [float(v) for v in backend.to_numpy(xp.stack(stats))]


def _fmt(value):
    return "-" if value is None else f"{value:.4g}"
