"""Regenerate tests/models/torchvision_zoo.npz: torchvision's own answers for the zoo tests.

torchvision cannot be installed beside the torch 2.13 that the tests use, so this script runs
in an environment of its own (it needs torch, torchvision and numpy, nothing of scratchnet):

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchvision numpy
    /tmp/tv/bin/python tests/models/make_torchvision_zoo.py tests/models/torchvision_zoo.npz

(about 2 GB of downloads and a few minutes of CPU). What it writes, per model (the layout that
tests/models/weights.py reads):

    meta.json                   uint8 UTF-8 JSON: {"torch", "torchvision", "models": {name:
                                {"kwargs", "input_size", "num_params", "parameters",
                                "state_dict": [[key, shape, "float" | "int64"], ...]}}}
    <model>.buffers.<key>       float32 batch-norm running means and variances
    <model>.logits              float64 (2, 1000): eval-mode output for the input
                                default_rng(1234).standard_normal((2, 3, S, S)) as float32

Weights are not stored: each parameter is weights.py's ``formula_weight`` (He-scaled normals
for kernels, U(0.5, 1.5) for batch-norm scales, U(-0.1, 0.1) for biases and shifts, seeded by
the key's CRC32), so the file stays a few MB. The batch-norm running statistics are the batch
statistics of one training-mode pass (momentum None, i.e. a plain average) over
default_rng(4321).standard_normal((4, 3, S, S)), in float64, so that every layer's eval-mode
input is on the scale its statistics describe; every num_batches_tracked is then 1.

The file committed beside this script was made by torch 2.14.1 and torchvision 0.29.1; its
running statistics came from an earlier run whose input was not recorded, so a regenerated file
matches it in every weight, layout and count but not in the stored statistics and logits. Both
are self-consistent, which is all the tests need: they load the stored statistics and compare
with the stored logits.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from weights import formula_weight  # noqa: E402  (NumPy only: no scratchnet needed)

# name -> (constructor keywords, input size S): the smallest S each family runs at
MODELS = {
    "alexnet": ({}, 96),
    **{name: ({}, 32) for name in ("vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
                                   "vgg16_bn", "vgg19_bn")},
    **{name: ({}, 64) for name in ("resnet18", "resnet34", "resnet50", "resnet101",
                                   "resnet152", "densenet121", "densenet169", "densenet201",
                                   "densenet161")},
    "googlenet": ({"aux_logits": True, "init_weights": True}, 96),
}


def build(name, kwargs, size):
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, p in params.items():
            p.copy_(torch.from_numpy(formula_weight(key, tuple(p.shape))))
    model.double()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    calibration = np.random.default_rng(4321).standard_normal((4, 3, size, size))
    with torch.no_grad():
        model(torch.from_numpy(calibration))
    return model.eval()


def main(path):
    arrays, models = {}, {}
    for name, (kwargs, size) in MODELS.items():
        model = build(name, kwargs, size)
        state = model.state_dict()
        x = np.random.default_rng(1234).standard_normal((2, 3, size, size)).astype(np.float32)
        with torch.no_grad():
            arrays[f"{name}.logits"] = model(torch.from_numpy(x).double()).numpy()
        for key, value in state.items():
            if key.endswith(("running_mean", "running_var")):
                arrays[f"{name}.buffers.{key}"] = value.float().numpy()
        models[name] = dict(
            kwargs=kwargs, input_size=size,
            num_params=sum(p.numel() for p in model.parameters()),
            parameters=[k for k, _ in model.named_parameters()],
            state_dict=[[k, list(v.shape), "int64" if v.dtype == torch.int64 else "float"]
                        for k, v in state.items()])
        print(f"{name}: S={size}, logits scale {np.abs(arrays[f'{name}.logits']).max():.1f}")
    meta = dict(torch=torch.__version__, torchvision=torchvision.__version__, models=models)
    arrays = {"meta.json": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays}
    np.savez_compressed(path, **arrays)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "torchvision_zoo.npz")
