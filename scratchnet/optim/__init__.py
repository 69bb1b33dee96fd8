"""scratchnet.optim: optimizers with torch.optim's update rules, options and state_dict layout."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD
