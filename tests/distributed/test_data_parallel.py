"""Data- and model-parallel training on two ranks (mpiexec -n 2) equal one process:
DistributedDataParallel on every zoo family, SyncBatchNorm over several steps, the
model-parallel AlexNet, and a failing rank ending the job."""
import sys
import time

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from tests.distributed.launch import mpiexec, needs_mpi, run_worker

pytestmark = needs_mpi


@pytest.fixture(scope="module")
def data_parallel(tmp_path_factory):
    return run_worker("data_parallel", tmp_path_factory.mktemp("ddp"), "zoo", "resnet20",
                      "replicas", timeout=300)


@pytest.mark.parametrize("family, sync_bn_layers", [
    ("lenet5", 0), ("alexnet", 0), ("vgg11", 0), ("resnet18", 20), ("densenet121", 121)])
def test_one_ddp_step_gives_the_combined_batchs_gradients(data_parallel, family,
                                                          sync_bn_layers):
    for rank in data_parallel:
        result = rank[family]
        assert result["syncbn"] == sync_bn_layers
        # float32 for the first three (1e-4 relative, as the issue asks); float64 where
        # batch norm runs on 1x1 maps
        assert result["gradients"] < (1e-5 if family in ("lenet5", "alexnet", "vgg11")
                                      else 1e-8)
        assert result["buffers"] < 1e-12


def test_syncbn_resnet20_trains_to_the_single_process_weights_and_statistics(data_parallel):
    result = data_parallel[0]["resnet20"]
    assert result["weights"] < 1e-11 and result["running"] < 1e-12
    assert result["batches_tracked"] == 3


def test_replicas_start_from_rank_0_and_a_different_model_is_refused(data_parallel):
    for rank in data_parallel:
        assert rank["copied from rank 0"]
        assert rank["different models"] == (
            "DistributedDataParallel: the ranks hold different models (rank 0: 2 parameters, "
            "8 values; rank 1: 2 parameters, 12 values); build the same model on every rank")
        assert rank["no_sync"] < 1e-5


def test_a_parameter_used_on_one_rank_gets_the_average_over_both(data_parallel):
    """Rank 0 feeds ones through body and head, rank 1 twos through body only; the head's
    gradient is rank 0's over 2, the body's the mean of both ranks'."""
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = nn.Linear(4, 3), nn.Linear(3, 2)

    sn.manual_seed(0)
    model = Branchy()
    h = model.body(sn.ones(1, 4))
    (model.head(h).sum() + h.sum()).backward()
    head, body_rank0 = model.head.weight.grad.data.copy(), model.body.bias.grad.data.copy()
    model.body.bias.grad = None
    model.body(sn.ones(1, 4) * 2).sum().backward()
    for rank in data_parallel:
        np.testing.assert_allclose(rank["head grad"], head / 2, rtol=1e-6)
        np.testing.assert_allclose(rank["body bias grad"],
                                   (body_rank0 + model.body.bias.grad.data) / 2, rtol=1e-6)


def test_model_parallel_alexnet_equals_the_two_tower_network(tmp_path):
    ranks = run_worker("model_parallel", tmp_path, timeout=300)
    for rank, result in enumerate(ranks):
        assert result["logits"] < 1e-6
        assert result["loss"][0] == pytest.approx(result["loss"][1], rel=1e-6)
        assert max(result["gradients"].values()) < 1e-4
        assert result["joined state"]
    shapes = ranks[0]["weight shapes"]
    assert shapes["features.0.weight"] == [48, 3, 11, 11]          # conv1: 48 of 96 maps
    assert shapes["features.8.weight"] == [192, 256, 3, 3]         # conv3 reads both towers
    assert shapes["classifier.1.weight"] == [2048, 9216]           # fc6 reads both
    assert shapes["classifier.6.weight"] == [5, 4096]              # fc8: half the classes


def test_a_rank_that_raises_ends_the_job_with_its_error(tmp_path):
    started = time.perf_counter()
    result = mpiexec([sys.executable, "-m", "tests.distributed.workers.failing", str(tmp_path)],
                     timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode != 0
    assert "RuntimeError: rank 1 failed on purpose" in result.stderr
    assert "rank 0 was not stopped" not in result.stdout
    assert elapsed < 20, f"the job took {elapsed:.0f} s to end"
