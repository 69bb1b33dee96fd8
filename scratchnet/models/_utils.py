"""What every zoo model shares: the input check, layer-naming errors, the factory marker and
the input size that tools (summary, viz) run a model on."""
import numpy as np

from ..nn import Module


class ZooModel(Module):
    """Base class of the zoo's networks: a Module that checks its input before any work and,
    when a layer fails on the way (an input too small for the pooling stages, say), re-raises
    the error naming that layer (its dotted name in the state_dict) and its input shape.

    Subclasses set ``default_input_size = (C, H, W)``; the channel count C is required of
    every input, the spatial size may differ (down to what the pooling stages allow).
    """

    default_input_size = (3, 224, 224)

    def __call__(self, x, *args, **kwargs):
        channels = self.default_input_size[0]
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(f"{type(self).__name__}: expected input (N, {channels}, H, W), "
                             f"got shape {x.shape}")
        if "_tracker" not in self.__dict__:
            self._tracker = _LayerTracker(self)
        self._tracker.last = None
        try:
            return super().__call__(x, *args, **kwargs)
        except (ValueError, RuntimeError) as err:
            last = self._tracker.last
            if last is None or isinstance(err, RecursionError):
                raise
            name, layer, shape = last
            kind = ValueError if isinstance(err, ValueError) else RuntimeError
            raise kind(f"{type(self).__name__}: layer {name!r} ({type(layer).__name__}) "
                       f"failed on input of shape {shape}: {err}") from err


class _LayerTracker:
    """Pre-hooks on every leaf layer of a model record the last one entered, with its input
    shape: when an error surfaces, that is the layer it came from. The hooks are objects (not
    closures) so that a deep copy of the model gets a tracker of its own."""

    def __init__(self, model):
        self.last = None
        for name, module in model.named_modules():
            if module is not model and not module._modules:
                module.register_forward_pre_hook(_Enter(self, name))


class _Enter:
    def __init__(self, tracker, name):
        self.tracker, self.name = tracker, name

    def __call__(self, layer, inputs):
        shape = inputs[0].shape if inputs and hasattr(inputs[0], "shape") else None
        self.tracker.last = self.name, layer, shape


def builds(model_class):
    """Mark a zoo factory with the class it builds, so ``default_input_size(name)`` can
    answer without building (VGG's 133 M weights take seconds to initialise)."""
    def mark(factory):
        factory.model_class = model_class
        return factory
    return mark


def model_input_size(model, input_size, who, batched=False, vectors=False):
    """``input_size`` checked and as a tuple of ints: (C, H, W), or with ``batched`` also
    (N, C, H, W), a (C, H, W) then getting N = 1; with ``vectors`` also a feature size (F,)
    or, batched, (N, F). None stands for the model's ``default_input_size``. Anything else
    is a ValueError naming ``who``."""
    one = ((3, 1) if vectors else (3,))
    ranks = one + tuple(r + 1 for r in one) if batched else one
    forms = "(C, H, W) or (N, C, H, W)" if batched else "(C, H, W)"
    if vectors:
        forms += " for images, " + ("(F,) or (N, F)" if batched else "(F,)") + " for vectors"
    if input_size is None:
        input_size = getattr(model, "default_input_size", None)
        if input_size is None:
            raise ValueError(f"{who}: {type(model).__name__} has no default_input_size; "
                             "pass input_size=(C, H, W)"
                             + (", or (F,) for a model of vectors" if vectors else ""))
    size = tuple(input_size)
    if len(size) not in ranks or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
            for s in size):
        raise ValueError(f"{who}: input_size must be {forms}, got {size}; each size a "
                         "positive int")
    size = tuple(int(s) for s in size)
    return (1,) + size if batched and len(size) in one else size
