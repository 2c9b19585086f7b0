"""The reference for every function of examples/specs.ein, and the shapes to run it on (no framework).

The numeric suites of every target (tests/test_numeric.py for TensorFlow,
tests/test_target_TARGET.py for the others) run the same table.
"""

from __future__ import annotations

from pathlib import Path

from tests import numpy_ref as R

SPECS = Path(__file__).resolve().parent.parent / "examples" / "specs.ein"

def _bmm3(x, y, z):
    return R.einsum("bij,bjk,bkl->bil", x, y, z)


REFERENCE = {
    "bmm3": _bmm3,
    "chain": lambda a, b, c, d: R.einsum("ab,bc,cd,de->ae", a, b, c, d),
    "bilinear": lambda x, w, y: R.einsum("bi,ijk,bk->bj", x, w, y),
    "matmul": lambda a, b: R.einsum("ij,jk", a, b),
    "trace": lambda x: R.einsum("ii->", x),
    "diagonal": lambda x: R.einsum("ii->i", x),
    "batched_dot": lambda x, y: R.einsum("...i,...i->...", x, y),
    "dot_sum": lambda x, y: R.einsum("...i,...i->i", x, y),
    "scale": lambda s, x: R.einsum(",ij->ij", s, x),
    "outer": lambda u, v: R.einsum("i,j->ij", u, v),
    "gram_trace": lambda x: R.einsum("ii->", R.einsum("ij,kj->ik", x, x)),
    "twice": lambda x, y, z: _bmm3(_bmm3(x, y, z), y, z),
    "path_count": lambda a, b: R.eincount("ij,jk->ik", a, b),
    "reachable": lambda a, b: R.einany("ij,jk->ik", a, b),
    "viterbi_step": lambda s, t: R.evaluate("bi,ij->bj", s, t, func="einmax"),
    "forward_step": lambda a, t: R.evaluate("bi,ij->bj", a, t, func="einlogsumexp"),
    # The dialect: composites, `_` and `()`, induced diagonals, groups.
    "tensordot": lambda x, y: R.einsum("Ij,jK->IK", x, y),
    "batch_matvec": lambda x, v: R.einsum("BI,I,IJ->BJ", x, v, v),
    "row_sums": lambda x: R.einsum("ij->i_", x),
    "spread": lambda x, y: R.einsum("ij,jk->_i_k_", x, y),
    "squeeze": lambda x: R.einsum("i_j->ij", x),
    "diag_matrix": lambda v: R.einsum("i->ii", v),
    "interleave": lambda x: R.einsum("ij->jijij", x),
    "high_rank_diagonal": lambda x: R.einsum("ijklji->ikjl", x),
    "project": lambda x, w: R.einsum("bij,(ij)k->bk", x, w),
    "unflatten": lambda x: R.einsum("(ij)->ij", x, sizes={"j": 4}),
    "flatten_t": lambda x: R.einsum("bij->b(ji)", x),
    "group_mix": lambda x, y: R.einsum("(bi)j,jk->b(ik)", x, y, sizes={"b": 2}),
}

# Shapes for each function; several where '...' broadcasting makes them differ.
SHAPES = {
    "bmm3": [[(2, 3, 4), (2, 4, 5), (2, 5, 2)], [(1, 1, 1), (1, 1, 3), (1, 3, 1)]],
    "chain": [[(3, 2), (2, 4), (4, 2), (2, 5)]],
    "bilinear": [[(2, 3), (3, 4, 5), (2, 5)]],
    "matmul": [[(3, 4), (4, 2)], [(1, 5), (5, 1)]],
    "trace": [[(4, 4)], [(1, 1)]],
    "diagonal": [[(4, 4)]],
    "batched_dot": [
        [(2, 3, 4), (2, 3, 4)],
        [(2, 1, 4), (3, 4)],
        [(4,), (4,)],
        [(5, 4), (2, 1, 4)],
        [(1, 3, 4), (2, 1, 4)],
    ],
    "dot_sum": [
        [(2, 3, 4), (2, 3, 4)],
        [(2, 1, 4), (3, 4)],
        [(4,), (4,)],
        [(5, 4), (2, 1, 4)],
    ],
    "scale": [[(), (3, 4)]],
    "outer": [[(3,), (4,)]],
    "gram_trace": [[(3, 5)]],
    "twice": [[(2, 3, 4), (2, 4, 5), (2, 5, 4)]],
    "path_count": [[(3, 4), (4, 5)]],
    "reachable": [[(3, 4), (4, 5)]],
    "viterbi_step": [[(2, 4), (4, 4)]],
    "forward_step": [[(2, 4), (4, 4)], [(0, 3), (3, 3)]],
    "tensordot": [[(2, 3, 4), (4, 5, 2)], [(4,), (4,)], [(3, 4), (4,)], [(4,), (4, 2, 3)]],
    "batch_matvec": [[(2, 3), (3,)], [(2, 2, 3, 4), (3, 4)], [(5,), (5,)]],
    "row_sums": [[(2, 3)], [(1, 1)]],
    "spread": [[(2, 3), (3, 4)]],
    "squeeze": [[(2, 1, 3)]],
    "diag_matrix": [[(3,)], [(1,)]],
    "interleave": [[(2, 3)]],
    "high_rank_diagonal": [[(2, 3, 2, 2, 3, 2)]],
    "project": [[(2, 3, 4), (12, 5)]],
    "unflatten": [[(8,)], [(12,)], [(4,)]],
    "flatten_t": [[(2, 3, 4)]],
    "group_mix": [[(6, 3), (3, 4)], [(2, 3), (3, 1)]],
}

BOOLEAN = {"path_count", "reachable"}
# Floating operands only, and max or log-sum-exp where einsum sums: tests/test_semirings.py.
SEMIRING = {"viterbi_step", "forward_step"}
NUMERIC = [name for name in REFERENCE if name not in BOOLEAN | SEMIRING]
