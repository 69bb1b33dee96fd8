"""The backward graph of a tensor as Graphviz DOT text.

    x = sn.randn(2, 3, requires_grad=True)
    w = sn.randn(3, 4, requires_grad=True)
    loss = (x @ w).relu().sum()
    print(sn.viz.graph(loss, params={"x": x, "w": w}))    # paste into any Graphviz viewer
    sn.viz.graph(loss).render("loss.svg")                  # needs the `dot` program

Boxes are Functions (the ops backward will run), labelled with the shape and dtype of what they
produced; ellipses are leaves: grey ones require grad and will receive ``.grad``, dashed ones
are constants backward skips. Arrows point the way the forward pass went, from an op's inputs to
the op, and carry the shape of the tensor they stand for.
"""
import os
import shutil
import subprocess

from ..function import Function
from ..tensor import Tensor

INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: apt install graphviz; macOS: brew install "
                "graphviz; conda: conda install graphviz; Windows: https://graphviz.org/download/)"
                ", or paste str(graph) into an online viewer such as "
                "https://dreampuf.github.io/GraphvizOnline")


class Graph:
    """DOT text (``source``, also ``str(graph)``) of a backward graph; ``render`` draws it.

    ``functions`` lists the graph's Functions from the output back to the inputs (breadth first).
    """

    def __init__(self, source, functions):
        self.source = source
        self.functions = functions

    def __str__(self):
        return self.source

    def __repr__(self):
        return f"<Graph: {len(self.functions)} functions; print() it for the DOT text>"

    def render(self, path, format=None):
        """Write the graph to ``path``. ``.dot``/``.gv`` files get the DOT text as it is; any
        other format (taken from the suffix, or ``format``: svg, png, pdf, ...) is drawn by the
        Graphviz ``dot`` program, which must be on PATH. Returns ``path``."""
        format = format or os.path.splitext(path)[1].lstrip(".").lower() or "svg"
        if format in ("dot", "gv"):
            with open(path, "w") as f:
                f.write(self.source)
            return path
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(f"Graph.render({path!r}): the Graphviz program 'dot' was not "
                               f"found on PATH. To draw the graph, {INSTALL_HINT}. "
                               "render('graph.dot') writes the DOT text without it.")
        result = subprocess.run([dot, f"-T{format}", "-o", path], input=self.source,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"Graph.render({path!r}): dot failed: {result.stderr.strip()}")
        return path


def graph(output, params=None):
    """The backward graph that ``output.backward()`` would walk, as a :class:`Graph`.

    ``output`` is a Tensor, or a list of Tensors drawn together, made by ops with autograd on.
    ``params`` optionally names leaves: a dict name -> Tensor, such as
    ``dict(model.named_parameters())``; unnamed leaves show their shape only.
    The graph can be drawn before or after backward (backward frees saved arrays, not edges).
    """
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    for y in outputs:
        if not isinstance(y, Tensor):
            raise TypeError(f"viz.graph: expected a Tensor, got {type(y).__name__}")
        if y.grad_fn is None:
            raise ValueError(
                f"viz.graph: this tensor (shape {y.shape}) has no backward graph: it is a leaf "
                f"(requires_grad={y.requires_grad}) or was computed under no_grad(). Compute it "
                "from a tensor made with requires_grad=True (or from a model's parameters), "
                "outside no_grad(), and pass the result")
    names = {id(t): name for name, t in (params or {}).items()}
    return _DotBuilder(names).build(outputs)


class _DotBuilder:
    """Numbers Functions f0, f1, ... and leaves t0, t1, ... in breadth-first order from the
    outputs, so the same graph always gives the same text."""

    def __init__(self, names):
        self.names = names
        self.ids = {}  # id(Function or leaf Tensor) -> node id
        self.counts = {"f": 0, "t": 0}
        self.lines = []

    def node(self, obj, prefix, label, style):
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = f"{prefix}{self.counts[prefix]}"
            self.counts[prefix] += 1
            self.lines.append(f'  {self.ids[key]} [label="{_escape(label)}", {style}];')
            return self.ids[key], True
        return self.ids[key], False

    def build(self, outputs):
        functions, queue = [], []
        for k, y in enumerate(outputs):
            out_id = f"out{k}"
            self.lines.append(f'  {out_id} [label="{_escape("output " + _describe(y))}", '
                              'shape=box, style="rounded,bold"];')
            fn_id = self.function_node(y.grad_fn, functions, queue)
            self.lines.append(f"  {fn_id} -> {out_id};")
        while queue:
            fn = queue.pop(0)
            # next_functions says where each input's gradient goes (torch's structure);
            # inputs gives its shape, and the constants that next_functions shows as None
            for x, (source, index) in zip(fn.inputs, fn.next_functions):
                if x is None:  # an optional input left out, such as a missing bias
                    continue
                src_label = f"{x.shape}"
                if isinstance(source, Function):
                    src = self.function_node(source, functions, queue)
                    if len(source.outputs) > 1:
                        src_label += f" [{index}]"
                else:  # a leaf: AccumulateGrad if it requires grad, None for a constant
                    src = self.leaf_node(x if source is None else source.variable)
                self.lines.append(f'  {src} -> {self.ids[id(fn)]} [label="{src_label}"];')
        body = "\n".join(self.lines)
        return Graph(f"digraph backward {{\n  rankdir=BT;\n  node [fontname=monospace];\n"
                     f"{body}\n}}\n", functions)

    def function_node(self, fn, functions, queue):
        made = [f"{shape} {dtype}" for shape, dtype in getattr(fn, "_output_meta", [])]
        label = type(fn).__name__ + "\n-> " + ", ".join(made)
        node_id, new = self.node(fn, "f", label, "shape=box")
        if new:
            functions.append(fn)
            queue.append(fn)
        return node_id

    def leaf_node(self, x):
        name = self.names.get(id(x))
        label = (f"{name}\n" if name else "") + _describe(x) + f"\nrequires_grad={x.requires_grad}"
        style = 'style=filled, fillcolor="#dddddd"' if x.requires_grad else "style=dashed"
        return self.node(x, "t", label, style)[0]


def _describe(t):
    return f"{t.shape} {t.dtype}"


def _escape(label):
    """DOT string escaping: quotes and backslashes, newlines as DOT's \\n."""
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
