"""Higher-order gradients: create_graph, autograd.grad, autograd.functional, custom Functions
under create_graph, and second derivatives against torch.autograd.grad(create_graph=True)."""
import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import models
from scratchnet.utils.checkpoint import checkpoint
from tests.helpers import DEVICES

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(array, requires_grad=True, device="cpu"):
    """The same float64 values as a scratchnet tensor (on ``device``) and a torch tensor."""
    array = np.asarray(array, np.float64)
    return (sn.tensor(array.copy(), requires_grad=requires_grad, device=device),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def _close(ours, theirs, rtol=1e-9, atol=1e-11):
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().numpy(),
                               rtol=rtol, atol=atol)


# ---- the engine and the torch API

def test_second_derivative_of_a_cube_is_6x():
    x = sn.tensor(np.array([-1.5, 0.5, 2.0]), requires_grad=True)
    (g,) = sn.autograd.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.data ** 2)
    (h,) = sn.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.data)
    assert x.grad is None                         # autograd.grad fills no .grad


def test_tanh_derivatives_to_the_fourth_order_match_closed_forms():
    x = sn.tensor(np.linspace(-2, 2, 7), requires_grad=True)
    t = np.tanh(x.data)
    closed = [1 - t ** 2, -2 * t * (1 - t ** 2), (1 - t ** 2) * (6 * t ** 2 - 2),
              -8 * t * (1 - t ** 2) * (3 * t ** 2 - 2)]
    y = x.tanh()
    for expected in closed:
        (y,) = sn.autograd.grad(y.sum(), x, create_graph=True)
        np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_backward_create_graph_gives_a_grad_that_is_differentiable():
    ours, theirs = _pair([0.3, -1.2, 2.0])
    w_ours, w_theirs = _pair([0.5, 0.25, -1.0])
    for x, w in ((ours, w_ours), (theirs, w_theirs)):
        loss = ((x * w).exp() * x).sum()
        with pytest.warns(UserWarning, match="reference cycle"):   # torch's warning
            loss.backward(create_graph=True)
        assert x.grad.requires_grad
        penalty = (x.grad * x.grad).sum()
        x.grad = None
        w.grad = None
        penalty.backward(inputs=[w])               # only w's .grad is filled
        assert x.grad is None
    _close(w_ours.grad, w_theirs.grad)


def test_grad_matches_torch_for_several_outputs_and_inputs_and_a_non_leaf():
    (a, ta), (b, tb) = _pair([[1.0, -2.0], [0.5, 3.0]]), _pair([0.2, -0.7])
    grads = []
    for x, w, lib in ((a, b, sn), (ta, tb, torch)):
        hidden = (x * w).tanh()                    # a non-leaf input
        y1, y2 = (hidden * x).sum(1), (hidden ** 2).mean()
        v = lib.tensor(np.array([1.5, -0.5]))
        g = lib.autograd.grad([y1, y2], [x, hidden, w], [v, None], create_graph=True)
        second = lib.autograd.grad((g[0] ** 2).sum() + g[1].sum() * g[2].sum(), [x, w])
        grads.append(g + second)
    for ours, theirs in zip(*grads):
        _close(ours, theirs)


def test_autograd_backward_of_several_outputs_matches_torch():
    (a, ta), (b, tb) = _pair([[1.0, -2.0], [0.5, 3.0]]), _pair([0.2, -0.7])
    for x, w, lib in ((a, b, sn), (ta, tb, torch)):
        y1, y2 = (x * w).exp().sum(0), (x * w).sum()
        lib.autograd.backward([y1, y2], [lib.tensor(np.array([1.0, -2.0])), None],
                              inputs=[x])
    _close(a.grad, ta.grad)
    assert b.grad is None and tb.grad is None


def test_grad_errors_and_options_as_torch():
    x, y = sn.tensor([1.0, 2.0], requires_grad=True), sn.tensor([3.0], requires_grad=True)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        sn.autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = sn.autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gy is None and gx.tolist() == [2.0, 2.0]
    _, gy = sn.autograd.grad(out, [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        sn.autograd.grad(out, sn.tensor([1.0]))
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        sn.autograd.grad(sn.tensor([1.0]).sum(), x)


def test_grad_results_never_share_memory():
    a, b = sn.tensor([1.0, 2.0], requires_grad=True), sn.tensor([3.0, 4.0], requires_grad=True)
    ga, gb = sn.autograd.grad((a + b).sum(), [a, b])
    ga.data += 1                                   # add's backward hands gy to both inputs
    assert gb.tolist() == [1.0, 1.0]


def test_retain_graph_defaults_to_create_graph():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    sn.autograd.grad(y, x, create_graph=True)
    sn.autograd.grad(y, x)                         # the graph was kept
    with pytest.raises(RuntimeError, match="second time"):
        sn.autograd.grad(y, x)                     # ...and freed by the call before


def test_array_function_without_a_differentiable_backward_says_so_when_differentiated_twice():
    class Square(sn.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, gy):
            (x,) = self.saved_tensors
            return 2 * x * gy

    x = sn.tensor([1.0, 3.0], requires_grad=True)
    (g,) = sn.autograd.grad(Square()(x).sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 6.0]                # first order still works
    with pytest.raises(RuntimeError, match="Square: its backward is not differentiable"):
        g.sum().backward()


class Cube(sn.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x ** 3
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        return gy * 3 * y / x                      # 3x², through the saved output


class OnceCube(Cube):
    @staticmethod
    @sn.autograd.once_differentiable
    def backward(ctx, gy):
        x, _ = ctx.saved_tensors
        return gy * 3 * x ** 2


def test_torch_style_function_is_differentiable_twice_through_saved_inputs_and_outputs():
    x = sn.tensor([0.5, -2.0], requires_grad=True)
    (g,) = sn.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = sn.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.data)
    (g,) = sn.autograd.grad(OnceCube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.data ** 2)
    with pytest.raises(RuntimeError, match="OnceCubeBackward"):
        g.sum().backward()


def test_checkpoint_is_differentiable_twice():
    w = sn.tensor(np.array([0.3, -0.4]), requires_grad=True)
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = checkpoint(lambda t: (t * w).tanh() * t, x).sum()
    (g,) = sn.autograd.grad(y, x, create_graph=True)
    w.grad = None     # the recomputation filled it (README: Differences from PyTorch)
    (g * g).sum().backward()
    tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tw = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad(((tx * tw).tanh() * tx).sum(), tx, create_graph=True)
    (tg * tg).sum().backward()
    _close(x.grad, tx.grad)
    _close(w.grad, tw.grad)


def test_module_backward_hooks_see_and_return_differentiable_gradients():
    linear = sn.nn.Linear(3, 2).double()
    seen = []
    linear.register_full_backward_hook(lambda m, grad_input, grad_output: seen.append(
        (grad_input[0].requires_grad, grad_output[0].requires_grad)))
    x = sn.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    assert sn.gradgradcheck(lambda t: linear(t).tanh(), [x])
    assert (True, True) in seen            # under create_graph the hooks get graph tensors


def test_every_function_but_the_collectives_is_differentiable_twice():
    """The gradients of test_function_contract's graph of every op (that test checks it uses
    every Function class) come out of no NotDifferentiableTwice node except for the ops whose
    backward is a collective."""
    from scratchnet import higher_order
    from tests.test_function_contract import _every_op

    rng = np.random.default_rng(0)
    leaves = [sn.tensor(rng.standard_normal(s), requires_grad=True)
              for s in ((2, 3, 5, 5), (2, 4), (2, 3, 3, 3), (3, 4))]
    total = _every_op(*leaves, [np.zeros(3), np.ones(3)])
    grads = sn.autograd.grad(total, leaves, create_graph=True)
    blocked, seen = set(), set()
    stack = [g.grad_fn for g in grads]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if isinstance(fn, higher_order.NotDifferentiableTwice):
            blocked.add(fn.name)
        stack += [x.grad_fn for x in getattr(fn, "inputs", ()) if x is not None]
    assert blocked == {"GatherAlongFunction", "SumGradientsFunction", "SyncBatchNormFunction"}


# ---- autograd.functional against torch's

def _f(x, w):
    return (x @ w).tanh() * x.sum()


def _scalar(x, w):
    return (x @ w).sigmoid().sum() * (x * x).sum()


@pytest.mark.parametrize("name", ["vjp", "jvp", "vhp", "hvp", "jacobian", "hessian"])
def test_autograd_functional_matches_torch(name):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    ours_in = (sn.tensor(x), sn.tensor(w))
    theirs_in = (torch.tensor(x), torch.tensor(w))
    ours_fn, theirs_fn = getattr(sn.autograd.functional, name), getattr(
        torch.autograd.functional, name)
    if name in ("vjp", "jvp", "vhp", "hvp"):
        like = _f(*theirs_in) if name == "vjp" else theirs_in
        v = tuple(rng.standard_normal(t.shape) for t in (like if name != "vjp" else (like,)))
        v = v[0] if name == "vjp" else v
        f = _f if name in ("vjp", "jvp") else _scalar
        args = (lambda t: sn.tensor(t)), (lambda t: torch.tensor(t))
        ours = ours_fn(f, ours_in, tuple(map(args[0], v)) if name != "vjp" else args[0](v))
        theirs = theirs_fn(f, theirs_in, tuple(map(args[1], v)) if name != "vjp"
                           else args[1](v))
    else:
        f = _f if name == "jacobian" else _scalar
        ours, theirs = ours_fn(f, ours_in), theirs_fn(f, theirs_in)
    for a, b in zip(_flatten(ours), _flatten(theirs)):
        assert a.shape == tuple(b.shape)
        _close(a, b)


def _flatten(value):
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flatten(v)]
    return [value]


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class WrongSquare(sn.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, gy):
            return 2 * self.saved_tensors[0] * gy

        def backward_graph(self, gy):
            return 3 * self.graph_input(0, self.saved_tensors[0]) * gy   # 3x: wrong

    x = sn.tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert sn.gradgradcheck(lambda t: WrongSquare()(t) * t, [x], raise_exception=False) is False


# ---- second derivatives against torch.autograd.grad(create_graph=True)

def _second_derivatives_match(ours_fn, theirs_fn, arrays, seed=0, device="cpu", **tol):
    """∂⟨∂⟨f, v⟩/∂inputs, u⟩/∂inputs for random v, u: the same in scratchnet and torch."""
    pairs = [_pair(a, device=device) for a in arrays]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    results = []
    for fn, xs, lib in ((ours_fn, ours, sn), (theirs_fn, theirs, torch)):
        y = fn(*xs)
        rng = np.random.default_rng(seed)
        place = {"device": device} if lib is sn else {}
        v = lib.tensor(rng.standard_normal(tuple(y.shape)), **place)
        first = lib.autograd.grad(y, xs, v, create_graph=True)
        total = sum((g * lib.tensor(rng.standard_normal(tuple(g.shape)), **place)).sum()
                    for g in first)
        results.append(list(first) + list(lib.autograd.grad(total, xs)))
    for a, b in zip(*results):
        _close(a, b, **tol)


@pytest.mark.parametrize("device", DEVICES)
def test_conv2d_second_derivatives_match_torch(device):
    rng = np.random.default_rng(1)
    _second_derivatives_match(
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2).tanh(),
        lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1, groups=2).tanh(),
        [rng.standard_normal((2, 4, 7, 7)), rng.standard_normal((6, 2, 3, 3)),
         rng.standard_normal(6)], device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_max_pool2d_second_derivatives_match_torch(device):
    rng = np.random.default_rng(2)
    _second_derivatives_match(lambda x: F.max_pool2d(x ** 3, 3, 2, padding=1),
                              lambda x: TF.max_pool2d(x ** 3, 3, 2, padding=1),
                              [rng.standard_normal((2, 3, 7, 7))], device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_second_derivatives_match_torch(training, device):
    rng = np.random.default_rng(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def ours(x, w, b):
        return F.batch_norm(x, sn.tensor(mean.copy(), device=device),
                            sn.tensor(var.copy(), device=device), w, b,
                            training=training) ** 2

    def theirs(x, w, b):
        return TF.batch_norm(x, torch.tensor(mean.copy()), torch.tensor(var.copy()), w, b,
                             training=training) ** 2

    _second_derivatives_match(ours, theirs, [rng.standard_normal((4, 3, 3, 3)),
                                             rng.standard_normal(3), rng.standard_normal(3)],
                              device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_second_derivatives_match_torch(device):
    rng = np.random.default_rng(4)
    labels = np.array([2, 0, 1, 2, -100])
    weight = np.array([0.5, 2.0, 1.0])
    _second_derivatives_match(
        lambda x: F.cross_entropy(x, sn.tensor(labels, device=device),
                                  weight=sn.tensor(weight, device=device), label_smoothing=0.2),
        lambda x: TF.cross_entropy(x, torch.tensor(labels), weight=torch.tensor(weight),
                                   label_smoothing=0.2),
        [rng.standard_normal((5, 3))], device=device)


def _torch_resnet20(params, x):
    """scratchnet's resnet20 (option A shortcuts, batch norm in training mode) written with
    torch's functional ops on the same parameters, keyed by scratchnet's names."""
    def bn(name, t):
        return TF.batch_norm(t, None, None, params[name + ".weight"], params[name + ".bias"],
                             training=True)

    def conv(name, t, stride=1):
        return TF.conv2d(t, params[name + ".weight"], stride=stride, padding=1)

    out = TF.relu(bn("bn1", conv("conv1", x)))
    planes = 16
    for stage, width in enumerate((16, 32, 64), start=1):
        for block in range(3):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"layer{stage}.{block}"
            y = TF.relu(bn(name + ".bn1", conv(name + ".conv1", out, stride)))
            y = bn(name + ".bn2", conv(name + ".conv2", y))
            shortcut = out
            if stride != 1 or planes != width:
                shortcut = TF.pad(out[:, :, ::stride, ::stride], (0, 0, 0, 0, 0, width - planes))
            out, planes = TF.relu(y + shortcut), width
    out = TF.adaptive_avg_pool2d(out, 1).flatten(1)
    return TF.linear(out, params["fc.weight"], params["fc.bias"])


def test_resnet20_hessian_vector_product_matches_torch():
    """H·v of the cross-entropy of resnet20 (training mode) with respect to every
    parameter, for a random direction v: the same as torch's."""
    sn.manual_seed(0)
    model = models.resnet20().double()
    model.train()
    rng = np.random.default_rng(5)
    x, labels = rng.standard_normal((2, 3, 8, 8)), np.array([3, 7])
    names = [n for n, _ in model.named_parameters()]
    ours = [p for _, p in model.named_parameters()]
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    v = [rng.standard_normal(p.shape) for p in ours]

    loss = F.cross_entropy(model(sn.tensor(x)), sn.tensor(labels))
    grads = sn.autograd.grad(loss, ours, create_graph=True)
    hv = sn.autograd.grad(sum((g * sn.tensor(d)).sum() for g, d in zip(grads, v)), ours)

    t_loss = TF.cross_entropy(_torch_resnet20(dict(zip(names, theirs)), torch.tensor(x)),
                              torch.tensor(labels))
    t_grads = torch.autograd.grad(t_loss, theirs, create_graph=True)
    t_hv = torch.autograd.grad(sum((g * torch.tensor(d)).sum() for g, d in zip(t_grads, v)),
                               theirs)
    _close(loss, t_loss)
    for a, b in zip(grads, t_grads):
        _close(a, b, rtol=1e-7, atol=1e-9)
    for a, b in zip(hv, t_hv):
        _close(a, b, rtol=1e-6, atol=1e-8)
