"""Hypothesis strategies: hypothesis draws structure (shapes, arguments, a seed); NumPy fills
the values from that seed (drawing large arrays element by element is slow and shrinks badly)."""
import numpy as np
from hypothesis import strategies as st

seeds = st.integers(0, 2**32 - 1)


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


@st.composite
def broadcastable_shapes(draw, max_dims=4, max_side=4):
    """Two shapes that broadcast: the second drops leading dims and sets some sides to 1."""
    a = draw(shapes(0, max_dims, 1, max_side))
    drop = draw(st.integers(0, len(a)))
    b = tuple(1 if draw(st.booleans()) else n for n in a[drop:])
    return (a, b) if draw(st.booleans()) else (b, a)


def values(rng, shape, dtype=np.float64, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape).astype(dtype)


def distinct_values(rng, shape, dtype=np.float64, gap=0.1):
    """Values that are pairwise at least ``0.6 gap`` apart and at least ``0.3 gap`` from zero
    (for max, max-pool and ReLU kinks): a permuted arange on half-integers, plus jitter."""
    n = int(np.prod(shape))
    base = (rng.permutation(n) - n // 2 + 0.5) * gap
    jitter = rng.uniform(-0.2, 0.2, n) * gap
    return (base + jitter).reshape(shape).astype(dtype)


@st.composite
def shapes_and_dim(draw, min_dims=1, max_dims=4, max_side=5):
    """A shape of at least ``min_dims`` dims and one of its dims, negative half the time."""
    shape = draw(shapes(max(min_dims, 1), max_dims, 1, max_side))
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@st.composite
def shapes_and_dims(draw, max_dims=4, max_side=5):
    """A shape and a reduction ``dim``: None, one dim, or a tuple of distinct dims."""
    shape = draw(shapes(0, max_dims, 1, max_side))
    if not shape or draw(st.booleans()):
        return shape, None
    if draw(st.booleans()):
        return shape, draw(st.integers(-len(shape), len(shape) - 1))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    return shape, tuple(d - len(shape) if draw(st.booleans()) else d for d in dims)


def nonzero_values(rng, shape, dtype=np.float64, low=0.5, high=2.0):
    """Values with |v| in [low, high] and a random sign (denominators, kinks at zero)."""
    return (rng.uniform(low, high, shape) * rng.choice([-1, 1], shape)).astype(dtype)
