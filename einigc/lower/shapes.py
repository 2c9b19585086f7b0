"""Trace-time shape expressions: where each size and composite shape comes from."""

from __future__ import annotations

import copy

from einigc import ir
from einigc.lower.builder import Block
from einigc.errors import InternalError
from einigc.model import Layout, Slot
from einigc.plan import ELLIPSIS


def _word(symbols) -> str:
    return "".join(symbols)


def _describe_slot(slot: Slot) -> str:
    if slot.is_variable:
        return slot.variable
    if slot.text:
        return slot.text
    if len(slot.leaves) == 1:
        return slot.leaves[0]
    return "_"


def reshape_comment(slots, core, output: bool = False) -> str:
    layout = "".join(_describe_slot(s) for s in slots)
    if output:
        return f"lay the result out as {layout}"
    return f"{layout} as core axes {_word(core) or 'scalar'}: one reshape, no copy"


# What a ShapeEnv has emitted so far, read on first use.
_READS = ("shape_vars", "shape_reads", "rank_vars", "composite_shapes", "member_vars")


class ShapeEnv:
    """Trace-time shape expressions for one call, emitted on first use."""

    def __init__(self, block: Block, names, lay: Layout, sizes, function: str):
        self.block = block  # where the shape reads go, as they are first needed
        self.names = names
        self.lay = lay
        self.function = function
        self.where_exact = {k: v for k, (v, src) in sizes.items() if src == "where ="}
        self.shape_vars: dict[int, str] = {}  # operand -> the name of its shape list
        self.shape_reads: dict[int, ir.ShapeOf] = {}  # operand -> what its shape read reads
        self.rank_vars: dict[str, ir.Name] = {}
        self.composite_shapes: dict[str, ir.Shape] = {}
        self.member_vars: dict[str, ir.Name] = {}
        self.sources = dict(lay.composite_source)
        self.derived = {member: (index, j) for member, index, j in lay.derived}

    def fork(self, block: Block) -> ShapeEnv:
        """The shapes read so far, emitting what else is needed into `block` (a branch)."""
        forked = copy.copy(self)
        forked.block = block
        for field in _READS:
            setattr(forked, field, dict(getattr(self, field)))
        return forked

    def absorb(self, branch: ShapeEnv) -> None:
        """Knows what `branch` read: its block was taken as the way this one went."""
        for field in _READS:
            setattr(self, field, dict(getattr(branch, field)))

    def shape_of(self, index: int) -> str:
        if index not in self.shape_vars:
            name = self.names[index]
            slots = self.lay.inputs[index].slots
            if any(slot.is_variable for slot in slots):
                # The rank is the data's: a composite or `...` needs it known.
                op = ir.ShapeOf(name, needed_by=f"{self.function}: operand '{self.block.stem(name)}'")
            else:
                op = ir.ShapeOf(name)  # _check_axes gave it the spec's rank where it was unknown
            # One tensor given twice is read once.
            same = [k for k, read in self.shape_reads.items() if read == op]
            if same:
                self.shape_vars[index] = self.shape_vars[same[0]]
            else:
                self.shape_vars[index] = self.block.emit(f"{name}_shape", op)
            self.shape_reads[index] = op
        return self.shape_vars[index]

    # --- ranks and positions -------------------------------------------

    def rank(self, index: int, letter: str) -> ir.Name:
        """The rank of a variable run (a composite, or `...` of operand `index`)."""
        key = letter if letter != ELLIPSIS else f"...{index}"
        if key in self.rank_vars:
            return self.rank_vars[key]
        source = index if letter == ELLIPSIS else self.sources[letter]
        slots = self.lay.inputs[source].slots
        fixed = sum(1 for s in slots if not s.is_variable)
        others = [s.variable for s in slots if s.is_variable and s.variable != letter]
        count = sum(1 for s in slots if s.variable == letter)
        value: ir.Value = ir.Len(self.shape_of(source))
        if fixed:
            value = ir.Sub(value, ir.Const(fixed))
        for other in others:
            value = ir.Sub(value, self.rank(source, other))
        if count > 1:
            value = ir.FloorDiv(value, ir.Const(count))
        hint = "ellipsis" if letter == ELLIPSIS else letter
        self.rank_vars[key] = ir.Name(self.block.emit(f"{hint}_rank", value))
        return self.rank_vars[key]

    def span(self, slots, j: int, index: int) -> tuple[ir.Value, ir.Value | None]:
        """Start and stop of slot j as slice bounds (None for open).

        Counted from the front while no variable run precedes the slot, from
        the back while none follows it, and with trace-time ranks otherwise.
        """
        before, after = slots[:j], slots[j + 1 :]
        var_before = any(s.is_variable for s in before)
        var_after = any(s.is_variable for s in after)
        is_var = slots[j].is_variable
        from_back = ir.Const(-len(after)) if after else None
        if not var_before:
            start = ir.Const(len(before))
            if not is_var:
                return start, ir.Const(len(before) + 1)
            if not var_after:
                return start, from_back
            return start, _plus(start, self.rank(index, slots[j].variable))
        if not var_after:
            if not is_var:
                n = len(after) + 1
                return ir.Const(-n), (ir.Const(-(n - 1)) if n > 1 else None)
            return self._start(slots, j, index), from_back
        start = self._start(slots, j, index)
        return start, _plus(start, ir.Const(1) if not is_var else self.rank(index, slots[j].variable))

    def _start(self, slots, j, index) -> ir.Value:
        value: ir.Value = ir.Const(sum(1 for s in slots[:j] if not s.is_variable))
        for s in slots[:j]:
            if s.is_variable:
                value = _plus(value, self.rank(index, s.variable))
        return value

    def scalar_at(self, index: int, j: int) -> ir.Dim:
        slots = self.lay.inputs[index].slots
        start, stop = self.span(slots, j, index)
        return ir.Dim(self.shape_of(index), start)

    def vector_at(self, index: int, j: int) -> ir.Shape | ir.Slice:
        slots = self.lay.inputs[index].slots
        start, stop = self.span(slots, j, index)
        start = None if start == ir.Const(0) else start
        if start is None and stop is None:
            return ir.Shape(self.shape_of(index))
        return ir.Slice(self.shape_of(index), start, stop)

    # --- sizes ------------------------------------------------------------

    def letter_size(self, letter: str) -> ir.Value | None:
        """A core axis's size, or None if nothing fixes it."""
        for index, operand in enumerate(self.lay.inputs):
            for j, slot in enumerate(operand.slots):
                if not slot.is_variable and slot.leaves == (letter,):
                    return self.scalar_at(index, j)
        if letter in self.where_exact:
            return ir.Const(self.where_exact[letter])
        if letter in self.sources:
            return ir.Prod(self.composite_shape(letter))
        for index, operand in enumerate(self.lay.inputs):
            variables = [s for s in operand.slots if s.is_variable]
            for j, slot in enumerate(operand.slots):
                if slot.variable == letter and len(variables) == 1:
                    return ir.Prod(self.vector_at(index, j))
        if letter in self.derived:
            return self.member_size(letter)
        return None

    def knows_size(self, letter: str) -> bool:
        """Whether `letter_size` finds a size for `letter` (asked before anything is emitted)."""
        fixed = any(
            not slot.is_variable and slot.leaves == (letter,) for operand in self.lay.inputs for slot in operand.slots
        )
        alone = any(
            slot.variable == letter and sum(s.is_variable for s in operand.slots) == 1
            for operand in self.lay.inputs
            for slot in operand.slots
        )
        return fixed or alone or letter in self.where_exact or letter in self.sources or letter in self.derived

    def member_size(self, member: str) -> ir.Name:
        """A group member's size: the group's size over its other members' (layout solved it)."""
        if member not in self.member_vars:
            index, j = self.derived[member]
            slot = self.lay.inputs[index].slots[j]
            others = [self.letter_size(m) for m in slot.leaves if m != member]
            if None in others:
                raise InternalError("lower", f"group {slot.text} lost a member's size")
            group = self.scalar_at(index, j)
            # _check_axes already required the other members' product to be
            # positive (else the member is undetermined): a plain division.
            op = ir.FloorDiv(group, ir.product(others))
            hint = "ellipsis_size" if member == self.lay.ellipsis_letter else (
                member if member.islower() else f"{member}_size"
            )
            self.member_vars[member] = ir.Name(self.block.emit(hint, op))
        return self.member_vars[member]

    def composite_shape(self, letter: str) -> ir.Shape:
        if letter not in self.composite_shapes:
            source = self.sources[letter]
            slots = self.lay.inputs[source].slots
            j = next(k for k, s in enumerate(slots) if s.variable == letter)
            name = "ellipsis" if letter == self.lay.ellipsis_letter else letter
            self.composite_shapes[letter] = ir.Shape(self.block.emit(f"{name}_shape", self.vector_at(source, j)))
        return self.composite_shapes[letter]

    def input_target(self, index: int) -> tuple:
        """The core shape of input `index`: every entry explicit (no -1, which a 0 elsewhere
        would leave undetermined)."""
        entries: list = []
        for j, slot in enumerate(self.lay.inputs[index].slots):
            if slot.variable == ELLIPSIS:
                entries.append(self.vector_at(index, j))
            elif slot.is_variable:
                entries.append(ir.Prod(self.vector_at(index, j)))
            elif len(slot.leaves) == 1:
                entries.append(self.scalar_at(index, j))
            else:
                entries.extend(self.known_size(leaf) for leaf in slot.leaves)
        return tuple(entries)

    def known_size(self, letter: str) -> ir.Value:
        size = self.letter_size(letter)
        if size is None:
            raise InternalError("lower", f"no size for '{letter}' (layout checks every group member)")
        return size

    def output_target(self, result: str) -> tuple:
        """The output's shape from the core result: every entry explicit."""
        out = self.lay.output
        core = out.core
        r_shape = None

        def r() -> str:
            # Only a broadcasting `...` takes its sizes from the result itself.
            nonlocal r_shape
            if r_shape is None:
                op = ir.ShapeOf(result, needed_by=f"{self.function}: the result of the contraction")
                r_shape = self.block.emit(f"{result}_shape", op)
            return r_shape

        ell_at = core.index(ELLIPSIS) if ELLIPSIS in core else -1
        after = len(core) - ell_at - 1

        def ellipsis_dims() -> ir.Slice:
            return ir.Slice(r(), ir.Const(ell_at) if ell_at else None, ir.Const(-after) if after else None)

        entries: list = []
        for slot in out.slots:
            if slot.variable == ELLIPSIS:
                entries.append(ellipsis_dims())
            elif slot.is_variable:
                entries.append(self.composite_shape(slot.variable))
            elif not slot.leaves:
                entries.append(ir.Const(1))
            else:
                parts = [
                    ir.Prod(ellipsis_dims()) if leaf == ELLIPSIS else self.known_size(leaf)
                    for leaf in slot.leaves
                ]
                entries.append(ir.product(parts))
        return tuple(entries)


def _plus(a: ir.Value, b: ir.Value) -> ir.Value:
    if a == ir.Const(0):
        return b
    return ir.Add((a, b))
