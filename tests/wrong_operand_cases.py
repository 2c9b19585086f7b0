"""Wrong operands for random specs of the whole dialect, the corner cases, and zero-size corners (no framework).

tests/test_wrong_operands.py (TensorFlow) and tests/test_wrong_operands_targets.py
(the other targets) feed them to generated functions; see the former's docstring
for the mutations and the rules that make one wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from tests import numpy_ref as R
from tests.ein_strategies import Case, dialect_cases

# A name no framework message contains by chance.
NAME = "wrong_operand_probe"


@dataclass(frozen=True)
class Mutation:
    """Operand `operand` replaced by one of shape `shape`: its own elements
    transposed by `perm` or reshaped (`same_elements`), or fresh values."""

    operand: int
    kind: str
    shape: tuple[int, ...]
    perm: tuple[int, ...] | None = None
    same_elements: bool = False


def _factor_pairs(n: int):
    return [(a, n // a) for a in range(1, n + 1) if n % a == 0]


def _resplits(shape):
    """Shapes holding the same elements as `shape`, split differently."""
    out = []
    for k in range(len(shape) - 1):
        a, b = shape[k], shape[k + 1]
        out.append(shape[:k] + (a * b,) + shape[k + 2 :])  # merged
        for pair in _factor_pairs(a * b):
            if pair != (a, b):
                out.append(shape[:k] + pair + shape[k + 2 :])  # re-factored
    for k, n in enumerate(shape):
        for pair in _factor_pairs(n):
            out.append(shape[:k] + pair + shape[k + 1 :])  # split
    return [s for s in out if s != shape]


@st.composite
def mutations(draw, case: Case) -> Mutation:
    k = draw(st.integers(0, len(case.shapes) - 1))
    shape = tuple(case.shapes[k])
    kinds = ["rank_up"]
    if len(set(shape)) > 1:
        kinds.append("transpose")
    if shape:
        kinds += ["rank_down", "off_by_one"]
    if any(n > 1 for n in shape):
        kinds.append("to_one")
    if _resplits(shape):
        kinds.append("resplit")
    kind = draw(st.sampled_from(kinds))
    if kind == "transpose":
        perm = list(draw(st.permutations(range(len(shape)))))
        if tuple(shape[p] for p in perm) == shape:
            i, j = next((i, j) for i in range(len(shape)) for j in range(i) if shape[i] != shape[j])
            perm[i], perm[j] = perm[j], perm[i]
        return Mutation(k, kind, tuple(shape[p] for p in perm), perm=tuple(perm))
    if kind == "resplit":
        return Mutation(k, kind, draw(st.sampled_from(_resplits(shape))), same_elements=True)
    if kind == "rank_up":
        at = draw(st.integers(0, len(shape)))
        return Mutation(k, kind, shape[:at] + (draw(st.integers(1, 3)),) + shape[at:])
    if kind == "to_one":
        at = draw(st.sampled_from([i for i, n in enumerate(shape) if n > 1]))
        return Mutation(k, kind, shape[:at] + (1,) + shape[at + 1 :])
    at = draw(st.integers(0, len(shape) - 1))
    if kind == "rank_down":
        return Mutation(k, kind, shape[:at] + shape[at + 1 :])
    delta = 1 if shape[at] == 1 else draw(st.sampled_from([-1, 1]))
    return Mutation(k, kind, shape[:at] + (shape[at] + delta,) + shape[at + 1 :])


@st.composite
def wrong_operand_cases(draw):
    case = draw(dialect_cases())
    return case, draw(mutations(case))


def arrays(case: Case):
    gen = np.random.default_rng(case.seed)
    return [gen.standard_normal(shape) for shape in case.shapes]


def wrong_arrays(case: Case, mutation: Mutation):
    operands = arrays(case)
    right = operands[mutation.operand]
    if mutation.perm is not None:
        wrong = np.transpose(right, mutation.perm)
    elif mutation.same_elements:
        wrong = right.reshape(mutation.shape)
    else:
        wrong = np.random.default_rng(case.seed + 1).standard_normal(mutation.shape)
    assert wrong.shape == mutation.shape
    operands[mutation.operand] = wrong
    return operands


def expected(case: Case, arrays):
    return R.einsum(case.spec, *arrays, sizes=dict(case.exact))


def is_wrong(case: Case, arrays) -> bool:
    """Whether the language's rules refuse these operands (the reference says)."""
    try:
        expected(case, arrays)
    except R.RefError:
        return True
    return False


def context(case: Case, mutation: Mutation | None = None) -> str:
    text = case.ein_text(NAME).strip()
    shapes = f"right shapes {case.shapes}"
    if mutation is None:
        return f"{text}\n{shapes}"
    return f"{text}\n{shapes}; operand {mutation.operand} given shape {mutation.shape} ({mutation.kind})"


# The cases of issue 10 and the rules they stress: always run.
WRONG_CORNERS = [
    # a composite split differently in two operands
    (Case("I,I->I", ((2, 3), (2, 3))), Mutation(1, "transpose", (3, 2), perm=(1, 0))),
    # a repeated composite whose halves differ
    (Case("II->I", ((4, 4),)), Mutation(0, "resplit", (4, 2, 2), same_elements=True)),
    (Case("II->I", ((2, 3, 2, 3),)), Mutation(0, "transpose", (2, 3, 3, 2), perm=(0, 1, 3, 2))),
    # a composite's rank differs between operands
    (Case("Ij,Ij->j", ((2, 3, 4), (2, 3, 4))), Mutation(1, "resplit", (6, 4), same_elements=True)),
    (Case("BI,I,IJ->BJ", ((2, 3, 4), (3, 4), (3, 4, 2))), Mutation(1, "resplit", (12,), same_elements=True)),
    # a named axis of size 1 does not broadcast
    (Case("ij,jk->ik", ((2, 3), (3, 4))), Mutation(1, "to_one", (1, 4))),
    (Case("bij,bjk,bkl->bil", ((2, 3, 4), (2, 4, 5), (2, 5, 3))), Mutation(0, "to_one", (1, 3, 4))),
    # the same elements transposed
    (Case("ij,jk->ik", ((2, 3), (3, 4))), Mutation(0, "transpose", (3, 2), perm=(1, 0))),
    # a group whose members are fixed elsewhere
    (Case("bij,(ij)k->bk", ((2, 3, 4), (12, 5))), Mutation(1, "off_by_one", (13, 5))),
    (Case("bij,(ij)k->bk", ((2, 3, 4), (12, 5))), Mutation(1, "resplit", (3, 4, 5), same_elements=True)),
    # a `where` exact size
    (Case("(ij)->ij", ((8,),), exact=(("j", 4),)), Mutation(0, "off_by_one", (6,))),
    (Case("(bi)j,jk->b(ik)", ((6, 3), (3, 4)), exact=(("b", 2),)), Mutation(0, "off_by_one", (7, 3))),
    # a diagonal whose axes differ
    (Case("ii->i", ((3, 3),)), Mutation(0, "off_by_one", (3, 4))),
    (Case("ii->", ((3, 3),)), Mutation(0, "rank_up", (3, 3, 1))),
    # `_` stands for size 1; `...` broadcasts only size 1
    (Case("i_j->ij", ((2, 1, 3),)), Mutation(0, "rank_down", (2, 3))),
    (Case("...i,...i->...", ((2, 3), (2, 3))), Mutation(1, "off_by_one", (3, 3))),
    # found by the property: composites inside groups, composites of rank 0
    (Case("W(W)q", ((1, 1),)), Mutation(0, "rank_down", (1,))),
    (Case("(D)DDdd,DD(d)D,e->Dd", ((1, 3, 3), (3,), (2,))), Mutation(0, "rank_down", (3, 3))),
    (Case("(OO),,,r((jr))Or()->O()(Oj)", ((4,), (), (), (1, 1, 2, 1, 1))), Mutation(0, "rank_up", (2, 4))),
]


ZERO_CORNERS = [
    Case("bij,bjk,bkl->bil", ((0, 2, 3), (0, 3, 4), (0, 4, 2))),
    Case("bij,bjk,bkl->bil", ((2, 2, 0), (2, 0, 4), (2, 4, 2))),
    Case("ij,jk->ik", ((0, 3), (3, 4))),
    Case("ii->", ((0, 0),)),
    Case("ii->i", ((0, 0),)),
    Case("II->I", ((0, 0),)),
    Case("Ij,jK->IK", ((2, 0, 3), (3, 4))),
    Case("bij,(ij)k->bk", ((2, 3, 4), (12, 0))),
    Case("bij,(ij)k->bk", ((2, 0, 4), (0, 5))),
    Case("(ij)->ij", ((0,),), exact=(("j", 4),)),
    Case("i->ii", ((0,),)),
    Case("ij->i_", ((0, 3),)),
    Case("...i,...i->...", ((0, 3), (1, 3))),
    Case("(a),(a),(A)a,A", ((0,), (0,), (1, 0), ())),
    Case("dd(_)yd,dyd_->(y)()d_d", ((0, 0, 1, 0, 0), (0, 0, 0, 1))),
    Case("(a)a->a_a", ((0, 0),)),
    Case("Ye", ((1, 0, 0),)),
]
