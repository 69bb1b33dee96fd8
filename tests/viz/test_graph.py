"""viz.graph: the DOT text names every op, leaf, shape and dtype of a graph built by hand."""
import importlib
import re
import shutil

import numpy as np
import pytest

import scratchnet as sn

graph_module = importlib.import_module("scratchnet.viz.graph")  # the name viz.graph is the function

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$', re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def _small_graph():
    """loss = sum(tanh(x @ w + b) * tanh(x @ w + b)), with b a constant."""
    rng = np.random.default_rng(0)
    x = sn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = sn.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = sn.tensor(rng.standard_normal(4))
    y = (x @ w + b).tanh()
    return x, w, b, (y * y).sum()


def _nodes(source):
    return {node: (label.replace("\\n", "\n"), attrs)
            for node, label, attrs in NODE.findall(source)}


def test_dot_text_names_every_op_leaf_shape_and_dtype():
    x, w, b, loss = _small_graph()
    source = str(sn.viz.graph(loss, params={"x": x, "w": w}))
    assert source.startswith("digraph") and source.rstrip().endswith("}")
    nodes = _nodes(source)
    ops = sorted(label.split("\n")[0] for n, (label, _) in nodes.items() if n.startswith("f"))
    # by hand: matmul, add of the bias, tanh, the product y*y, the sum
    assert ops == ["AddFunction", "MatMulFunction", "MulFunction", "SumFunction", "TanhFunction"]
    labels = {label.split("\n")[0]: label for label, _ in nodes.values()}
    assert labels["MatMulFunction"] == "MatMulFunction\n-> (2, 4) float64"
    assert labels["SumFunction"] == "SumFunction\n-> () float64"
    leaves = {label: attrs for n, (label, attrs) in nodes.items() if n.startswith("t")}
    grey = ', style=filled, fillcolor="#dddddd"'
    assert leaves == {"x\n(2, 3) float64\nrequires_grad=True": grey,
                      "w\n(3, 4) float64\nrequires_grad=True": grey,
                      "(4,) float64\nrequires_grad=False": ", style=dashed"}
    # edges by hand: out<-Sum, Sum<-Mul, Mul<-Tanh twice (y*y), Tanh<-Add, Add<-MatMul,
    # Add<-b, MatMul<-x, MatMul<-w
    name = {n: label.split("\n")[0] for n, (label, _) in nodes.items()}
    edges = sorted((name[a], name[b_]) for a, b_ in EDGE.findall(source))
    assert edges == sorted([
        ("SumFunction", "output () float64"), ("MulFunction", "SumFunction"),
        ("TanhFunction", "MulFunction"), ("TanhFunction", "MulFunction"),
        ("AddFunction", "TanhFunction"), ("MatMulFunction", "AddFunction"),
        ("(4,) float64", "AddFunction"), ("x", "MatMulFunction"), ("w", "MatMulFunction")])


def test_graph_is_deterministic_and_survives_backward():
    _, _, _, loss = _small_graph()
    before = sn.viz.graph(loss).source
    loss.backward()
    assert sn.viz.graph(loss).source == before
    assert [type(f).__name__ for f in sn.viz.graph(loss).functions] == [
        "SumFunction", "MulFunction", "TanhFunction", "AddFunction", "MatMulFunction"]


def test_multi_output_op_labels_which_output():
    x = sn.tensor(np.arange(6.0), requires_grad=True)
    a, b = x.split(3)
    source = sn.viz.graph(a * b).source
    assert '[label="(3,) [0]"]' in source and '[label="(3,) [1]"]' in source


def test_render_writes_dot_text_without_graphviz(tmp_path, monkeypatch):
    _, _, _, loss = _small_graph()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    g = sn.viz.graph(loss)
    path = g.render(str(tmp_path / "g.dot"))
    assert open(path).read() == g.source
    with pytest.raises(RuntimeError, match="'dot' was not found.*apt install graphviz"):
        g.render(str(tmp_path / "g.svg"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz program is not installed")
def test_render_svg_with_graphviz(tmp_path):
    _, _, _, loss = _small_graph()
    path = sn.viz.graph(loss).render(str(tmp_path / "g.svg"))
    svg = open(path).read()
    assert "<svg" in svg and "MatMulFunction" in svg


def test_tensor_without_graph_is_refused_clearly():
    leaf = sn.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"no backward graph: it is a leaf \(requires_grad=True"):
        sn.viz.graph(leaf)
    with sn.no_grad():
        y = leaf * 2
    with pytest.raises(ValueError, match="no_grad"):
        sn.viz.graph(y)
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        sn.viz.graph(np.ones(3))


def test_escape_quotes_in_names():
    assert graph_module._escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
