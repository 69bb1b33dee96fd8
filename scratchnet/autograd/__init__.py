"""scratchnet.autograd, as torch.autograd: the torch-style custom ``Function`` (function.py),
anomaly detection (anomaly.py), ``grad`` (grad.py) and the higher-order helpers of
``autograd.functional`` (functional.py: vjp, jvp, hvp, vhp, jacobian, hessian)."""
from . import functional
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .function import Function, FunctionCtx, once_differentiable
from .grad import backward, grad

__all__ = ["Function", "FunctionCtx", "backward", "detect_anomaly", "functional", "grad",
           "is_anomaly_enabled", "once_differentiable", "set_detect_anomaly"]
