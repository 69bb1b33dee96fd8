"""SyncBatchNorm without other ranks: convert_sync_batchnorm's result, and batch norm's own
numbers when there is nothing to synchronise (the multi-rank statistics are tested under
mpiexec in test_data_parallel.py)."""
import numpy as np
import pytest

import scratchnet as sn
from scratchnet import models, nn


def test_conversion_keeps_parameters_buffers_order_and_mode():
    model = models.resnet20()
    model.layer1[0].bn1.eval()
    before = model.state_dict()
    weight = model.bn1.weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert list(converted.state_dict()) == list(before)
    assert all(a is b for a, b in zip(converted.state_dict().values(), before.values()))
    assert converted.bn1.weight is weight
    kinds = {type(m) for m in converted.modules()}
    assert nn.SyncBatchNorm in kinds and nn.BatchNorm2d not in kinds
    assert not converted.layer1[0].bn1.training and converted.layer1[0].bn2.training


def test_a_batch_norm_itself_is_returned_converted():
    bn = nn.BatchNorm1d(3, momentum=None, affine=False, eps=1e-3)
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(sync) is nn.SyncBatchNorm
    assert (sync.num_features, sync.eps, sync.momentum, sync.affine) == (3, 1e-3, None, False)
    assert sync.running_mean is bn.running_mean and sync.weight is None


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_without_a_process_group_it_is_batch_norm(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    gy = rng.standard_normal(shape)
    plain = nn.BatchNorm1d(3).double() if len(shape) < 4 else nn.BatchNorm2d(3).double()
    sync = nn.SyncBatchNorm(3).double()
    outputs = []
    for layer in (plain, sync):
        xt = sn.tensor(x, requires_grad=True)
        y = layer(xt)
        (y * sn.tensor(gy)).sum().backward()
        outputs.append((y.data, xt.grad.data, layer.weight.grad.data, layer.running_var))
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


def test_input_of_one_dimension_is_refused():
    with pytest.raises(ValueError, match="SyncBatchNorm: expected at least 2D input, got 1D"):
        nn.SyncBatchNorm(3)(sn.ones(3))
