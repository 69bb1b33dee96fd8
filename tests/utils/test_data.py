"""scratchnet.utils.data in the main process: datasets, random_split, samplers, collation
(against torch's default_collate on the same samples) and the DataLoader's arguments."""
import collections

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)
from scratchnet.utils.data.collate import numpy_collate

torch = pytest.importorskip("torch")
tdata = torch.utils.data

Point = collections.namedtuple("Point", ["x", "y"])


class Squares(Dataset):
    """A Dataset that defines only __getitem__ and __len__ (the minimal torch subclass)."""

    def __init__(self, n=10):
        self.n = n

    def __getitem__(self, i):
        return np.full(2, i * i, np.float32), i

    def __len__(self):
        return self.n


def _plain(obj):
    """Tensors of either library as (dtype name, nested lists); containers kept."""
    if isinstance(obj, sn.Tensor):
        return obj.dtype.name, obj.tolist()
    if isinstance(obj, torch.Tensor):
        return str(obj.dtype).replace("torch.", ""), obj.tolist()
    if isinstance(obj, dict):
        return type(obj).__name__, {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj).__name__, [_plain(v) for v in obj]
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [_plain(v) for v in obj]
    return obj


SAMPLES = [
    [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 2)],
    [(1, 2.5, "a"), (3, 4.5, "b")],
    [{"x": np.arange(3), "y": 0.5}, {"x": np.arange(3) + 1, "y": 1.5}],
    [collections.OrderedDict(a=1), collections.OrderedDict(a=2)],
    [Point(1, np.float64(2.0)), Point(3, np.float64(4.0))],
    [[np.int32(1), True], [np.int32(2), False]],
    [np.array(1.5), np.array(2.5)],
    [b"x", b"y"],
]


@pytest.mark.parametrize("samples", SAMPLES)
def test_default_collate_matches_torchs(samples):
    torch_samples = [_to_torch(s) for s in samples]
    assert _plain(default_collate(samples)) == _plain(tdata.default_collate(samples))
    assert _plain(default_collate([_to_sn(s) for s in samples])) == \
        _plain(tdata.default_collate(torch_samples))
    assert _plain(default_convert(samples[0])) == _plain(tdata.default_convert(samples[0]))


@pytest.mark.parametrize("samples", SAMPLES)
def test_numpy_collate_is_torchs_default_collate_in_numpy_arrays(samples):
    expected = _plain(tdata.default_collate(samples))
    assert _plain(_map_arrays(numpy_collate(samples), torch.from_numpy)) == expected
    from_tensors = numpy_collate([_to_sn(s) for s in samples])
    assert _plain(_map_arrays(from_tensors, torch.from_numpy)) == expected


def _to_sn(sample):
    return _map_arrays(sample, lambda a: sn.tensor(a) if a.ndim else a)


def _to_torch(sample):
    return _map_arrays(sample, lambda a: torch.tensor(a) if a.ndim else a)


def _map_arrays(sample, fn):
    if isinstance(sample, np.ndarray):
        return fn(sample)
    if isinstance(sample, dict):
        return type(sample)((k, _map_arrays(v, fn)) for k, v in sample.items())
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(_map_arrays(v, fn) for v in sample))
    if isinstance(sample, (list, tuple)):
        return type(sample)(_map_arrays(v, fn) for v in sample)
    return sample


def test_default_collate_errors_as_torch():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal "
                                           "size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'object'>"):
        default_collate([object()])


def test_tensor_dataset_subset_concat_and_add():
    x, y = sn.arange(10).reshape(5, 2), sn.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5 and [t.tolist() for t in ds[2]] == [[4, 5], 2]
    sub = Subset(ds, [4, 0])
    assert len(sub) == 2 and sub[0][1].item() == 4
    both = Squares(3) + Squares(2)
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert [both[i][1] for i in range(5)] == [0, 1, 2, 0, 1] and both[-1][1] == 1
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(sn.ones(3), sn.ones(4))
    with pytest.raises(TypeError, match="argument 0 is a ndarray, expected a Tensor"):
        TensorDataset(np.ones(3))


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [1.0]])
def test_random_split_sizes_as_torch_and_disjoint(lengths):
    parts = random_split(Squares(10), lengths, generator=sn.Generator().manual_seed(1))
    theirs = tdata.random_split(range(10), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [len(p) for p in theirs]
    indices = [i for p in parts for i in p.indices]
    assert sorted(indices) == list(range(10))
    again = random_split(Squares(10), lengths, generator=sn.Generator().manual_seed(1))
    assert [p.indices for p in again] == [p.indices for p in parts]
    with pytest.raises(ValueError, match="sum of input lengths does not equal"):
        random_split(Squares(10), [3, 3])


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    sn.manual_seed(0)
    first = list(RandomSampler(range(6)))
    sn.manual_seed(0)
    assert list(RandomSampler(range(6))) == first and sorted(first) == list(range(6))
    more = list(RandomSampler(range(3), num_samples=7))
    assert len(more) == 7 and all(more.count(i) >= 2 for i in range(3))
    assert len(list(RandomSampler(range(3), replacement=True, num_samples=20))) == 20
    assert sorted(SubsetRandomSampler([5, 7, 9])) == [5, 7, 9]
    drawn = list(WeightedRandomSampler([0.0, 1.0, 0.0], 5))
    assert drawn == [1] * 5
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)


def test_loader_yields_tensors_in_torchs_structure():
    loader = DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    theirs = list(tdata.DataLoader(Squares(5), batch_size=2))
    assert len(loader) == len(theirs) == 3
    assert [_plain(b) for b in batches] == [_plain(b) for b in theirs]
    assert isinstance(batches[0][0], sn.Tensor) and batches[0][1].dtype == np.int64


def test_loader_options_as_torch():
    ds = Squares(7)
    assert [len(b[1]) for b in DataLoader(ds, batch_size=3, drop_last=True)] == [3, 3]
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 7 and isinstance(single[3][0], sn.Tensor) and single[3][1] == 3
    by_batch = DataLoader(ds, batch_sampler=[[6, 0], [1]])
    assert [b[1].tolist() for b in by_batch] == [[6, 0], [1]]
    custom = DataLoader(ds, batch_size=4, collate_fn=lambda samples: len(samples))
    assert list(custom) == [4, 3]
    sampled = DataLoader(ds, batch_size=2, sampler=[6, 5, 4])     # any iterable with __len__
    assert [b[1].tolist() for b in sampled] == [[6, 5], [4]] and len(sampled) == 2
    g1, g2 = sn.Generator().manual_seed(3), sn.Generator().manual_seed(3)
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=3, shuffle=True, generator=g1)] \
        == [b[1].tolist() for b in DataLoader(ds, batch_size=3, shuffle=True, generator=g2)]
    assert DataLoader(ds, pin_memory=True).pin_memory        # accepted; no effect


def test_each_epoch_of_a_shuffled_loader_has_a_new_order_fixed_by_manual_seed():
    sn.manual_seed(0)
    loader = DataLoader(Squares(20), batch_size=20, shuffle=True)
    epochs = [next(iter(loader))[1].tolist() for _ in range(2)]
    sn.manual_seed(0)
    assert [next(iter(loader))[1].tolist() for _ in range(2)] == epochs
    assert epochs[0] != epochs[1] and sorted(epochs[0]) == list(range(20))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in "
                              "multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(sampler=[0], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(timeout=-1), "timeout option should be non-negative"),
])
def test_loader_argument_errors_are_torchs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Squares(), **kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        tdata.DataLoader(Squares(), **kwargs)


def test_the_old_scratchnet_data_loader_is_unchanged():
    from scratchnet.data import DataLoader as ArrayLoader
    from scratchnet.data import TensorDataset as ArrayDataset
    batches = list(ArrayLoader(ArrayDataset(np.arange(6.0), np.arange(6)), batch_size=4, seed=0))
    assert isinstance(batches[0][0], np.ndarray) and [len(b[1]) for b in batches] == [4, 2]
