"""Fine-tuning: start a run from another run's weights (``--init-from``), with a new
classifier for another number of classes (``--num-classes``) and parts of the network kept
fixed (``--freeze``). Only weights are taken: the optimizer, schedule and epoch start afresh.
"""
import os

import numpy as np

from .. import io, nn
from .checkpoint import KIND
from .errors import TrainError

PREFIXES = ("", "model.", "state_dict.", "module.", "model.module.", "state_dict.module.")


def read_weights(path):
    """{key: array} of the model weights in ``path``: a ``scratchnet train`` checkpoint, a
    state_dict written by ``scratchnet.io.save``, or a PyTorch file (``torch.save`` of a
    state_dict or of a dict holding one; read by ``io.from_torch``, which needs torch)."""
    if not os.path.isfile(path):
        raise TrainError(f"--init-from {path}: no such file")
    try:
        with open(path, "rb") as f:
            is_npz = f.read(4) == b"PK\x03\x04" and path.endswith(".npz")
        if is_npz:
            state = io.load_nested(path)
            if isinstance(state, dict) and state.get("kind") == KIND:
                state = state["model"]
            return {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        return dict(io.from_torch(path))
    except ImportError as err:
        raise TrainError(f"--init-from {path}: a PyTorch file, and {err}") from None
    except (OSError, ValueError, TypeError) as err:
        raise TrainError(f"--init-from {path}: cannot read weights from it: {err}") from None


def classifier_layers(model, num_classes):
    """Names of the Linear layers producing ``num_classes`` outputs: the classifier's last
    layer (and GoogLeNet's auxiliary heads'), the ones ``--num-classes`` replaces."""
    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and m.out_features == num_classes]


def load_initial_weights(model, weights, path, num_classes, replace_classifier):
    """Load ``weights`` into ``model`` (built for ``num_classes``), under whichever of the
    usual prefixes (``model.``, ``module.``, ...) fits it. The classifier's last layer may
    differ in its number of outputs only when ``replace_classifier``: it then keeps its fresh
    initialisation. Returns the names of the layers replaced."""
    expected = model.state_dict()
    prefix = max(PREFIXES, key=lambda p: sum(p + k in weights for k in expected))
    found = {k: weights[prefix + k] for k in expected if prefix + k in weights}
    missing = [k for k in expected if k not in found]
    if len(missing) == len(expected):
        raise TrainError(f"--init-from {path}: none of its {len(weights)} arrays is a weight of "
                         f"this model (its keys start {', '.join(list(weights)[:3])}; the "
                         f"model's {', '.join(list(expected)[:3])})")
    heads = classifier_layers(model, num_classes)
    head_keys = {f"{h}.{p}" for h in heads for p in ("weight", "bias")}
    resized = [k for k, v in found.items() if np.shape(v) != expected[k].shape]
    wrong = [k for k in resized if k not in head_keys]
    if missing or wrong:
        detail = [f"missing {', '.join(missing[:5])}" if missing else "",
                  ", ".join(f"{k} {np.shape(found[k])} instead of {expected[k].shape}"
                            for k in wrong[:5])]
        raise TrainError(f"--init-from {path} does not fit this model: "
                         f"{'; '.join(d for d in detail if d)}")
    if resized and not replace_classifier:
        outputs = np.shape(found[resized[0]])[0]
        raise TrainError(f"--init-from {path}: its classifier has {outputs} outputs and this "
                         f"run's data {num_classes} classes; pass --num-classes "
                         f"{num_classes} to replace the classifier's last layer")
    for key in resized:
        del found[key]
    model.load_state_dict({**expected, **found})
    return sorted({k.rsplit(".", 1)[0] for k in resized})


def freeze(model, prefixes):
    """Set ``requires_grad = False`` on the parameters whose name starts with one of
    ``prefixes``; returns their names. A prefix matching nothing is a TrainError."""
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(name.startswith(prefix) for name in names):
            raise TrainError(f"--freeze {prefix}: no parameter name starts with it; the "
                             f"model's start {', '.join(_top_level(names))}")
    frozen = []
    for name, param in model.named_parameters():
        if any(name.startswith(p) for p in prefixes):
            param.requires_grad = False
            frozen.append(name)
    if len(frozen) == len(names):
        raise TrainError(f"--freeze {' '.join(prefixes)} freezes every parameter: nothing "
                         "would train")
    return frozen


def _top_level(names):
    return list(dict.fromkeys(name.split(".")[0] + "." for name in names))
