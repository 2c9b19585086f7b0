"""Shared tables of the semiring suites (tests/test_semirings.py, tests/test_semirings_targets.py): corner specs,
the functions, the numpy reference and the comparison (no framework)."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import example, settings

from tests import numpy_ref as R
from tests.ein_strategies import Case

EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "60"))
# Each example compiles a module: a sixth of the usual count per path (beside the corners).
SETTINGS = settings(max_examples=max(EXAMPLES // 6, 5), deadline=None, derandomize=True, database=None)
FUNCS = ("einmax", "einmin", "einlogsumexp")

# Pairs, chains and every kind of step: diagonals, induced diagonals, `...`,
# composites, groups, `_`, implicit mode, no contraction, a reduction only.
CORNERS = [
    Case("ij,jk->ik", ((3, 4), (4, 2))),
    Case("ij,jk,kl->il", ((2, 3), (3, 4), (4, 2))),
    Case("ijk,jkl->li", ((2, 3, 2), (3, 2, 2))),
    Case("ij->i", ((3, 4),)),
    Case("ij,k->ijk", ((2, 3), (4,))),
    Case("ii,ij->j", ((3, 3), (3, 2))),
    Case("i->ii", ((3,),)),
    Case("ij,jk->iki", ((2, 3), (3, 2))),
    Case("...j,jk->...k", ((2, 1, 3), (3, 4))),
    Case("...j,...j->j", ((2, 3), (1, 3))),
    Case("bIj,jk->bIk", ((2, 3, 2, 4), (4, 2))),
    Case("b(ij),jk->bik", ((2, 6), (3, 2)), exact=(("i", 2),)),
    Case("ij->i_", ((3, 4),)),
    Case("ij,jk", ((2, 3), (3, 4))),
    Case("bij,bjk->bik", ((2, 3, 4), (2, 4, 3))),
]


def text(case: Case, func: str) -> str:
    return case.ein_text(func=func)


def expected(case: Case, arrays, func: str):
    return R.evaluate(case.spec, *arrays, func=func, sizes=dict(case.exact))


def check(actual, want, case, func):
    actual = np.asarray(actual)
    assert actual.shape == want.shape, (func, case, actual.shape, want.shape)
    np.testing.assert_allclose(actual, want, rtol=1e-10, atol=1e-10, err_msg=text(case, func))


def with_corners(test):
    # The first corners in every semiring, the others in one each (in turn): each is a compile.
    for k, case in enumerate(CORNERS):
        for func in FUNCS if k < 3 else FUNCS[k % 3 : k % 3 + 1]:
            test = example(case, func)(test)
    return test


def softmax_weights(a, b):
    """[i, j, k]: the softmax over j of a[i, j] + b[j, k], the weights of einlogsumexp("ij,jk->ik")'s gradient."""
    total = a[:, :, None] + b[None]
    total = total - total.max(1, keepdims=True)
    return np.exp(total - np.log(np.exp(total).sum(1, keepdims=True)))


def chosen_onehot(a, b, pick):
    """[i, j, k]: 1 where j is the argmax (argmin) of a[i, j] + b[j, k] (no ties)."""
    chosen = pick(a[:, :, None] + b[None], axis=1)
    return np.arange(a.shape[1])[None, :, None] == chosen[:, None, :]
