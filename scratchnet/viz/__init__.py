"""scratchnet.viz: tools to look inside a network and at how backprop moves through it.

- ``graph(tensor)``: the backward graph as Graphviz DOT text (``.render(path)`` draws it).
- ``trace_backward()``: a context manager recording each Function backward runs, in order.
- ``GradientFlow(model)``: per-layer activation and gradient statistics, as a table or a plot.
- ``receptive_field(model, input_size, layer)``: the empirical receptive field of one unit.

Plots use matplotlib when it is installed; nothing here needs it otherwise.
"""
from .gradient_flow import GradientFlow, LayerStats
from .graph import Graph, graph
from .receptive_field import ReceptiveField, receptive_field
from .trace import BackwardStep, trace_backward

__all__ = ["BackwardStep", "GradientFlow", "Graph", "LayerStats", "ReceptiveField", "graph",
           "receptive_field", "trace_backward"]
