"""einsum against finite differences and torch: products, traces, diagonals, sums inside one
operand, broadcast "...", implicit outputs, three operands."""
import numpy as np
import pytest
from hypothesis import given

import scratchnet as sn
import scratchnet.functional as F
from tests.helpers import DEVICES, FLOATS, assert_gradcheck, assert_matches_torch
from tests.strategies import seeds, values

torch = pytest.importorskip("torch")

CASES = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 2)]),
         ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
         ("iij->ji", [(2, 2, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]), ("i,i", [(3,), (3,)]),
         ("i,j->ij", [(2,), (3,)]), ("ij,ij->i", [(2, 3), (2, 3)]), ("ji", [(2, 3)]),
         ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 4)]), ("...i->...", [(2, 3, 4)]),
         ("b...,b->...", [(2, 3, 1), (2,)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
         ("i j , j k -> i k", [(2, 3), (3, 2)]), ("Ab,bC->AC", [(2, 3), (3, 2)])]


@pytest.mark.parametrize("equation, shapes", CASES)
@given(seed=seeds)
def test_einsum_gradcheck(equation, shapes, seed):
    rng = np.random.default_rng(seed)
    assert_gradcheck(lambda *ops: F.einsum(equation, *ops), [values(rng, s) for s in shapes])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("equation, shapes", CASES)
def test_einsum_matches_torch(equation, shapes, dtype, device):
    rng = np.random.default_rng(0)
    assert_matches_torch(lambda *ops: sn.einsum(equation, *ops),
                         lambda *ops: torch.einsum(equation, *ops),
                         [values(rng, s) for s in shapes], dtype, device=device)


def test_einsum_takes_a_list_of_operands():
    a, b = values(np.random.default_rng(1), (2, 3)), values(np.random.default_rng(2), (3, 2))
    assert_matches_torch(lambda a, b: sn.einsum("ij,jk", [a, b]),
                         lambda a, b: torch.einsum("ij,jk", [a, b]), [a, b])


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk->ik", [(2, 3), (4, 2)], r"subscript 'j' has size 4 .* does not match the size 3"),
    ("ij->ik", [(2, 3)], r"output subscript 'k' appears more than once or in no operand"),
    ("ijk->i", [(2, 3)], r"subscript 'ijk' does not fit operand of shape \(2, 3\)"),
    ("ij,jk", [(2, 3)], "names 2 operands but 1 were given"),
])
def test_einsum_errors_name_the_problem(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        sn.einsum(equation, *[sn.ones(*s) for s in shapes])
