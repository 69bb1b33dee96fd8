"""Rank and world size from each launcher's environment variables."""
import pytest

from scratchnet.distributed import launched_world_size, placement
from scratchnet.distributed.launcher import Placement


@pytest.mark.parametrize("environ, expected", [
    ({}, None),
    ({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, Placement(1, 4, 1, "RANK/WORLD_SIZE")),
    ({"PMI_RANK": "3", "PMI_SIZE": "4", "MPI_LOCALRANKID": "1"},
     Placement(3, 4, 1, "PMI_RANK/PMI_SIZE")),
    ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3",
      "OMPI_COMM_WORLD_LOCAL_RANK": "0"},
     Placement(2, 3, 0, "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE")),
    ({"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"},
     Placement(5, 8, 1, "SLURM_PROCID/SLURM_NTASKS")),
    ({"PMI_RANK": "0", "PMI_SIZE": "2"}, Placement(0, 2, 0, "PMI_RANK/PMI_SIZE")),
])
def test_each_launchers_variables(environ, expected):
    assert placement(environ) == expected
    assert launched_world_size(environ) == (1 if expected is None else expected.world_size)


@pytest.mark.parametrize("environ, message", [
    ({"PMI_RANK": "2", "PMI_SIZE": "2"}, "PMI_RANK=2 and PMI_SIZE=2: the rank must lie in"),
    ({"RANK": "x", "WORLD_SIZE": "2"}, "the launcher's RANK='x' is not an integer"),
])
def test_nonsense_is_named(environ, message):
    with pytest.raises(ValueError, match=message):
        placement(environ)
