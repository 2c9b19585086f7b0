"""The cost model of eingrad with several `%` pairs: passes and built Jacobian entries per strategy, at assumed sizes.

A pass is one reverse or forward pass through a function (vectorized
passes count one each); the sizes are the `where` sizes or 64. The
Jacobians take the smaller side of each distinct pair (none for a closed
form); the chain (a JVP then
a VJP) takes 2 with function transforms and 3 on tapes (two reverse passes
for the double-backward JVP, one VJP); one Jacobian plus the other pair's
vectorized JVPs or VJPs takes that Jacobian's passes plus one per slice of
it (two per JVP on tapes: the double-backward trick). Ties go to the strategy that builds fewer Jacobian entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from einigc import model as M
from einigc.checks.specs import plain_operand, runs_and_letters
from einigc.lower.eingrad import FUNCTIONAL_TARGETS, _letters, closed_form
from einigc.plan import DEFAULT_SIZE

if TYPE_CHECKING:
    from einigc.lower.function import FunctionLowering


@dataclass(frozen=True)
class Mixed:
    """J of pair `built`, then pair `other` through one side: its variable (JVPs) or its value (VJPs).

    `slices`: the letters of J (in its order) that are not on that side;
    one vectorized pass per slice along them, each with the slice as the
    tangent or cotangent. The other pair's Jacobian is never built.
    """

    built: int
    other: int
    side: str  # "variable": vectorized JVPs; "value": vectorized VJPs
    slices: tuple[str, ...]
    passes: int
    elements: int


def size(lowering: FunctionLowering, letters) -> int:
    return math.prod(lowering.sizes.get(c, (DEFAULT_SIZE, ""))[0] for c in letters)


def pair_key(lowering: FunctionLowering, pair: M.BuiltinCall):
    """Pairs with equal keys have one Jacobian: the same function and variable, the same letters up to renaming."""
    a, b = pair.inputs
    if not (runs_and_letters(a) and runs_and_letters(b)):
        return pair
    seq = _letters(a) + _letters(b)
    pattern = tuple(seq.index(c) for c in seq)
    kinds = tuple(type(t).__name__ for t in a.terms + b.terms)  # a composite (or `...`) is not a letter
    independent = tuple(c in lowering.function.independent for c in seq)
    return (pair.args, len(_letters(a)), pattern, kinds, independent)


def _distinct(lowering: FunctionLowering, call: M.BuiltinCall) -> list[M.BuiltinCall]:
    return list({pair_key(lowering, pair): pair for pair in call.pairs}.values())


def _passes(lowering: FunctionLowering, pair: M.BuiltinCall) -> int:
    if closed_form(pair) is not None:
        return 0  # an einsum of the operands: no pass at all
    a, b = (set(_letters(side)) for side in pair.inputs)
    return min(size(lowering, a), size(lowering, b))


def _elements(lowering: FunctionLowering, pair: M.BuiltinCall) -> int:
    return size(lowering, set(_letters(pair.inputs[0])) | set(_letters(pair.inputs[1])))


def jacobian_passes(lowering: FunctionLowering, call: M.BuiltinCall) -> int:
    """Reverse or forward passes the Jacobians take: the smaller side of each distinct pair."""
    return sum(_passes(lowering, pair) for pair in _distinct(lowering, call))


def jacobian_elements(lowering: FunctionLowering, call: M.BuiltinCall) -> int:
    """The entries of the distinct pairs' Jacobians."""
    return sum(_elements(lowering, pair) for pair in _distinct(lowering, call))


def cheapest_mixed(lowering: FunctionLowering, call: M.BuiltinCall, others: list[int]) -> Mixed | None:
    """The cheapest way to build one pair's Jacobian and touch the other through one side only, if any.

    Plain pairs only: two pairs of different functions or variables, no other
    operands, single letters with none shared within a pair. The side's
    letters are contracted with the built Jacobian alone (none in the
    output), the other side's letters meet nothing of it.
    """
    pairs = call.pairs
    if len(pairs) != 2 or others or pairs[0].args == pairs[1].args:
        return None
    sides = [[_letters(op) for op in pair.inputs] for pair in pairs]
    if not all(plain_operand(op) for pair in pairs for op in pair.inputs):
        return None
    if any(set(a) & set(b) for a, b in sides):
        return None
    out = set(_letters(call.output))
    found = []
    for built, other in ((0, 1), (1, 0)):
        jacobian = sides[built][0] + sides[built][1]
        for side, touched, untouched in (("variable", *sides[other][::-1]), ("value", *sides[other])):
            if set(touched) - set(jacobian) or set(touched) & out or set(untouched) & set(jacobian):
                continue
            slices = tuple(c for c in jacobian if c not in touched)
            if not slices:
                continue
            # On tapes a JVP is the double-backward trick, two reverse passes: at equal counts
            # TF measured 1.06x (eager) and 1.10x (tf.function) the two Jacobians
            # (bench/results/eingrad_pairs.md, mixed, before this factor).
            per_slice = 2 if side == "variable" and lowering.target not in FUNCTIONAL_TARGETS else 1
            passes = _passes(lowering, pairs[built]) + per_slice * size(lowering, slices)
            found.append(Mixed(built, other, side, slices, passes, _elements(lowering, pairs[built])))
    return min(found, key=lambda m: (m.passes, m.elements), default=None)
