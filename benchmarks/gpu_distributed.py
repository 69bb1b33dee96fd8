"""The NCCL path on real GPUs: collectives, DistributedDataParallel and SyncBatchNorm over the
"nccl" backend (CuPy's cupy.cuda.nccl), one process per GPU. For benchmarks/gpu_check.sh.

    python benchmarks/gpu_distributed.py                  # every GPU of this machine
    mpiexec -n 2 python benchmarks/gpu_distributed.py     # or placed by a launcher

Without a launcher it starts itself under ``mpiexec -n G`` for G >= 2 visible GPUs (mpiexec
from the ``dist`` extra); with one GPU it runs at world size 1 and says so: NCCL's calls run,
but no data moves between GPUs. Checks, each printed PASS or FAIL (exit status 1 if any
fails; 0 with one SKIP line when there is no GPU or CuPy):

    collectives  all_reduce SUM/AVG/MAX, broadcast, all_gather of GPU tensors, the values
                 each rank must get
    ddp          LeNet-5 on cuda, each rank 4 of 4·W images: gradients equal one process's on
                 all of them (1e-4 relative)
    syncbn       ResNet-20 with SyncBatchNorm, the same: gradients and running statistics
    speed        a DDP training step of ResNet-20, batch 128 per GPU: images/s (not checked)
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import numpy as np  # noqa: E402

import scratchnet as sn  # noqa: E402
import scratchnet.distributed as dist  # noqa: E402
import scratchnet.functional as F  # noqa: E402
from scratchnet import models, nn  # noqa: E402
from scratchnet.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

FAILED = []


def say(rank, line):
    if rank == 0:
        print(line, flush=True)


def check(rank, name, ok, detail=""):
    if not ok:
        FAILED.append(name)
    say(rank, f"{'PASS' if ok else 'FAIL'}  {name}{'  ' + detail if detail else ''}")


def relative(a, b):
    a, b = sn.backend.to_numpy(a), sn.backend.to_numpy(b)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def collectives(rank, world):
    t = sn.tensor([rank + 1.0, -rank], device="cuda")
    dist.all_reduce(t)
    expected = [world * (world + 1) / 2, -world * (world - 1) / 2]
    ok = t.tolist() == expected
    t = sn.tensor([rank + 1.0], device="cuda")
    dist.all_reduce(t, dist.ReduceOp.AVG)
    ok &= t.tolist() == [(world + 1) / 2]
    t = sn.tensor([float(rank)], device="cuda")
    dist.all_reduce(t, dist.ReduceOp.MAX)
    ok &= t.tolist() == [world - 1.0]
    t = sn.tensor([float(rank)] * 3, device="cuda")
    dist.broadcast(t, src=world - 1)
    ok &= t.tolist() == [world - 1.0] * 3
    parts = [sn.zeros(2, device="cuda") for _ in range(world)]
    dist.all_gather(parts, sn.tensor([rank, 10.0 * rank], device="cuda"))
    ok &= [p.tolist() for p in parts] == [[r, 10.0 * r] for r in range(world)]
    check(rank, "collectives", ok)


def one_step(name, world, rank, sync_bn, images):
    """(DDP gradients and buffers, single-process ones) of one step on ``images`` per rank."""
    rng = np.random.default_rng(0)
    shape = models.default_input_size(name)
    x = rng.standard_normal((images * world,) + shape).astype(np.float32)
    y = rng.integers(0, 10, images * world)
    sn.manual_seed(0)
    single = models.get_model(name, num_classes=10).to("cuda")
    F.cross_entropy(single(sn.tensor(x, device="cuda")), sn.tensor(y, device="cuda")).backward()
    sn.manual_seed(0)
    model = models.get_model(name, num_classes=10).to("cuda")
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = DDP(model)
    part = slice(rank * images, (rank + 1) * images)
    F.cross_entropy(model(sn.tensor(x[part], device="cuda")),
                    sn.tensor(y[part], device="cuda")).backward()
    grads = max(relative(p.grad.data, q.grad.data)
                for p, q in zip(model.module.parameters(), single.parameters()))
    buffers = max([relative(a, b) for (k, a), b in zip(model.module.state_dict().items(),
                                                       single.state_dict().values())
                   if "running" in k], default=0.0)
    return grads, buffers


def speed(rank, world):
    sn.manual_seed(0)
    model = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(models.resnet20().to("cuda")))
    opt = sn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = sn.randn(128, 3, 32, 32, device="cuda")
    y = sn.tensor(np.arange(128) % 10, device="cuda")
    cupy = sn.backend.cupy_module()
    times = []
    for i in range(25):
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        cupy.cuda.get_current_stream().synchronize()
        if i >= 5:
            times.append(time.perf_counter() - start)
    step = float(np.median(times))
    say(rank, f"INFO  speed  ResNet-20 DDP+SyncBN step, batch 128 per GPU x {world}: "
              f"{step * 1e3:.1f} ms, {128 * world / step:.0f} images/s")


def launch_on_every_gpu():
    """Not started by a launcher, with several GPUs: start again under mpiexec -n G."""
    if dist.launched_world_size() > 1 or os.environ.get("SCRATCHNET_GPU_DISTRIBUTED_CHILD"):
        return None
    gpus = sn.backend.cupy_module().cuda.runtime.getDeviceCount()
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    mpiexec = mpiexec if os.path.exists(mpiexec) else shutil.which("mpiexec")
    if gpus < 2 or mpiexec is None:
        return None
    env = dict(os.environ, SCRATCHNET_GPU_DISTRIBUTED_CHILD="1")
    return subprocess.call([mpiexec, "-n", str(gpus), sys.executable, *sys.argv], env=env)


def main():
    if not sn.cuda_is_available():
        print(f"SKIP  gpu_distributed: no GPU ({sn.backend.show_config().splitlines()[2]})")
        return 0
    if not dist.is_nccl_available():
        print("FAIL  gpu_distributed: CuPy has no NCCL; install the NCCL wheel of your CUDA "
              "version (e.g. pip install nvidia-nccl-cu12)")
        return 1
    status = launch_on_every_gpu()
    if status is not None:
        return status
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    say(rank, f"INFO  nccl {sn.backend.cupy_module().cuda.nccl.get_version()}, world size "
              f"{world}" + ("  (one GPU: NCCL's calls run, but no data moves between GPUs)"
                            if world == 1 else ""))
    collectives(rank, world)
    grads, _ = one_step("lenet5", world, rank, sync_bn=False, images=4)
    check(rank, "ddp", grads < 1e-4, f"LeNet-5 gradients {grads:.1e} relative")
    grads, buffers = one_step("resnet20", world, rank, sync_bn=True, images=4)
    check(rank, "syncbn", grads < 1e-4 and buffers < 1e-5,
          f"ResNet-20 gradients {grads:.1e}, running statistics {buffers:.1e} relative")
    speed(rank, world)
    dist.destroy_process_group()
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
