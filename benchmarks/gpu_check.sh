#!/usr/bin/env bash
# The prepared GPU run (issue 12): one command, one log, on a machine with an NVIDIA GPU and
# CuPy, numba-cuda and a CUDA build of torch already installed (no network needed):
#
#     bash benchmarks/gpu_check.sh [LOG]        # LOG: benchmarks/gpu_check_<UTC time>.log
#
# 1. installs this checkout with `pip install --no-deps -e .` and logs the versions found;
# 2. the `gpu`-marked tests: every op's parity with torch on cuda (the `cuda` parameters of
#    the op tests), the zoo's logits, one training step of ResNet-18 and DenseNet-121 against
#    torch on CUDA, sn.cuda's memory functions; TF32 off on both sides;
# 3. benchmarks/gpu.py: conv, pooling and model training steps (ResNet-50 b64, AlexNet b128,
#    VGG-16 b32) beside torch + cuDNN, with time and peak-memory ratios (torch columns "-"
#    without a CUDA torch);
# 4. benchmarks/gpu_distributed.py: NCCL collectives, DDP and SyncBatchNorm on the GPUs.
# Each step has a time limit so that the whole run ends within 5 minutes on an H100/H200;
# a step that fails or times out is reported and the next one still runs. Exit status: the
# number of failed steps.
set -u
cd "$(dirname "$0")/.."
LOG=${1:-benchmarks/gpu_check_$(date -u +%Y%m%dT%H%M%SZ).log}
exec > >(tee "$LOG") 2>&1
FAILED=0
step() {   # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo
    echo "== $name (limit ${limit}s) $(date -u +%H:%M:%S)"
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    echo "== $name: exit $rc after $((SECONDS - start))s"
    [ "$rc" -eq 0 ] || FAILED=$((FAILED + 1))
}

echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) at $(git rev-parse --short HEAD 2>/dev/null)"
pip install --no-deps --no-build-isolation -q -e . || echo "pip install -e . failed; running from the checkout"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python - <<'PY'
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "numba", "cupy", "torch", "torchvision", "mpi4py"):
    try:
        module = importlib.import_module(name)
        print(name, module.__version__)
    except Exception as err:
        print(name, "missing:", err)
try:
    import numba.cuda
    print("numba.cuda available:", numba.cuda.is_available())
except Exception as err:
    print("numba.cuda:", err)
try:
    import cupy
    print("cupy CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver",
          cupy.cuda.runtime.driverGetVersion(), "GPUs", cupy.cuda.runtime.getDeviceCount())
except Exception as err:
    print("cupy:", err)
try:
    import torch
    print("torch CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(),
          "available", torch.cuda.is_available())
except Exception as err:
    print("torch:", err)
import scratchnet
print(scratchnet.backend.show_config())
PY

step "gpu tests" 170 python -m pytest -q -p no:cacheprovider -m gpu -rs tests
step "gpu benchmarks" 100 python benchmarks/gpu.py
step "gpu distributed" 45 python benchmarks/gpu_distributed.py
echo
echo "== done $(date -u +%H:%M:%S): $FAILED step(s) failed; log: $LOG"
exit "$FAILED"
