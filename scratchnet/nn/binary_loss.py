"""Binary cross-entropy loss layers, wrapping scratchnet.functional."""
from .. import functional as F
from .module import Module


class BCELoss(Module):
    """Binary cross-entropy of probabilities (after a sigmoid), as ``torch.nn.BCELoss``."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        _no_legacy("BCELoss", size_average, reduce)
        self.weight, self.reduction = weight, reduction

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy of logits (sigmoid fused in, stable in both tails), as
    ``torch.nn.BCEWithLogitsLoss``; ``pos_weight`` weighs the positive term per class."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__()
        _no_legacy("BCEWithLogitsLoss", size_average, reduce)
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


def _no_legacy(name, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise ValueError(f"{name}: size_average and reduce are deprecated in torch and not "
                         "supported; use reduction='mean'|'sum'|'none'")
