"""`where` clauses: each item names an axis of the declaration's specs, once, with a valid size."""

from __future__ import annotations

from einigc import ein_ast as A
from einigc import model as M
from einigc.checks.specs import spec_letters
from einigc.errors import DiagnosticSink, EinAxisError


def check_where(decl: A.Declaration, specs: list[A.Spec], sink: DiagnosticSink):
    """Returns the valid sizes and `independent` letters of `decl`'s `where` clause."""
    has_grad = any(spec.grad_pairs for spec in specs)
    letters = {
        axis.letter
        for spec in specs
        for operand in (*spec.inputs, *((spec.output,) if spec.output else ()))
        for axis in spec_letters(operand.terms)
    }
    seen: dict[str, A.WhereItem] = {}
    sizes: list[M.SizeHint] = []
    independent: list[str] = []
    for item in decl.where:
        letter = item.letter
        if len(letter) != 1 or not letter.islower():
            what = "a composite has no single size" if len(letter) == 1 else "a spec axis is one letter"
            sink.error(EinAxisError(item.pos, f"'{letter}' is not an axis letter: {what}"))
            continue
        if letter not in letters:
            shown = ", ".join(sorted(letters)) or "none"
            sink.error(
                EinAxisError(
                    item.pos,
                    f"'{letter}' names no axis of the specs in '{decl.name}'",
                    f"the axes are: {shown}",
                )
            )
            continue
        if isinstance(item, A.Independent):
            problem = _independent_problem(item, has_grad, independent, _shared_across_grad(specs))
            if problem:
                sink.error(problem)
            else:
                independent.append(letter)
            continue
        problem = _size_problem(item, seen)
        if problem:
            sink.error(problem)
            continue
        seen[letter] = item
        sizes.append(M.SizeHint(letter, item.size, isinstance(item, A.SizeExact), item.pos))
    return tuple(sizes), tuple(independent)


def _shared_across_grad(specs: list[A.Spec]) -> set[str]:
    """The letters on both sides of some '%'."""
    return {
        axis.letter
        for spec in specs
        for left, right in spec.grad_pairs
        if left < len(spec.inputs) and right < len(spec.inputs)
        for axis in spec_letters(spec.inputs[left].terms)
        if axis.letter in {a.letter for a in spec_letters(spec.inputs[right].terms)}
    }


def _independent_problem(item, has_grad: bool, independent: list[str], shared: set[str]):
    letter = item.letter
    if not has_grad:
        return EinAxisError(item.pos, f"'{letter} independent' only applies to eingrad", "remove it")
    if letter in independent:
        return EinAxisError(item.pos, f"'{letter} independent' is said twice")
    if letter not in shared:
        return EinAxisError(
            item.pos,
            f"'{letter}' is not shared across '%', so '{letter} independent' means nothing",
            "independence is about a letter on both sides of '%', as in b%bj",
        )
    return None


def _size_problem(item, seen: dict):
    letter = item.letter
    if letter in seen:
        first = seen[letter]
        return EinAxisError(
            item.pos,
            f"'{letter}' already has a size at line {first.pos.line}, column {first.pos.col}",
            "give each axis one size",
        )
    if item.size < 1:
        return EinAxisError(item.pos, f"the size of '{letter}' must be at least 1")
    if item.size >= 2**62:
        return EinAxisError(item.pos, f"the size of '{letter}' is too large: at most 2**62 - 1")
    return None
