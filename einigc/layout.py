"""Layout pass: composites, `...`, groups and `_` of one spec, resolved to core axes.

The core problem that planning sees has one axis per lowercase letter, one per
composite (flattened), and `...` kept whole when it broadcasts. This pass says
how each operand's tensor axes ("slots") map onto core axes, which composite
ranks each operand fixes, and where each size comes from, so that lowering can
emit at most one reshape per operand and one for the output.
"""

from __future__ import annotations

from dataclasses import dataclass

from einigc import ein_ast as A
from einigc.errors import EinAxisError, Pos
from einigc.plan import ELLIPSIS


@dataclass(frozen=True)
class Slot:
    """One tensor axis holding `leaves` flattened (none: a size-1 axis), or a
    variable run of axes: a composite (`letter`) or a broadcasting `...`."""

    leaves: tuple[str, ...] = ()
    variable: str = ""
    pos: Pos | None = None

    @property
    def is_variable(self) -> bool:
        return bool(self.variable)


@dataclass(frozen=True)
class OperandLayout:
    slots: tuple[Slot, ...]
    core: tuple[str, ...]  # core axes, in order (repeats are diagonals)
    needs_reshape: bool


@dataclass(frozen=True)
class Layout:
    inputs: tuple[OperandLayout, ...]
    output: OperandLayout
    output_core: tuple[str, ...]  # distinct core axes of the output, first-seen order
    composite_source: tuple[tuple[str, int], ...]  # composite -> input operand fixing its rank
    ellipsis_letter: str  # core name of `...` when it cannot broadcast (inside a group)


def _is_composite_symbol(symbol: str) -> bool:
    return symbol.isupper()


def _leaves(terms, ellipsis_letter: str) -> tuple[str, ...]:
    out: list[str] = []
    for term in terms:
        if isinstance(term, A.Axis):
            out.append(term.letter)
        elif isinstance(term, A.Composite):
            out.append(term.letter)
        elif isinstance(term, A.Ellipsis_):
            out.append(ellipsis_letter)
        elif isinstance(term, A.Group):
            out.extend(_leaves(term.terms, ellipsis_letter))
    return tuple(out)


def _slots(operand: A.Operand, ellipsis_letter: str) -> tuple[Slot, ...]:
    slots = []
    for term in operand.terms:
        if isinstance(term, A.Axis):
            slots.append(Slot((term.letter,), pos=term.pos))
        elif isinstance(term, A.Composite):
            slots.append(Slot(variable=term.letter, pos=term.pos))
        elif isinstance(term, A.Ellipsis_):
            slots.append(Slot(variable=ellipsis_letter or ELLIPSIS, pos=term.pos))
        elif isinstance(term, A.Unit):
            slots.append(Slot((), pos=term.pos))
        elif isinstance(term, A.Group):
            slots.append(Slot(_leaves(term.terms, ellipsis_letter or ELLIPSIS), pos=term.pos))
    return tuple(slots)


def _core(slots: tuple[Slot, ...]) -> tuple[str, ...]:
    core: list[str] = []
    for slot in slots:
        core.extend((slot.variable,) if slot.is_variable else slot.leaves)
    return tuple(core)


def _needs_reshape(slots: tuple[Slot, ...]) -> bool:
    for slot in slots:
        if slot.is_variable and slot.variable != ELLIPSIS:
            return True  # a composite is flattened to one core axis
        if not slot.is_variable and (len(slot.leaves) != 1 or slot.leaves == (ELLIPSIS,)):
            return True  # a group is split or merged, `_` is dropped
    return False


def _ellipsis_in_group(spec_operands) -> bool:
    def walk(terms, inside):
        for term in terms:
            if isinstance(term, A.Ellipsis_) and inside:
                return True
            if isinstance(term, A.Group) and walk(term.terms, True):
                return True
        return False

    return any(walk(op.terms, False) for op in spec_operands)


def analyse(inputs: tuple[A.Operand, ...], output: A.Operand) -> Layout:
    """Resolves one spec's layout; raises EinAxisError for ambiguity."""
    operands = (*inputs, output)
    used = {t.letter for op in operands for t in _walk(op.terms) if isinstance(t, A.Composite)}
    ellipsis_letter = ""
    if _ellipsis_in_group(inputs):
        # Inside an input group `...` is flattened, so it cannot broadcast: it acts
        # as a composite, named by a capital letter the spec does not use.
        ellipsis_letter = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    input_layouts = []
    for op in inputs:
        slots = _slots(op, ellipsis_letter)
        input_layouts.append(OperandLayout(slots, _core(slots), _needs_reshape(slots)))
    out_slots = _slots(output, ellipsis_letter)
    out_core = _core(out_slots)
    distinct: list[str] = []
    for symbol in out_core:
        if symbol not in distinct:
            distinct.append(symbol)
    output_layout = OperandLayout(out_slots, out_core, _needs_reshape(out_slots))
    sources = _resolve_composites(inputs, input_layouts, output_layout, ellipsis_letter)
    return Layout(
        tuple(input_layouts),
        output_layout,
        tuple(distinct),
        tuple(sorted(sources.items())),
        ellipsis_letter,
    )


def _walk(terms):
    for term in terms:
        yield term
        if isinstance(term, A.Group):
            yield from _walk(term.terms)


def _resolve_composites(inputs, layouts, output_layout, ellipsis_letter) -> dict[str, int]:
    """Which input operand fixes each composite's rank (the LANGUAGE.md rule)."""
    composites = {
        s.variable
        for layout in (*layouts, output_layout)
        for s in layout.slots
        if s.is_variable and s.variable != ELLIPSIS
    }
    for layout in (*layouts, output_layout):
        for slot in layout.slots:
            composites.update(leaf for leaf in slot.leaves if _is_composite_symbol(leaf))
    sources: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for index, layout in enumerate(layouts):
            unresolved = {
                s.variable
                for s in layout.slots
                if s.is_variable and s.variable != ELLIPSIS and s.variable not in sources
            }
            # A broadcasting `...` is local to its operand: it counts as
            # unresolved until it is the only variable run left.
            has_ellipsis = any(s.variable == ELLIPSIS for s in layout.slots)
            if len(unresolved) == 1 and not has_ellipsis:
                (letter,) = unresolved
                sources[letter] = index
                changed = True
    # A composite needs a rank only where it must be split off a tensor: as
    # its own run in an operand beside other runs, or in the output.
    for letter in sorted(composites - set(sources)):
        needs = _needs_rank(letter, layouts, output_layout)
        if needs is None:
            continue
        name = "'...'" if letter == ellipsis_letter else f"composite '{letter}'"
        top_level_in_inputs = any(s.variable == letter for layout in layouts for s in layout.slots)
        if not top_level_in_inputs:
            raise EinAxisError(
                needs,
                f"the shape of {name} cannot be recovered: in the inputs it appears only inside"
                " groups, where it is flattened",
                "keep it flattened in the output too, e.g. (" + ("..." if letter == ellipsis_letter else letter) + ")",
            )
        raise EinAxisError(
            needs,
            f"the rank of {name} cannot be determined: no operand holds it as its only"
            " unresolved composite",
            "give it an operand of its own, or split it into single letters",
        )
    return sources


def _needs_rank(letter: str, layouts, output_layout) -> Pos | None:
    for layout in (*layouts, output_layout):
        variables = [s for s in layout.slots if s.is_variable]
        for slot in variables:
            if slot.variable == letter:
                if layout is output_layout or len(variables) > 1:
                    return slot.pos
                # alone in its operand: slicing from both ends finds it
    return None
