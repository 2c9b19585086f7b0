"""Hypothesis strategies: random VALID numpy-style einsum specs with matching shapes.

A case is a spec string (explicit or implicit mode, repeated letters in inputs,
`...` with numpy broadcasting and different ranks across operands, scalars),
the shapes of its operands, `where` typical sizes, and a seed for the values.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from hypothesis import strategies as st

TYPICAL_SIZES = (1, 2, 3, 7, 64, 1000, 10**6)


@dataclass(frozen=True)
class Case:
    spec: str
    shapes: tuple[tuple[int, ...], ...]
    typical: tuple[tuple[str, int], ...] = ()
    seed: int = 0
    exact: tuple[tuple[str, int], ...] = ()
    notes: dict = field(default_factory=dict, compare=False, hash=False)

    def ein_text(self, name: str = "f", func: str = "einsum") -> str:
        params = [f"x{k}" for k in range(len(self.shapes))]
        text = f'{name}({", ".join(params)}) = {func}("{self.spec}", {", ".join(params)})'
        items = [f"{a} ~ {n}" for a, n in self.typical] + [f"{a} = {n}" for a, n in self.exact]
        if items:
            text += " where " + ", ".join(items)
        return text + "\n"


@st.composite
def numpy_style_cases(
    draw,
    max_operands: int = 6,
    max_letters: int = 7,
    max_size: int = 4,
    max_ellipsis_rank: int = 3,
    max_operand_letters: int = 4,
    with_where: bool = True,
) -> Case:
    n_operands = draw(st.integers(1, max_operands))
    n_letters = draw(st.integers(0, max_letters))
    pool = draw(st.permutations(string.ascii_lowercase))[:n_letters]
    size = {a: draw(st.integers(1, max_size)) for a in pool}

    use_ellipsis = max_ellipsis_rank > 0 and draw(st.booleans())
    ell_rank = draw(st.integers(0, max_ellipsis_rank)) if use_ellipsis else 0
    ell_sizes = [draw(st.integers(1, max_size)) for _ in range(ell_rank)]

    operands: list[list[str]] = []
    shapes: list[tuple[int, ...]] = []
    ell_ranks: list[int | None] = []
    for k in range(n_operands):
        m = draw(st.integers(0, max_operand_letters)) if pool else 0
        letters = [draw(st.sampled_from(pool)) for _ in range(m)]
        has_ell = use_ellipsis and (
            draw(st.booleans()) or (k == n_operands - 1 and not any(r is not None for r in ell_ranks))
        )
        r = None
        if has_ell:
            # The first operand with '...' carries its full rank, so that the
            # output's '...' rank (the largest) is the drawn one.
            first = not any(x is not None for x in ell_ranks)
            r = ell_rank if first else draw(st.integers(0, ell_rank))
            pos = draw(st.integers(0, len(letters)))
            letters = letters[:pos] + ["..."] + letters[pos:]
        ell_ranks.append(r)
        shape: list[int] = []
        for sym in letters:
            if sym == "...":
                for s in ell_sizes[ell_rank - r :]:
                    shape.append(1 if draw(st.integers(0, 3)) == 0 else s)
            else:
                shape.append(size[sym])
        operands.append(letters)
        shapes.append(tuple(shape))

    used = sorted({a for op in operands for a in op if a != "..."})
    any_ell = any(r is not None for r in ell_ranks)
    implicit = draw(st.sampled_from([False, False, False, True]))
    if implicit:
        spec = ",".join("".join(op) for op in operands)
    else:
        out = draw(st.permutations(used))[: draw(st.integers(0, len(used)))] if used else []
        out = list(out)
        if any_ell and draw(st.integers(0, 4)) > 1:
            out.insert(draw(st.integers(0, len(out))), "...")
        sep_comma, sep_arrow = draw(st.sampled_from([(",", "->"), (", ", " -> "), (" ,", "->  ")]))
        spec = sep_comma.join("".join(op) for op in operands) + sep_arrow + "".join(out)

    typical: list[tuple[str, int]] = []
    if with_where and used and draw(st.sampled_from([True, True, False])):
        chosen = draw(st.lists(st.sampled_from(used), unique=True, min_size=1, max_size=len(used)))
        typical = [(a, draw(st.sampled_from(TYPICAL_SIZES))) for a in chosen]
    seed = draw(st.integers(0, 2**31 - 1))
    return Case(spec, tuple(shapes), tuple(typical), seed)


# --- the whole dialect ------------------------------------------------------------
#
# Composites (uppercase: runs of 0..2 axes), `_` and `()` (axes of size 1),
# groups `( )` in inputs and outputs (row-major flattenings, also nested and
# holding composites), repeated letters in inputs (diagonals) and in the
# output (induced diagonals), `...`, implicit mode, `where` exact and typical
# sizes. Valid by construction:
#   - every operand holds at most one composite (or `...`) whose rank is not
#     fixed by an earlier operand, so ranks resolve operand by operand;
#   - a group member is fixed elsewhere (a top-level axis of some input, a
#     composite resolved at top level, or a `where` exact size), except at
#     most one fresh letter per group, which the group's size fixes.


def _render(terms) -> str:
    out = []
    for term in terms:
        if isinstance(term, tuple):  # a group
            out.append("(" + _render(term) + ")")
        else:
            out.append(term)
    return "".join(out)


def _term_sizes(term, size, comp):
    """The sizes of the atomic axes `term` stands for (a group: their product, one axis)."""
    if isinstance(term, tuple):
        n = 1
        for t in term:
            for s in _term_sizes(t, size, comp):
                n *= s
        return [n]
    if term in ("_",):
        return [1]
    if term == "...":
        raise AssertionError("'...' is expanded by the caller")
    if term.isupper():
        return list(comp[term])
    return [size[term]]


@st.composite
def dialect_cases(draw, max_operands: int = 4, max_size: int = 3, min_size: int = 1) -> Case:
    """`min_size=0` also draws zero-size axes; a `where` exact size is never 0."""
    letters = list(draw(st.permutations(string.ascii_lowercase))[: draw(st.integers(1, 6))])
    size = {a: draw(st.integers(min_size, max_size)) for a in letters}
    comps = list(draw(st.permutations(string.ascii_uppercase))[: draw(st.integers(0, 2))])
    comp = {c: tuple(draw(st.integers(min_size, max_size)) for _ in range(draw(st.integers(0, 2)))) for c in comps}
    use_ell = draw(st.integers(0, 3)) == 0
    ell_sizes = [draw(st.integers(min_size, max_size)) for _ in range(draw(st.integers(0, 2)))] if use_ell else []

    n_operands = draw(st.integers(1, max_operands))
    operands: list[list] = []
    resolved: set[str] = set()  # composites fixed by an earlier operand
    for k in range(n_operands):
        terms: list = []
        new: str | None = None  # the one unresolved variable-rank term allowed
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["axis", "axis", "axis", "comp", "unit"]))
            if kind == "comp" and comps:
                c = draw(st.sampled_from(comps))
                if c not in resolved and new not in (None, c):
                    c = None
                if c is not None:
                    if c not in resolved:
                        new = c
                    terms.append(c)
                    continue
            if kind == "unit":
                terms.append(draw(st.sampled_from(["_", "()"])))
                continue
            terms.append(draw(st.sampled_from(letters)))
        if use_ell and new is None and draw(st.booleans()):
            terms.insert(draw(st.integers(0, len(terms))), "...")
        operands.append(terms)
        resolved |= {t for t in terms if isinstance(t, str) and t.isupper()}
    if use_ell and not any("..." in op for op in operands):
        use_ell = False
        ell_sizes = []

    fixed_letters = {t for op in operands for t in op if isinstance(t, str) and t.islower() and t in size}
    exact: dict[str, int] = {}
    fresh_pool = [a for a in letters if a not in fixed_letters]
    # Groups in inputs: replace a random run of top-level terms by a group,
    # or add a group of fixed members plus at most one fresh letter.
    for k, terms in enumerate(operands):
        if not draw(st.integers(0, 2)) == 0:
            continue
        members: list = []
        for _ in range(draw(st.integers(1, 3))):
            choice = draw(st.sampled_from(["fixed", "fixed", "comp", "unit"]))
            if choice == "fixed" and fixed_letters:
                members.append(draw(st.sampled_from(sorted(fixed_letters))))
            elif choice == "comp" and resolved:
                members.append(draw(st.sampled_from(sorted(resolved))))
            elif choice == "unit":
                members.append("_")
        if fresh_pool and draw(st.booleans()):
            a = fresh_pool.pop(draw(st.integers(0, len(fresh_pool) - 1)))
            members.insert(draw(st.integers(0, len(members))), a)
            if draw(st.integers(0, 3)) == 0 and size[a] > 0:
                exact[a] = size[a]
        if draw(st.integers(0, 4)) == 0 and len(members) >= 2:
            members = [tuple(members[:2])] + members[2:]  # nested group
        terms.insert(draw(st.integers(0, len(terms))), tuple(members))

    def walk(terms):
        for t in terms:
            if isinstance(t, tuple):
                yield from walk(t)
            else:
                yield t

    used_letters = sorted({t for op in operands for t in walk(op) if t in size})
    used_comps = sorted({t for op in operands for t in walk(op) if t in comp})
    # A fixed letter that appears in a group only gets a `where` exact size at random.
    for a in used_letters:
        if a not in fixed_letters and a not in exact and draw(st.integers(0, 4)) == 0 and size[a] > 0:
            exact[a] = size[a]

    implicit = draw(st.integers(0, 5)) == 0
    if implicit:
        out_spec = None
    else:
        pool = used_letters + used_comps
        out: list = []
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.sampled_from(["sym", "sym", "sym", "unit", "group"]))
            if kind == "sym" and pool:
                out.append(draw(st.sampled_from(pool)))  # repeats: induced diagonals
            elif kind == "unit":
                out.append(draw(st.sampled_from(["_", "()"])))
            elif kind == "group" and pool:
                g = tuple(draw(st.sampled_from(pool)) for _ in range(draw(st.integers(0, 3))))
                out.append(g)
        flat = [t for t in walk(out) if t not in ("_", "()")]
        # The compiler refuses repeated output letters beside '...' (a known
        # limitation, tested on its own in test_properties.py): not drawn here.
        if use_ell and len(set(flat)) == len(flat) and draw(st.booleans()):
            where = draw(st.integers(0, len(out)))
            out.insert(where, "..." if draw(st.integers(0, 3)) else ("...",))
        out_spec = _render(out)

    shapes = []
    for k, terms in enumerate(operands):
        shape: list[int] = []
        for t in terms:
            if t == "...":
                r = draw(st.integers(0, len(ell_sizes)))
                for s in ell_sizes[len(ell_sizes) - r :]:
                    shape.append(1 if draw(st.integers(0, 3)) == 0 else s)
            elif t == "()":
                shape.append(1)
            else:
                shape.extend(_term_sizes(t, size, comp))
        shapes.append(tuple(shape))

    spec = ",".join(_render(op) for op in operands)
    if out_spec is not None:
        spec += "->" + out_spec
    typical = []
    if used_letters and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(used_letters), unique=True, min_size=1))
        typical = [(a, draw(st.sampled_from(TYPICAL_SIZES))) for a in chosen if a not in exact]
    return Case(
        spec, tuple(shapes), tuple(typical), draw(st.integers(0, 2**31 - 1)), tuple(sorted(exact.items()))
    )
