"""AlexNet's two towers on two processes, as the 2012 paper ran them on two GPUs.

Rank t holds tower t: half of every layer's output units (conv1 48 of 96 maps, conv2 128 of
256, conv3 192 of 384, ..., fc6 2048 of 4096, fc8 half the classes), i.e. the dim-0 half
of each parameter of the single-process ``alexnet_v1(towers=2)``, under the same state_dict
keys. Both ranks take the same input images. The towers exchange activations where the
paper's talk (section 3.2, Figure 2):

    conv1-LRN-pool-conv2-LRN-pool --x-- conv3-conv4-conv5-pool --x-- fc6 --x-- fc7 --x-- fc8 --g
    (each tower: its own half)     x: exchange, each tower reads both towers' outputs
                                                               g: logits gathered on each rank

and at each LRN, whose window of 5 maps reaches 2 maps into the other tower at the boundary
(``alexnet_v1`` normalises across all 96/256 maps, as Caffe's bvlc_alexnet does): there the
towers swap their 2 boundary maps, 4% of conv1's output, not the whole map stack.

An exchange is ``sum_gradients(gather_along(x, 1))``: forward, every rank gets both halves;
backward, each rank's half of the next layer sends a gradient for the whole input, summed
over the ranks. The final gather of the logits has a replicated consumer (every rank
computes the same loss), so its backward keeps this rank's slice only. Dropout masks a
tower's own units before they are sent, so both ranks see the same dropped units.
"""

from .. import distributed, nn
from ..backend import get_array_module
from ..distributed import gather_along, sum_gradients
from ..functional import cat
from ..tensor import Tensor
from ._utils import ZooModel
from .alexnet import AlexNetV1

CONV3 = 8   # index of conv3 in ``features``: the first layer that reads both towers


class TowerLocalResponseNorm(nn.LocalResponseNorm):
    """LocalResponseNorm over the channels of two towers, of which this rank holds one: the
    maps the window needs across the boundary come from the other rank."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0, group=None):
        super().__init__(size, alpha, beta, k)
        self.group = group

    def forward(self, input):
        tower, C = self.group.rank(), input.shape[1]
        before, after = self.size // 2, (self.size - 1) // 2   # the window around a channel
        width = max(before, after)
        edge = input[:, C - width:] if tower == 0 else input[:, :width]
        # (N, 2w, H, W): tower 0's last w maps, then tower 1's first w
        edges = sum_gradients(gather_along(edge, 1, self.group), self.group)
        if tower == 0:
            extended = cat([input, edges[:, width:width + after]], 1)
            return super().forward(extended)[:, :C]
        extended = cat([edges[:, width - before:width], input], 1)
        return super().forward(extended)[:, before:]


class AlexNetV1Towers(ZooModel):
    """``alexnet_v1(towers=2)`` split over the two ranks of ``group`` (default: the default
    process group), one tower each; logits (N, classes) on both ranks. ``num_classes`` must
    be even (fc8 is split too). Built from the same draws as ``alexnet_v1(towers=2)`` on rank
    0, whose weights every rank takes its half of; ``full_state_dict()`` puts the halves back
    together (a collective) and ``load_full_state_dict`` loads a single-process one.
    """

    default_input_size = (3, 227, 227)

    def __init__(self, num_classes=1000, dropout=0.5, group=None):
        super().__init__()
        group = distributed.default_group() if group is None else group
        if group.size() != 2:
            raise ValueError(f"alexnet_v1(model_parallel=True) places one tower per process: "
                             f"it needs a world of 2 processes, got {group.size()} (start it "
                             "with mpiexec -n 2)")
        if num_classes % 2:
            raise ValueError(f"alexnet_v1(model_parallel=True): fc8 is split between the "
                             f"towers, so num_classes must be even, got {num_classes}")
        self.group = group
        full = AlexNetV1(num_classes, towers=2, dropout=dropout)   # first: the same draws

        def lrn():
            return TowerLocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0, group=group)

        self.features = nn.Sequential(                  # per tower; paper sizes at 227 input
            nn.Conv2d(3, 48, kernel_size=11, stride=4), nn.ReLU(inplace=True), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),       # 48 x 27 x 27
            nn.Conv2d(48, 128, kernel_size=5, padding=2), nn.ReLU(inplace=True), lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),       # 128 x 13 x 13
            nn.Conv2d(256, 192, kernel_size=3, padding=1), nn.ReLU(inplace=True),  # CONV3
            nn.Conv2d(192, 192, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(192, 128, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),       # 128 x 6 x 6
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 2048), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 2048), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes // 2),
        )
        state = full.state_dict()
        distributed.broadcast_arrays(list(state.values()), group)
        self.load_full_state_dict(state)

    def forward(self, x):
        for i, layer in enumerate(self.features):
            if i == CONV3:
                x = self._both_towers(x)        # conv3 reads both towers' conv2 maps
            x = layer(x)
        x = x.flatten(1)                        # (N, 128·6·6): this tower's half of 9216
        for layer in self.classifier:
            if isinstance(layer, nn.Linear):
                x = self._both_towers(x)        # every fully connected layer reads both
            x = layer(x)
        return gather_along(x, 1, self.group)   # (N, classes) on both ranks

    def _both_towers(self, x):
        return sum_gradients(gather_along(x, 1, self.group), self.group)

    def load_full_state_dict(self, state):
        """Load this tower's half (along dim 0) of each array of a single-process
        ``alexnet_v1(towers=2)`` state_dict."""
        tower = self.group.rank()
        halves = {key: _array(value) for key, value in state.items()}
        for key in self.state_dict():
            if key in halves:
                half = len(halves[key]) // 2             # dim 0 splits between the towers
                halves[key] = halves[key][tower * half:(tower + 1) * half]
        return self.load_state_dict(halves)

    def full_state_dict(self):
        """The single-process ``alexnet_v1(towers=2)`` state_dict, both towers' halves
        joined along dim 0, on every rank (every rank must call it)."""
        full = {}
        for key, array in self.state_dict().items():
            work, both = self.group.all_gather(array)
            work.wait()
            full[key] = get_array_module(both).concatenate(list(both), axis=0)
        return full


def _array(value):
    return value.data if isinstance(value, Tensor) else value
