"""The corner cases every target's property tests run beside the random specs, and their inputs (no framework)."""

from __future__ import annotations

import numpy as np

from tests import numpy_ref as R
from tests.ein_strategies import Case

# Specs that once found bugs, or that stress a corner: always run.
CORNERS = [
    Case(",ij->ij", ((), (2, 3))),
    Case("...i,...i->i", ((2, 1, 3), (4, 3))),
    Case("...i,...i->", ((2, 1, 3), (4, 3))),
    Case("i...,...->i", ((3, 2, 1), (4, 2, 4))),
    Case("ii...,...j->j", ((3, 3, 2), (1, 4))),
    Case("...,...->...", ((), (2, 3))),
    Case(
        "iij,jk,kl,lm,mn,nn->in", ((2, 2, 3), (3, 2), (2, 4), (4, 1), (1, 3), (3, 3)), (("k", 1000), ("m", 2))
    ),
    Case(
        "ab,bc,cd,de->ae",
        ((3, 2), (2, 4), (4, 2), (2, 3)),
        (("a", 1000), ("b", 2), ("c", 1000), ("d", 2), ("e", 1000)),
    ),
    Case("a...b,b...c,c...->...a", ((2, 3, 4, 2), (2, 4, 3), (3, 1, 4)), (("b", 1000000),)),
]



# The whole dialect.
DIALECT_CORNERS = [
    Case("bij,(ij)k->bk", ((2, 3, 4), (12, 5))),
    Case("(ij)->ij", ((8,),), exact=(("j", 4),)),
    Case("(bi)j,jk->b(ik)", ((6, 3), (3, 4)), exact=(("b", 2),)),
    Case("Ij,jK->IK", ((2, 3, 4), (4, 5, 2))),
    Case("Ij,jK->IK", ((4,), (4,))),
    Case("BI,I,IJ->BJ", ((2, 3), (3,), (3,))),
    Case("ij,jk->_i_k_", ((2, 3), (3, 4))),
    Case("i()j->j()i", ((2, 1, 3),)),
    Case("ij->jijij", ((2, 3),)),
    Case("A->AA", ((2, 3),)),
    Case("ijklji->ikjl", ((2, 3, 2, 2, 3, 2),)),
    Case("...i->(...)i", ((2, 3, 4),)),
    Case("i->(ii)", ((3,),)),
    Case("(ii),i->i", ((9,), (3,))),
    Case("a(bc),bc->a(cb)", ((2, 6), (2, 3))),
]


def arrays(case: Case):
    gen = np.random.default_rng(case.seed)
    return [gen.standard_normal(shape) for shape in case.shapes]


def expected(case: Case, arrays):
    return R.einsum(case.spec, *arrays, sizes=dict(case.exact))
