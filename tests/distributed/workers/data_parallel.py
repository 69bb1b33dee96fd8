"""Data-parallel training on 2 ranks against one process on the combined batch.

zoo:      one DDP step per zoo family (SyncBatchNorm converted, dropout off, 2 images per
          rank at small input); every rank also runs the unwrapped model on all 4 images.
          AlexNet's and VGG-11's fully connected layers are narrowed to 256 units (their
          convolutions are the zoo's): the 4096-wide ones hold 57 M and 124 M parameters,
          12 s and 40 s to build and reduce twice on 2 cores. ResNet-18 and DenseNet-121 run
          in float64: batch norm over 4 values per channel (1x1 maps) amplifies float32's
          rounding past any useful tolerance.
resnet20: 3 SGD steps of a SyncBatchNorm ResNet-20 in float64 on 4 + 4 synthetic 16x16
          images, against 3 steps of one process on the 8.
replicas: construction copies rank 0's weights; different models are refused; no_sync;
          a parameter used on one rank only (find_unused_parameters).
Each rank reports errors as max |ours − reference| / max |reference| per array.
"""
import sys

import numpy as np

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import models, nn, optim
from scratchnet.nn.parallel import DistributedDataParallel as DDP
from tests.distributed.workers.common import finish, relative_error, start

rank, world, out = start()
part = slice(rank * 2, rank * 2 + 2)        # this rank's images of 4 (of 8 for resnet20)
report = {}


def build(name, seed, **kwargs):
    sn.manual_seed(seed)
    model = models.get_model(name, **kwargs)
    if name in ("alexnet", "vgg11"):
        model.classifier = narrowed(model.classifier)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return model


def narrowed(classifier, width=256):
    """The classifier with its hidden layers ``width`` units wide."""
    linears = [i for i, m in enumerate(classifier) if isinstance(m, nn.Linear)]
    layers = list(classifier)
    for i in linears:
        old = layers[i]
        layers[i] = nn.Linear(old.in_features if i == linears[0] else width,
                              old.out_features if i == linears[-1] else width)
    return nn.Sequential(*layers)


def batch(shape, n, seed, classes=10):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n,) + shape).astype(np.float32),
            rng.integers(0, classes, n))


def gradients_and_buffers(model):
    return ({n: p.grad.data.copy() for n, p in model.named_parameters()},
            {n: b.copy() for n, b in model.named_buffers() if b.dtype.kind == "f"})


def zoo():
    families = [("lenet5", (1, 32, 32), {}), ("alexnet", (3, 64, 64), {"num_classes": 10}),
                ("vgg11", (3, 32, 32), {"num_classes": 10}),
                ("resnet18", (3, 32, 32), {"num_classes": 10}),
                ("densenet121", (3, 32, 32), {"num_classes": 10})]
    for name, shape, kwargs in families:
        x, y = batch(shape, 4, seed=len(name))
        dtype = np.float64 if "dense" in name or "resnet" in name else np.float32
        x = x.astype(dtype)
        # every rank computes the reference: rank 0 alone would leave rank 1 spinning in MPI
        model = build(name, 0, **kwargs).to(dtype)
        F.cross_entropy(model(sn.tensor(x)), sn.tensor(y)).backward()
        reference = gradients_and_buffers(model)
        model.zero_grad()
        for m in model.modules():
            if hasattr(m, "reset_running_stats"):
                m.reset_running_stats()
        model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(model))
        F.cross_entropy(model(sn.tensor(x[part])), sn.tensor(y[part])).backward()
        grads, buffers = gradients_and_buffers(model.module)
        report[name] = {
            "gradients": max(relative_error(grads[k], g) for k, g in reference[0].items()),
            "buffers": max([relative_error(buffers[k], b) for k, b in reference[1].items()],
                           default=0.0),
            "syncbn": sum(isinstance(m, nn.SyncBatchNorm) for m in model.modules())}
        del model


def resnet20():
    x, y = batch((3, 16, 16), 8, seed=20)
    part8 = slice(rank * 4, rank * 4 + 4)

    def train(model, images, labels):
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        for step in range(3):
            opt.zero_grad()
            F.cross_entropy(model(sn.tensor(images)), sn.tensor(labels)).backward()
            opt.step()
        return {k: v.copy() for k, v in model.state_dict().items()}

    model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(build("resnet20", 0).double()))
    ours = train(model, x[part8].astype(np.float64), y[part8])
    ours = {k[len("module."):]: v for k, v in ours.items()}
    if rank == 0:
        theirs = train(build("resnet20", 0).double(), x.astype(np.float64), y)
        keys = sorted(theirs)
        report["resnet20"] = {
            "weights": max(relative_error(ours[k], theirs[k]) for k in keys
                           if "running" not in k and "num_batches" not in k),
            "running": max(relative_error(ours[k], theirs[k]) for k in keys if "running" in k),
            "batches_tracked": int(ours["bn1.num_batches_tracked"])}


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Linear(4, 3), nn.Linear(3, 2)

    def forward(self, x, use_head):
        h = self.body(x)
        return self.head(h).sum() + h.sum() if use_head else h.sum()


def replicas():
    model = DDP(build("lenet5", seed=rank))
    sn.manual_seed(0)
    report["copied from rank 0"] = all(
        np.array_equal(a, b) for a, b in zip(model.module.state_dict().values(),
                                             build("lenet5", 0).state_dict().values()))
    try:
        DDP(nn.Linear(3, 2 + rank))
        report["different models"] = None
    except RuntimeError as err:
        report["different models"] = str(err)

    # no_sync: two local backwards, then one synchronised: the average of all four sums
    x, y = batch((1, 32, 32), 4, seed=3)
    with model.no_sync():
        F.cross_entropy(model(sn.tensor(x[rank:rank + 1])), sn.tensor(y[rank:rank + 1])) \
            .backward()
    F.cross_entropy(model(sn.tensor(x[2 + rank:3 + rank])), sn.tensor(y[2 + rank:3 + rank])) \
        .backward()
    single = build("lenet5", 0)
    for i in range(4):
        F.cross_entropy(single(sn.tensor(x[i:i + 1])), sn.tensor(y[i:i + 1])).backward()
    report["no_sync"] = max(relative_error(p.grad.data, q.grad.data / 2) for p, q in
                            zip(model.module.parameters(), single.parameters()))

    # the head runs on rank 0 only: its gradient is rank 0's over 2; body's is the average
    sn.manual_seed(0)
    branchy = DDP(Branchy(), find_unused_parameters=True)
    branchy(sn.ones(1, 4) * (rank + 1), use_head=rank == 0).backward()
    report["head grad"] = branchy.module.head.weight.grad.data.tolist()
    report["body bias grad"] = branchy.module.body.bias.grad.data.tolist()


for section in sys.argv[2:]:
    {"zoo": zoo, "resnet20": resnet20, "replicas": replicas}[section]()
finish(report)
