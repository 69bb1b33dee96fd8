"""torch.distributed's collectives on two MPI ranks (mpiexec -n 2), and what works without a
launcher."""
import pytest

import scratchnet as sn
import scratchnet.distributed as dist
from tests.distributed.launch import needs_mpi, run_worker


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return run_worker("collectives", tmp_path_factory.mktemp("collectives"))


@needs_mpi
def test_every_rank_gets_the_reduction(ranks):
    for rank, got in enumerate(ranks):
        assert (got["rank"], got["world"], got["backend"], got["initialized"]) == \
            (rank, 2, "mpi", True)
        # rank r sends [r + 1, -2r, 3]
        assert got["SUM"] == [3.0, -2.0, 6.0]
        assert got["AVG"] == [1.5, -1.0, 3.0]
        assert got["PRODUCT"] == [2.0, -0.0, 9.0]
        assert got["MIN"] == [1.0, -2.0, 3.0]
        assert got["MAX"] == [2.0, 0.0, 3.0]
        assert got["int64 sum"] == [[1, 10], "int64"]


@needs_mpi
def test_a_strided_tensor_is_reduced_in_place(ranks):
    strided, base = ranks[0]["strided"]
    # columns 0 and 2 of arange(12).reshape(3, 4) times (1 + 2), the others rank 0's own
    assert strided == [[0.0, 6.0], [12.0, 18.0], [24.0, 30.0]]
    assert base[0] == [0.0, 1.0, 6.0, 3.0]


@needs_mpi
def test_broadcast_gather_and_async_work(ranks):
    for got in ranks:
        assert got["broadcast"] == [1.0, 1.0, 1.0]
        assert got["all_gather"] == [[0.0, 0.0], [1.0, 10.0]]
        assert got["async"] == [True, [1.0], True]


@needs_mpi
def test_bad_arguments_raise_before_any_communication(ranks):
    errors = ranks[1]["errors"]
    assert errors["list length"] == "ValueError: all_gather: tensor_list has 1 tensors for " \
                                    "a world of 2"
    assert errors["list shapes"].startswith("ValueError: all_gather: tensor_list[0] is "
                                            "float32 (3,), but the tensor sent is float32 (2,)")
    assert errors["src"] == "ValueError: broadcast: src=2 is not a rank of this group of 2"
    assert errors["op"].startswith("TypeError: all_reduce: op must be a ReduceOp")
    assert errors["avg int"] == "TypeError: all_reduce: ReduceOp.AVG needs a floating-point " \
                                "tensor, got int64"
    assert errors["array"] == "TypeError: all_reduce: expected a Tensor, got ndarray; wrap " \
                              "it with sn.tensor(...)"
    assert errors["twice"] == "ValueError: trying to initialize the default process group " \
                              "twice!"


def test_without_init_every_call_says_so_as_torch():
    torch_dist = pytest.importorskip("torch.distributed")
    assert not dist.is_initialized()
    for ours, theirs in ((dist.get_rank, torch_dist.get_rank),
                         (lambda: dist.all_reduce(sn.ones(1)),
                          lambda: torch_dist.all_reduce(__import__("torch").ones(1)))):
        with pytest.raises(ValueError) as ours_err:
            ours()
        with pytest.raises(ValueError) as torch_err:
            theirs()
        assert str(ours_err.value).startswith(str(torch_err.value))


def test_unknown_backends_and_init_methods_are_refused():
    with pytest.raises(ValueError, match="unknown backend 'gloo' .torch's CPU backend; "
                                         "scratchnet's is 'mpi'."):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="init_method and store are not supported"):
        dist.init_process_group("mpi", init_method="tcp://10.1.1.20:23456")
    assert not dist.is_initialized()
