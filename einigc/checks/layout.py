"""Layout resolution: composites, `...`, groups and `_` of one spec, resolved to core axes (model.Layout).

The core problem that planning sees has one axis per lowercase letter, one per
composite (flattened), and `...` kept whole when it broadcasts. This pass says
how each operand's tensor axes ("slots") map onto core axes, which composite
ranks each operand fixes, and where each size comes from, so that lowering can
emit at most one reshape per operand and one for the output.

A group that appears only whole (the same members in the same order, as in
`bq(hd),(hd)e->bqe`) stays one core axis: it is contracted or carried whole
and its members' sizes are never needed. Every other group member gets its
size from an axis of its own, a `where` size, or its group (the group's size
over the product of the others, when it is the group's only unknown member);
a member that stays unknown is reported here, at its group.

Checks resolves every spec the user writes (`specs.resolve_layout`) and keeps
the result on the model; `plain_layout` builds the layout of a spec the
compiler derives from plain letters, with no syntax and no error to raise.
"""

from __future__ import annotations

from einigc import ein_ast as A
from einigc.errors import EinAxisError, EinUnsupportedError, InternalError, Pos
from einigc.model import Layout, OperandLayout, Slot
from einigc.plan import ELLIPSIS


def stand_ins(taken) -> list[str]:
    """Letters free to name a core axis the spec has no letter for, best first.

    Capitals read as composites; lowercase letters follow when a spec uses all
    26 (TensorFlow's einsum takes letters only).
    """
    return [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in taken]


def _leaves(terms, ellipsis_letter: str) -> tuple[str, ...]:
    out: list[str] = []
    for term in terms:
        if isinstance(term, (A.Axis, A.Composite)):
            out.append(term.letter)
        elif isinstance(term, A.Ellipsis_):
            out.append(ellipsis_letter)
        elif isinstance(term, A.Group):
            out.extend(_leaves(term.terms, ellipsis_letter))
    return tuple(out)


def _slots(operand: A.Operand, ellipsis_letter: str, merged: dict) -> tuple[Slot, ...]:
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
            leaves = _leaves(term.terms, ellipsis_letter or ELLIPSIS)
            text = "(" + A.terms_text(term.terms) + ")"
            slots.append(Slot(merged.get(leaves, leaves), pos=term.pos, text=text))
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


def _whole_groups(operands) -> list[tuple[str, ...]]:
    """The members of each group that appears only whole: no member is seen elsewhere."""
    groups: dict[tuple[str, ...], int] = {}
    seen: dict[str, int] = {}  # letter -> occurrences
    for op in operands:
        for term in op.terms:
            if isinstance(term, A.Group):
                leaves = _leaves(term.terms, ELLIPSIS)
                if len(leaves) > 1 and ELLIPSIS not in leaves:
                    groups[leaves] = groups.get(leaves, 0) + 1
        for term in _walk(op.terms):
            if isinstance(term, (A.Axis, A.Composite)):
                seen[term.letter] = seen.get(term.letter, 0) + 1
    return [
        leaves
        for leaves, count in groups.items()
        if len(set(leaves)) == len(leaves) and all(seen[m] == count for m in leaves)
    ]


def _without_ellipsis(output: A.Operand) -> A.Operand:
    """numpy: an output `...` that no input has stands for no axes at all."""

    def drop(terms):
        return tuple(
            A.Group(drop(t.terms), t.pos) if isinstance(t, A.Group) else t
            for t in terms
            if not isinstance(t, A.Ellipsis_)
        )

    return A.Operand(drop(output.terms), output.pos)


def analyse(inputs: tuple[A.Operand, ...], output: A.Operand, exact=(), reserved=(), ellipsis="") -> Layout:
    """Resolves one spec's layout; raises EinAxisError for ambiguity and unknown sizes.

    `exact`: the letters a `where` clause gives exact sizes; `reserved`:
    letters no stand-in may take (the function's `where` letters);
    `ellipsis`: a composite that stands for `...` (beside '%'), named '...' in messages.
    """
    if not any(isinstance(t, A.Ellipsis_) for op in inputs for t in _walk(op.terms)):
        output = _without_ellipsis(output)
    operands = (*inputs, output)
    taken = {t.letter for op in operands for t in _walk(op.terms) if isinstance(t, (A.Axis, A.Composite))}
    free = iter(stand_ins(taken | set(exact) | set(reserved)))
    ellipsis_letter = ellipsis
    if not ellipsis_letter and _ellipsis_in_group(inputs):
        # Inside an input group `...` is flattened, so it cannot broadcast: it acts
        # as a composite, named by a letter the spec does not use.
        ellipsis_letter = next(free, "")
        if not ellipsis_letter:
            pos = next(t.pos for op in inputs for t in _walk(op.terms) if isinstance(t, A.Ellipsis_))
            raise EinUnsupportedError(
                pos,
                "this spec uses all 52 letters, which leaves none to name '...' inside a group",
                "use fewer letters, or keep '...' out of groups",
            )
    # Groups seen only whole become one core axis each, when a letter is free.
    merged = {leaves: (letter,) for leaves, letter in zip(_whole_groups(operands), free)}
    input_layouts = []
    for op in inputs:
        slots = _slots(op, ellipsis_letter, merged)
        input_layouts.append(OperandLayout(slots, _core(slots), _needs_reshape(slots)))
    out_slots = _slots(output, ellipsis_letter, merged)
    out_core = _core(out_slots)
    distinct: list[str] = []
    for symbol in out_core:
        if symbol not in distinct:
            distinct.append(symbol)
    output_layout = OperandLayout(out_slots, out_core, _needs_reshape(out_slots))
    composites = {t.letter for op in operands for t in _walk(op.terms) if isinstance(t, A.Composite)}
    composites |= {ellipsis_letter} - {""}
    sources = _resolve_composites(input_layouts, output_layout, ellipsis_letter, composites)
    return Layout(
        tuple(input_layouts),
        output_layout,
        tuple(distinct),
        tuple(sorted(sources.items())),
        ellipsis_letter,
        _solve_members(input_layouts, set(exact), ellipsis_letter, composites),
        tuple((letter, "(" + "".join(leaves) + ")") for leaves, (letter,) in merged.items()),
    )


def _solve_members(layouts, where_exact: set[str], ellipsis_letter: str, composites: set[str]) -> tuple:
    """Which group gives each member no axis or `where` size fixes, in solving order.

    A composite that is a run of its own somewhere has a size (its rank is
    resolved or reported by _resolve_composites).
    """
    known = set(where_exact)
    for layout in layouts:
        for slot in layout.slots:
            if slot.is_variable:
                known.add(slot.variable)
            elif len(slot.leaves) == 1:
                known.add(slot.leaves[0])
    derived = []
    changed = True
    while changed:
        changed = False
        for index, layout in enumerate(layouts):
            for j, slot in enumerate(layout.slots):
                unknown = [m for m in slot.leaves if m not in known]
                if slot.is_group and len(unknown) == 1:
                    derived.append((unknown[0], index, j))
                    known.add(unknown[0])
                    changed = True
    for layout in layouts:
        for slot in layout.slots:
            unknown = list(dict.fromkeys(m for m in slot.leaves if m not in known))
            if slot.is_group and unknown:
                raise _unknown_members(slot, unknown, ellipsis_letter, composites)
    return tuple(derived)


def _unknown_members(slot: Slot, unknown: list[str], ellipsis_letter: str, composites) -> EinAxisError:
    many = len(unknown) > 1
    shown = " and ".join("'...'" if m == ellipsis_letter else f"'{m}'" for m in unknown)
    # All but one of them need a size (the group gives that one): suggest the
    # inner ones, as in `(hp) where p = 16`.
    letters = [m for m in unknown[1:] or unknown if m not in composites]
    hint = (
        "add " + ", ".join(f"`where {m} = N`" for m in letters)
        if letters
        else "give the composite an operand of its own"
    )
    return EinAxisError(
        slot.pos,
        f"group {slot.text} cannot be split: the size{'s' if many else ''} of {shown}"
        f" {'are' if many else 'is'} unknown (a member's size comes from an axis of its own,"
        " a `where` size, or its group when it is the group's only unknown member)",
        hint,
    )


def _walk(terms):
    for term in terms:
        yield term
        if isinstance(term, A.Group):
            yield from _walk(term.terms)


def _resolve_composites(layouts, output_layout, ellipsis_letter, composites) -> dict[str, int]:
    """Which input operand fixes each composite's rank (the LANGUAGE.md rule)."""
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
        hint = "give it an operand of its own, or split it into single letters"
        if len(layouts) > 1 and not any(s.leaves for layout in (*layouts, output_layout) for s in layout.slots):
            # No axis letter in several operands: numpy's "IJ,JK->IK".
            hint = "uppercase letters are composites (runs of axes) in einigc: write axes in lowercase"
        raise EinAxisError(
            needs,
            f"the rank of {name} cannot be determined: no operand holds it as its only"
            " unresolved composite",
            hint,
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


def plain_layout(inputs: tuple[tuple[str, ...], ...], output: tuple[str, ...]) -> Layout:
    """The layout of a spec of single lowercase letters, built from the letters alone.

    For specs the compiler derives (eingrad's contractions), which need no
    syntax and cannot fail: each letter is one tensor axis and one core axis,
    as `analyse` resolves such a spec. Raises InternalError on anything else.
    """
    for word in (*inputs, output):
        if isinstance(word, str) or not all(_is_axis_letter(c) for c in word):
            raise InternalError("layout", f"plain_layout takes tuples of single lowercase letters, not {word!r}")
    if set(output) - {c for word in inputs for c in word}:
        raise InternalError("layout", f"output letters {output!r} are not all in the inputs {inputs!r}")

    def operand(word: tuple[str, ...]) -> OperandLayout:
        return OperandLayout(tuple(Slot((c,)) for c in word), tuple(word), False)

    return Layout(tuple(operand(w) for w in inputs), operand(output), tuple(dict.fromkeys(output)), (), "")


def _is_axis_letter(c) -> bool:
    return isinstance(c, str) and len(c) == 1 and c.isascii() and c.islower()


def scalar_output(inputs) -> A.Operand:
    """The output of a spec that contracts `inputs` to a scalar (lowering derives such specs: `ij,ij->`)."""
    return A.Operand((), inputs[-1].pos)
