"""Dropout layers: identity in eval mode, inverted dropout in training (F.dropout)."""
from .. import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability p in training, scaling the rest by 1/(1 − p);
    ``inplace=True`` writes the result into the input's array (F.dropout)."""

    _function = staticmethod(F.dropout)

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return self._function(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) input with probability p (F.dropout2d)."""

    _function = staticmethod(F.dropout2d)
