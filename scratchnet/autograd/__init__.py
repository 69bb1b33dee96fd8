"""scratchnet.autograd, as torch.autograd: the torch-style custom ``Function`` (function.py)
and anomaly detection (anomaly.py)."""
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .function import Function, FunctionCtx

__all__ = ["Function", "FunctionCtx", "detect_anomaly", "is_anomaly_enabled",
           "set_detect_anomaly"]
