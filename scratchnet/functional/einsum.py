"""einsum: sums of products named by subscripts, differentiable in every operand.

``einsum("ij,jk->ik", a, b)`` is a matrix product: each operand's dims get letters, the
output keeps the letters after ``->``, and every other letter is summed over. The gradient
of one operand is again an einsum: the product of the output gradient with every *other*
operand, keeping that operand's letters,

    y = einsum("ij,jk->ik", a, b)    =>    ga = einsum("ik,jk->ij", gy, b)
                                           gb = einsum("ik,ij->jk", gy, a)

with two extra steps when the operand's letters are not all in the others or the output:
a letter summed within the operand alone ("ij->i": the j's) gets gy broadcast along it, and
a letter repeated in the operand ("ii->i", a diagonal) gets gy written on that diagonal of
zeros. "..." stands for the leading dims, which broadcast as in NumPy.
"""
import string

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import check_same_float_dtype, check_tensor
from .tiling import expand


class EinsumFunction(Function):
    """Inputs: the operands, already expanded over their "..." dims; ``subscripts`` holds
    one letter string per operand and ``output`` the output's letters (no "..." left)."""

    def __init__(self, subscripts, output, sizes):
        self.subscripts, self.output, self.sizes = subscripts, output, sizes

    def forward(self, *operands):
        xp = backend.get_array_module(*operands)
        self.save_for_backward(*operands)
        return _einsum(xp, self.subscripts, self.output, operands)

    def _letters_for(self, k):
        """For operand k's gradient: the other operands, k's letters once each in order, and
        those of them the product of gy with the others keeps (the rest are summed within
        operand k alone: gy is broadcast along them)."""
        others = [j for j in range(len(self.subscripts)) if j != k]
        own = "".join(dict.fromkeys(self.subscripts[k]))
        reachable = set(self.output).union(*(self.subscripts[j] for j in others))
        return others, own, "".join(c for c in own if c in reachable)

    def backward(self, gy):
        operands = self.saved_tensors
        xp = backend.get_array_module(gy)
        grads = []
        for k, letters in enumerate(self.subscripts):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others, own, kept = self._letters_for(k)
            g = _einsum(xp, [self.output] + [self.subscripts[j] for j in others], kept,
                        [gy] + [operands[j] for j in others])
            # letters summed inside this operand alone: gy is the same along them
            g = xp.broadcast_to(g.reshape([self.sizes[c] if c in kept else 1 for c in own]),
                                [self.sizes[c] for c in own])
            if len(own) < len(letters):                    # a repeated letter: a diagonal
                diagonal = xp.zeros([self.sizes[c] for c in letters], gy.dtype)
                diagonal[_diagonal_index(xp, letters, own, self.sizes)] = g
                g = diagonal
            grads.append(xp.ascontiguousarray(g))
        return tuple(grads)

    def backward_graph(self, gy):
        """The same three steps with scratchnet ops: the product is an EinsumFunction of gy
        and the other operands, the broadcast an expand, the diagonal a reshape, an expand
        and a 0/1 mask (create_graph)."""
        arrays = self.saved_tensors
        operands = [self.graph_input(k, a) for k, a in enumerate(arrays)]
        xp = backend.get_array_module(*arrays)
        grads = []
        for k, letters in enumerate(self.subscripts):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others, own, kept = self._letters_for(k)
            g = EinsumFunction([self.output] + [self.subscripts[j] for j in others], kept,
                               self.sizes)(gy, *(operands[j] for j in others))
            g = g.reshape([self.sizes[c] if c in kept else 1 for c in own])
            g = expand(g, [self.sizes[c] for c in own])
            if len(own) < len(letters):                    # onto the diagonal
                first = [letters.index(c) == i for i, c in enumerate(letters)]
                g = g.reshape([self.sizes[c] if f else 1 for c, f in zip(letters, first)])
                mask = xp.zeros([self.sizes[c] for c in letters], arrays[k].dtype)
                mask[_diagonal_index(xp, letters, own, self.sizes)] = 1
                g = expand(g, list(mask.shape)) * Tensor(mask)
            grads.append(g)
        return tuple(grads)


def _einsum(xp, subscripts, output, operands):
    equation = ",".join(subscripts) + "->" + output
    return xp.asarray(xp.einsum(equation, *operands, optimize=len(operands) > 1))


def _diagonal_index(xp, letters, own, sizes):
    """The index that picks, in an array with axes ``letters``, the elements whose repeated
    letters agree, as an array with axes ``own`` (each letter once)."""
    index = []
    for c in letters:
        shape = [1] * len(own)
        shape[own.index(c)] = sizes[c]
        index.append(xp.arange(sizes[c]).reshape(shape))
    return tuple(index)


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("bij,bjk->bik", a, b)``; without
    "->" the output has the letters seen once, in alphabetical order (after any "...").
    Operands may also be given as one list. Backward: module docstring."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    op = "einsum"
    if not operands:
        raise TypeError(f"{op}(): expected the operands as Tensors after the equation")
    check_tensor(op, *operands)
    check_same_float_dtype(op, *operands)
    subscripts, output = _parse(equation, operands)
    sizes = _letter_sizes(equation, subscripts, operands)
    # "..." dims of size 1 broadcast to the others' sizes (the backward sums them back)
    full = [expand(a, *(sizes[c] for c in s)) for a, s in zip(operands, subscripts)]
    return EinsumFunction(subscripts, output, sizes)(*full)


def _parse(equation, operands):
    """(one letter string per operand, the output's letters), "..." replaced by capitals."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): the equation {equation!r} names {len(terms)} operands "
                         f"but {len(operands)} were given")
    used = set(equation)
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    ellipsis_dims = 0
    for term, t in zip(terms, operands):
        explicit = len(term.replace("...", ""))
        if any(c not in string.ascii_letters for c in term.replace("...", "")):
            raise ValueError(f"einsum(): invalid subscript in {term!r}: letters only")
        if ("..." in term and explicit > t.ndim) or ("..." not in term and explicit != t.ndim):
            raise ValueError(f"einsum(): the subscript {term!r} does not fit operand of shape "
                             f"{t.shape}")
        if "..." in term:
            ellipsis_dims = max(ellipsis_dims, t.ndim - explicit)
    dots = "".join(spare[:ellipsis_dims])               # the "..." dims, right-aligned
    subscripts = [term.replace("...", dots[ellipsis_dims - (t.ndim - len(term) + 3):])
                  if "..." in term else term for term, t in zip(terms, operands)]
    if arrow:
        output = output.replace("...", dots)
        for c in output:
            if output.count(c) > 1 or not any(c in s for s in subscripts):
                raise ValueError(f"einsum(): output subscript {c!r} appears more than once or "
                                 f"in no operand ({equation!r})")
    else:
        letters = "".join(subscripts)
        once = sorted(c for c in set(letters) if letters.count(c) == 1 and c not in dots)
        output = dots + "".join(once)
    return subscripts, output


def _letter_sizes(equation, subscripts, operands):
    """{letter: size}; "..." dims of size 1 broadcast, named dims must agree."""
    sizes = {}
    for s, t in zip(subscripts, operands):
        for c, n in zip(s, t.shape):
            if c.isupper() and c not in equation:        # a "..." dim: size 1 broadcasts
                sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
                if n not in (1, sizes[c]):
                    raise ValueError(f"einsum(): operands do not broadcast over '...' "
                                     f"({', '.join(str(o.shape) for o in operands)})")
            elif sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum(): subscript {c!r} has size {n} for operand of shape "
                                 f"{t.shape}, which does not match the size {sizes[c]} "
                                 f"seen before ({equation!r})")
    return sizes

