"""alexnet_v1(towers=2, model_parallel=True) on 2 ranks against the single-process
alexnet_v1(towers=2) built from the same seed, dropout off: logits, loss and every
parameter's gradient (each rank's half)."""
import numpy as np

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import models
from tests.distributed.workers.common import finish, relative_error, start

rank, world, out = start()
rng = np.random.default_rng(0)
x = sn.tensor(rng.standard_normal((2, 3, 227, 227)).astype(np.float32))
y = sn.tensor(np.array([3, 7]))

sn.manual_seed(0)
single = models.alexnet_v1(num_classes=10, dropout=0.0)
logits = single(x)
loss = F.cross_entropy(logits, y)
loss.backward()
full = dict(single.named_parameters())

sn.manual_seed(0)
towers = models.alexnet_v1(num_classes=10, dropout=0.0, model_parallel=True)
parallel_logits = towers(x)
parallel_loss = F.cross_entropy(parallel_logits, y)
parallel_loss.backward()

gradients = {name: relative_error(p.grad.data, np.split(full[name].grad.data, 2, axis=0)[rank])
             for name, p in towers.named_parameters()}
whole = towers.full_state_dict()
finish({"logits": relative_error(parallel_logits.data, logits.data),
        "loss": [float(loss.item()), float(parallel_loss.item())],
        "gradients": gradients,
        "weight shapes": {n: list(p.shape) for n, p in towers.named_parameters()},
        "joined state": all(np.array_equal(whole[k], v)
                            for k, v in single.state_dict().items())})
