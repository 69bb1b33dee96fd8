"""DistributedSampler: torch's split, padding and drop_last; one replica is the DataLoader's
own shuffled order; it plugs into DataLoader(sampler=)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.data import DataLoader, DistributedSampler, TensorDataset

torch_data = pytest.importorskip("torch.utils.data")


def _indices(n):
    return TensorDataset(np.arange(n), np.arange(n))


@given(n=st.integers(1, 40), replicas=st.integers(1, 6), drop_last=st.booleans(),
       data=st.data())
def test_unshuffled_shares_equal_torchs(n, replicas, drop_last, data):
    rank = data.draw(st.integers(0, replicas - 1), label="rank")
    ours = DistributedSampler(_indices(n), replicas, rank, shuffle=False, drop_last=drop_last)
    theirs = torch_data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                           drop_last=drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@given(n=st.integers(1, 40), replicas=st.integers(1, 6), drop_last=st.booleans(),
       seed=st.integers(0, 2**31), epoch=st.integers(0, 5))
def test_shuffled_shares_partition_one_permutation(n, replicas, drop_last, seed, epoch):
    shares = []
    for rank in range(replicas):
        sampler = DistributedSampler(_indices(n), replicas, rank, seed=seed,
                                     drop_last=drop_last)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
    assert len({len(s) for s in shares}) == 1
    order = np.random.default_rng([seed, epoch]).permutation(n)
    padded = np.resize(order, len(shares[0]) * replicas)    # torch's padding: from the start
    interleaved = [shares[i % replicas][i // replicas] for i in range(len(padded))]
    assert interleaved == padded.tolist()


def test_one_replica_serves_the_dataloaders_shuffled_order():
    data = _indices(50)
    plain = DataLoader(data, batch_size=8, shuffle=True, seed=5)
    sampled = DataLoader(data, batch_size=8, seed=5,
                         sampler=DistributedSampler(data, 1, 0, seed=5))
    for epoch in (0, 3):
        plain.set_epoch(epoch)
        sampled.set_epoch(epoch)                    # passed on to the sampler
        assert [b[0].tolist() for b in plain] == [b[0].tolist() for b in sampled]


def test_each_epoch_of_the_array_loader_is_passed_to_its_sampler():
    data = _indices(12)
    loader = DataLoader(data, batch_size=12, seed=0,
                        sampler=DistributedSampler(data, 1, 0, seed=3))
    served = [b[0].tolist() for _ in range(3) for b in loader]      # no set_epoch calls
    assert served == [np.random.default_rng([3, e]).permutation(12).tolist() for e in range(3)]


def test_two_replicas_of_batch_b_make_one_process_of_batch_2b():
    data = _indices(64)
    single = DataLoader(data, batch_size=16, shuffle=True, seed=2)
    halves = [DataLoader(data, batch_size=8, sampler=DistributedSampler(data, 2, r, seed=2))
              for r in (0, 1)]
    assert len(halves[0]) == len(single) == 4
    for together, a, b in zip(single, *halves):
        assert sorted(together[0].tolist()) == sorted(a[0].tolist() + b[0].tolist())


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval "
                                         r"\[0, 1\]"):
        DistributedSampler(_indices(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be at least 1"):
        DistributedSampler(_indices(4), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(_indices(4))
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(_indices(4), shuffle=True, sampler=DistributedSampler(_indices(4), 1, 0))


def test_it_plugs_into_the_torch_style_loader_as_in_torch():
    from scratchnet.utils.data import DataLoader as TorchStyleLoader
    from scratchnet.utils.data import TensorDataset as Tensors
    from scratchnet.utils.data.distributed import DistributedSampler as FromTorchsPath
    assert FromTorchsPath is DistributedSampler
    import scratchnet as sn
    data = Tensors(sn.arange(10))
    seen = []
    for rank in (0, 1):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, seed=4)
        sampler.set_epoch(1)                       # torch's loop calls it on the sampler
        seen += [int(i) for (batch,) in TorchStyleLoader(data, batch_size=2, sampler=sampler)
                 for i in batch.tolist()]
    assert sorted(seen) == list(range(10))

