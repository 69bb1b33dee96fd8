"""scratchnet.nn: layers and containers, mirroring torch.nn."""
from . import functional, init, utils
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .binary_loss import BCELoss, BCEWithLogitsLoss
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .conv_transpose import ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .embedding import Embedding
from .layer_norm import LayerNorm
from .linear import Flatten, Identity, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .smooth_activation import GELU, LogSigmoid, Softplus
from .sync_batchnorm import SyncBatchNorm
from . import parallel  # noqa: E402  (DistributedDataParallel is built on the layers above)
