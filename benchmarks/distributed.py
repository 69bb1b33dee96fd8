"""Data-parallel training on two CPU processes, one thread each: scratchnet's
DistributedDataParallel over MPI next to torch's over gloo, on the same shapes.

    flock -x /tmp/cpu.lock python benchmarks/distributed.py
    python benchmarks/distributed.py --only resnet20 --steps 30

Per model (LeNet-5, batch 64, 1x32x32; ResNet-20, batch 128, 3x32x32; float32, SGD momentum)
and framework, each in fresh processes, the median time of one training step:

    one        1 process, the whole batch
    local      2 processes (mpiexec -n 2), each its half of the batch, no communication:
               the per-rank compute (the two processes share the machine's memory bandwidth)
    ddp        2 processes, DistributedDataParallel: each half's gradients averaged in buckets
               all-reduced while backward runs
    ddp+sync   scratchnet, models with batch norm: DDP with SyncBatchNorm (what
               `mpiexec -n 2 scratchnet train` runs); torch's SyncBatchNorm needs CUDA
    allreduce  2 processes: the same buckets all-reduced alone, blocking, after nothing

Reported: images/s (batch / step), the speed-up of 2 ranks (one / ddp; target >= 1.8) beside
its ceiling on this machine (one / local: two processes computing without communicating),
DDP's overhead over the per-rank compute (ddp / local - 1; target <= 10%), and the fraction
of the all-reduce hidden behind backward as torch's DDP logs it: from the first bucket's start
to the last gradient, over the first bucket's start to the last bucket's end (scratchnet:
``DistributedDataParallel.reducer.timings``; torch: ``_get_ddp_logging_data()``), averaged
over the timed steps. Every step starts after a barrier and ends after another, so a step's
time is the slower rank's. Like every benchmark here, the script runs without this machine's
OPENBLAS_* overrides and prints the BLAS kernel it uses.
"""
import argparse
import json
import os
import socket
import subprocess
import sys

from _harness import blas_line, reexec_clean, set_threads, training_step

reexec_clean()  # before NumPy is imported: drop this machine's OPENBLAS_* overrides

MODELS = {"lenet5": (64, (1, 32, 32)), "resnet20": (128, (3, 32, 32))}
MODES = ("one", "local", "ddp", "ddp+sync", "allreduce")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scratchnet_step(model_name, mode, x, y):
    import scratchnet as sn
    from scratchnet import distributed as dist
    from scratchnet import nn
    from scratchnet.nn.parallel import DistributedDataParallel
    from scratchnet.nn.parallel.reducer import make_buckets

    sn.manual_seed(0)
    model = sn.models.get_model(model_name, num_classes=10)
    if mode == "allreduce":
        group = dist.default_group()
        flats = [b.flat for b in make_buckets(list(model.parameters()), 25 << 20)]
        return lambda: [group.all_reduce(f, dist.ReduceOp.SUM).wait() for f in flats]
    if mode == "ddp+sync":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if mode in ("ddp", "ddp+sync"):
        model = DistributedDataParallel(model)
    def hidden():
        t = getattr(getattr(model, "reducer", None), "timings", None)
        if t:
            return (t["compute_end"] - t["comm_start"]) / (t["comm_end"] - t["comm_start"])
        return None
    opt = sn.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return training_step(model, opt, sn.nn.CrossEntropyLoss(), sn.tensor(x), sn.tensor(y),
                         hidden)


def _torch_step(model_name, mode, x, y):
    import torch
    import torch.distributed as tdist
    sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
    import torch_reference

    torch.manual_seed(0)
    model = torch_reference.lenet5() if model_name == "lenet5" \
        else torch_reference.CifarResNet(3)
    if mode == "allreduce":
        from scratchnet.nn.parallel.reducer import make_buckets
        import scratchnet as sn
        sizes = [b.flat.size for b in make_buckets(
            list(sn.models.get_model(model_name, num_classes=10).parameters()), 25 << 20)]
        flats = [torch.zeros(n) for n in sizes]
        return lambda: [tdist.all_reduce(f) for f in flats]
    if mode == "ddp":
        model = torch.nn.parallel.DistributedDataParallel(model)
    def hidden():
        if mode != "ddp":
            return None
        logged = model._get_ddp_logging_data()
        comm = logged.get("avg_backward_comm_time", 0)
        return logged.get("avg_backward_compute_comm_overlap_time", 0) / comm if comm else None
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return training_step(model, opt, torch.nn.CrossEntropyLoss(), torch.from_numpy(x),
                         torch.from_numpy(y), hidden)


def _worker(args):
    """One process of one measurement; rank 0 prints RESULT with the median step time."""
    import time

    import numpy as np
    ranks = int(os.environ.get("PMI_SIZE", "1"))
    rank = int(os.environ.get("PMI_RANK", "0"))
    if args.worker == "torch":
        import torch.distributed as tdist   # imports torch: set_threads pins its threads too
        if ranks > 1:
            os.environ.update(RANK=str(rank), WORLD_SIZE=str(ranks))
            tdist.init_process_group("gloo")
        barrier = tdist.barrier if ranks > 1 else (lambda: None)
    else:
        import scratchnet.distributed as dist
        if ranks > 1:
            dist.init_process_group("mpi")
        barrier = dist.barrier if ranks > 1 else (lambda: None)
    set_threads(1)
    batch, shape = MODELS[args.model]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    y = rng.integers(0, 10, batch)
    share = slice(rank * batch // ranks, (rank + 1) * batch // ranks)
    make = _torch_step if args.worker == "torch" else _scratchnet_step
    step = make(args.model, args.mode, x[share], y[share])
    times, hidden = [], []
    for i in range(args.warmup + args.steps):
        barrier()
        start = time.perf_counter()
        overlap = step()
        barrier()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            hidden.append(overlap)
    if rank == 0:
        # torch's figure is already its own running average: keep its last
        overlap = hidden[-1] if args.worker == "torch" else \
            (float(np.mean(hidden)) if hidden[-1] is not None else None)
        print("RESULT " + json.dumps({"seconds": float(np.median(times)),
                                      "hidden": overlap}), flush=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _measure(framework, model, mode, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--model", model,
           "--mode", mode, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if mode != "one":
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        cmd = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", "2", *cmd]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900,
                         check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"{framework} {model} {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _report(args):
    print(f"data-parallel training step, float32, 1 thread per process, median of "
          f"{args.steps} steps after {args.warmup} warm-up")
    import numpy  # noqa: F401  (loaded first, so that the thread limit reaches its BLAS)
    set_threads(1)
    print(f"BLAS: {blas_line()}")
    print("model     framework          one ms  local ms   ddp ms  allreduce ms  "
          "1 rank img/s  2 ranks img/s  speed-up (ceiling)  DDP overhead  hidden")
    for model in args.only or MODELS:
        batch = MODELS[model][0]
        for framework in ("scratchnet", "torch"):
            modes = [m for m in MODES if m != "ddp+sync" or
                     (framework == "scratchnet" and model != "lenet5")]
            r = {mode: _measure(framework, model, mode, args) for mode in modes}
            one, local = r["one"]["seconds"], r["local"]["seconds"]
            for mode in [m for m in ("ddp", "ddp+sync") if m in r]:
                ddp, hidden = r[mode]["seconds"], r[mode]["hidden"]
                name = framework + (" +SyncBN" if mode == "ddp+sync" else "")
                print(f"{model:9} {name:17} {one * 1e3:7.1f} {local * 1e3:9.1f} "
                      f"{ddp * 1e3:8.1f} {r['allreduce']['seconds'] * 1e3:13.2f} "
                      f"{batch / one:13.0f} {batch / ddp:14.0f} "
                      f"{one / ddp:9.2f}x ({one / local:.2f}x) {ddp / local - 1:+13.1%} "
                      f"{'-' if hidden is None else f'{hidden:.0%}':>7}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--only", nargs="*", choices=list(MODELS))
    p.add_argument("--worker", choices=("scratchnet", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--model", choices=list(MODELS), help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(args)
    else:
        _report(args)


if __name__ == "__main__":
    main()
