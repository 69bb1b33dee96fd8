"""Fixtures of the zoo tests: torchvision's answers and a way to build models without
drawing their initial weights."""
import pytest

from scratchnet import nn

from .weights import ZOO, open_zoo


@pytest.fixture(scope="session")
def zoo():
    """torchvision_zoo.npz, opened (``zoo.meta[name]``, ``zoo.state_dict(name)``, ...)."""
    try:
        return open_zoo()
    except FileNotFoundError:   # part of the repository: its absence is a failure, not a skip
        pytest.fail(f"the torchvision reference file is missing: {ZOO} (it is committed "
                    "with the tests; tests/models/make_torchvision_zoo.py regenerates it)")


@pytest.fixture
def skip_init(monkeypatch):
    """Build models without drawing their initial weights (as torch.nn.utils.skip_init), for
    tests that only read shapes or overwrite every weight: VGG's init alone takes seconds."""
    def keep(tensor, *args, **kwargs):
        return tensor
    for fn in ("uniform_", "normal_", "constant_", "kaiming_uniform_", "kaiming_normal_",
               "trunc_normal_", "xavier_uniform_", "xavier_normal_", "zeros_", "ones_"):
        monkeypatch.setattr(nn.init, fn, keep)
