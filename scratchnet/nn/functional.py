"""torch's spelling: ``import scratchnet.nn.functional as F`` gives ``scratchnet.functional``
itself (the same module object, so every op added there is here too)."""
import sys

from .. import functional

sys.modules[__name__] = functional
