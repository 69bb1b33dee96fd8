"""Differentiating gradients: three uses of ``create_graph=True`` and ``autograd.grad``.

1. Newton's method on Rosenbrock's function f(x, y) = (1 − x)² + 100 (y − x²)² from
   (−1.2, 1), with the exact Hessian from ``sn.autograd.functional.hessian``: a step
   solves H·d = ∇f, and the iterate reaches the minimum (1, 1) in a handful of steps, where
   gradient descent needs thousands (DeZero's classic, its steps 28 to 33).
2. The derivatives of tanh up to the 4th order, each by differentiating the one before,
   printed beside their closed forms in t = tanh x:
   1 − t², −2t(1 − t²), (1 − t²)(6t² − 2), −8t(1 − t²)(3t² − 2).
3. A WGAN-GP gradient penalty (Gulrajani et al., 2017) on a small conv critic: the penalty
   (‖∇ₓ D(x̂)‖ − 1)² at points x̂ between real and fake images needs the gradient of a
   gradient. The critic's parameter gradients are compared with torch's on the same
   weights when torch is installed.

    python examples/higher_order.py [--smoke]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402

import scratchnet as sn  # noqa: E402
import scratchnet.functional as F  # noqa: E402


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def newton(start, steps):
    """Rows (step, x, y, f) of Newton's method with the exact gradient and Hessian."""
    p = np.array(start, np.float64)
    rows = []
    for step in range(steps + 1):
        point = sn.tensor(p, requires_grad=True)
        value = rosenbrock(point)
        rows.append((step, float(p[0]), float(p[1]), value.item()))
        (gradient,) = sn.autograd.grad(value, point)
        hessian = sn.autograd.functional.hessian(rosenbrock, sn.tensor(p))
        p = p - np.linalg.solve(hessian.numpy(), gradient.numpy())
    return rows


def tanh_derivatives(x, order=4):
    """Rows (order, x, by autograd, closed form) for tanh's derivatives at the points x."""
    t = np.tanh(x)
    closed = [1 - t ** 2, -2 * t * (1 - t ** 2), (1 - t ** 2) * (6 * t ** 2 - 2),
              -8 * t * (1 - t ** 2) * (3 * t ** 2 - 2)]
    point = sn.tensor(np.asarray(x, np.float64), requires_grad=True)
    y, rows = point.tanh(), []
    for k in range(order):
        (y,) = sn.autograd.grad(y.sum(), point, create_graph=True)
        rows += [(k + 1, float(xi), float(a), float(b))
                 for xi, a, b in zip(x, y.detach().numpy(), closed[k])]
    return rows


def critic_weights(rng, channels):
    """A small conv critic: 3x3 conv 1 -> C, leaky relu, 3x3 conv stride 2 C -> C, leaky
    relu, global mean, linear C -> 1."""
    return {"conv1": rng.standard_normal((channels, 1, 3, 3)) * 0.5,
            "conv2": rng.standard_normal((channels, channels, 3, 3)) * 0.2,
            "fc": rng.standard_normal((1, channels)), "fc_bias": np.zeros(1)}


def critic(lib, functional, w, x):
    h = functional.leaky_relu(functional.conv2d(x, w["conv1"], padding=1), 0.2)
    h = functional.leaky_relu(functional.conv2d(h, w["conv2"], stride=2, padding=1), 0.2)
    return functional.linear(h.mean((2, 3)), w["fc"], w["fc_bias"])


def wgan_gp_loss(lib, functional, w, real, fake, eps, lam):
    """D(fake) − D(real) + λ·(‖∇ₓ D(x̂)‖₂ − 1)², x̂ = ε·real + (1 − ε)·fake, meaned."""
    between = eps * real + (1 - eps) * fake
    between.requires_grad_(True)
    scores = critic(lib, functional, w, between)
    (grad,) = lib.autograd.grad(scores.sum(), between, create_graph=True)
    norms = ((grad * grad).sum((1, 2, 3)) + 1e-12).sqrt()
    penalty = ((norms - 1) ** 2).mean()
    return (critic(lib, functional, w, fake).mean() - critic(lib, functional, w, real).mean()
            + lam * penalty)


def gradient_penalty(batch, size, channels, seed=0):
    """Rows (parameter, shape, largest |gradient|, largest difference from torch or None)."""
    rng = np.random.default_rng(seed)
    weights = critic_weights(rng, channels)
    real = rng.standard_normal((batch, 1, size, size))
    fake = rng.standard_normal((batch, 1, size, size))
    eps = rng.uniform(size=(batch, 1, 1, 1))
    ours = {k: sn.tensor(v, requires_grad=True) for k, v in weights.items()}
    loss = wgan_gp_loss(sn, F, ours, sn.tensor(real), sn.tensor(fake), sn.tensor(eps), 10.0)
    loss.backward()
    theirs = _torch_gradients(weights, real, fake, eps)
    rows = []
    for name, w in ours.items():
        g = w.grad.numpy()
        diff = None if theirs is None else float(np.abs(g - theirs[name]).max())
        rows.append((name, tuple(g.shape), float(np.abs(g).max()), diff))
    return rows


def _torch_gradients(weights, real, fake, eps):
    try:
        import torch
        import torch.nn.functional as TF
    except ImportError:
        return None
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    loss = wgan_gp_loss(torch, TF, theirs, torch.tensor(real), torch.tensor(fake),
                        torch.tensor(eps), 10.0)
    loss.backward()
    return {k: v.grad.numpy() for k, v in theirs.items()}


def main(argv=None):
    args = _common.parse_args(__doc__.splitlines()[0], argv)
    steps, (batch, size, channels) = (6, (2, 6, 3)) if args.smoke else (7, (8, 16, 8))

    print("Newton's method on Rosenbrock's function, exact Hessian")
    print(f"{'step':>4} {'x':>12} {'y':>12} {'f(x, y)':>12}")
    newton_rows = newton((-1.2, 1.0), steps)
    for step, x, y, f in newton_rows:
        print(f"{step:>4} {x:>12.8f} {y:>12.8f} {f:>12.4e}")

    print("\ntanh's derivatives by differentiating again, and their closed forms")
    print(f"{'order':>5} {'x':>6} {'autograd':>14} {'closed form':>14}")
    tanh_rows = tanh_derivatives(np.array([-1.0, 0.5, 2.0]))
    for k, x, a, b in tanh_rows:
        print(f"{k:>5} {x:>6.2f} {a:>14.10f} {b:>14.10f}")

    print(f"\nWGAN-GP critic loss on {batch} images {size}x{size}: parameter gradients")
    print(f"{'parameter':>10} {'shape':>14} {'max |grad|':>12} {'max |ours - torch|':>19}")
    gp_rows = gradient_penalty(batch, size, channels)
    for name, shape, g, diff in gp_rows:
        shown = "(no torch)" if diff is None else f"{diff:.2e}"
        print(f"{name:>10} {shape!s:>14} {g:>12.4e} {shown:>19}")
    return newton_rows, tanh_rows, gp_rows


if __name__ == "__main__":
    main()
