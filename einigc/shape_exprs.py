"""Trace-time shape expressions: where each size and composite shape comes from."""

from __future__ import annotations

from einigc import ir
from einigc.errors import EinAxisError
from einigc.layout import Layout, Slot
from einigc.plan import ELLIPSIS


def _word(symbols) -> str:
    return "".join(symbols)


def _describe_slot(slot: Slot) -> str:
    if slot.is_variable:
        return slot.variable
    if len(slot.leaves) == 1:
        return slot.leaves[0]
    if not slot.leaves:
        return "_"
    return "(" + "".join(slot.leaves) + ")"


def reshape_comment(slots, core, output: bool = False) -> str:
    layout = "".join(_describe_slot(s) for s in slots)
    if output:
        return f"lay the result out as {layout}"
    return f"{layout} as core axes {_word(core) or 'scalar'}: one reshape, no copy"


class ShapeEnv:
    """Trace-time shape expressions for one call, emitted on first use."""

    def __init__(self, lowering, names, lay: Layout, sizes):
        self.lowering = lowering
        self.names = names
        self.lay = lay
        self.where_exact = {k: v for k, (v, src) in sizes.items() if src == "where ="}
        self.shape_vars: dict[int, str] = {}
        self.rank_vars: dict[str, str] = {}
        self.composite_shapes: dict[str, str] = {}
        self.sources = dict(lay.composite_source)

    def saved(self) -> tuple:
        """The shape reads emitted so far (to forget those of a branch)."""
        return dict(self.shape_vars), dict(self.rank_vars), dict(self.composite_shapes)

    def restore(self, saved: tuple) -> None:
        self.shape_vars, self.rank_vars, self.composite_shapes = (dict(d) for d in saved)

    def shape_of(self, index: int) -> str:
        if index not in self.shape_vars:
            name = self.names[index]
            self.shape_vars[index] = self.lowering.emit(f"{name}_shape", ir.ShapeOf(name))
        return self.shape_vars[index]

    # --- ranks and positions -------------------------------------------

    def rank(self, index: int, letter: str) -> str:
        """The rank of a variable run (a composite, or `...` of operand `index`)."""
        key = letter if letter != ELLIPSIS else f"...{index}"
        if key in self.rank_vars:
            return self.rank_vars[key]
        source = index if letter == ELLIPSIS else self.sources[letter]
        slots = self.lay.inputs[source].slots
        fixed = sum(1 for s in slots if not s.is_variable)
        others = [s.variable for s in slots if s.is_variable and s.variable != letter]
        count = sum(1 for s in slots if s.variable == letter)
        text = f"len({self.names[source]}.shape) - {fixed}" if fixed else f"len({self.names[source]}.shape)"
        for other in others:
            text += f" - {self.rank(source, other)}"
        if count > 1:
            text = f"({text}) // {count}" if " - " in text else f"{text} // {count}"
        hint = "ellipsis" if letter == ELLIPSIS else letter
        self.rank_vars[key] = self.lowering.emit(f"{hint}_rank", ir.ShapeArithmetic(text))
        return self.rank_vars[key]

    def span(self, slots, j: int, index: int) -> tuple[str, str]:
        """Start and stop of slot j as slice bounds ('' for open).

        Counted from the front while no variable run precedes the slot, from
        the back while none follows it, and with trace-time ranks otherwise.
        """
        before, after = slots[:j], slots[j + 1 :]
        var_before = any(s.is_variable for s in before)
        var_after = any(s.is_variable for s in after)
        is_var = slots[j].is_variable
        if not var_before:
            start = str(len(before))
            if not is_var:
                return start, str(len(before) + 1)
            if not var_after:
                return start, (f"-{len(after)}" if after else "")
            return start, _plus(start, self.rank(index, slots[j].variable))
        if not var_after:
            if not is_var:
                n = len(after) + 1
                return f"-{n}", (f"-{n - 1}" if n > 1 else "")
            return self._start(slots, j, index), (f"-{len(after)}" if after else "")
        start = self._start(slots, j, index)
        return start, _plus(start, "1" if not is_var else self.rank(index, slots[j].variable))

    def _start(self, slots, j, index) -> str:
        text = str(sum(1 for s in slots[:j] if not s.is_variable))
        for s in slots[:j]:
            if s.is_variable:
                text = _plus(text, self.rank(index, s.variable))
        return text

    def scalar_at(self, index: int, j: int) -> str:
        slots = self.lay.inputs[index].slots
        start, stop = self.span(slots, j, index)
        return f"{self.shape_of(index)}[{start}]"

    def vector_at(self, index: int, j: int) -> str:
        slots = self.lay.inputs[index].slots
        start, stop = self.span(slots, j, index)
        start = "" if start == "0" else start
        if not start and not stop:
            return self.shape_of(index)
        return f"{self.shape_of(index)}[{start}:{stop}]"

    # --- sizes ------------------------------------------------------------

    def letter_size(self, letter: str, exclude: int | None = None) -> str | None:
        """A scalar expression of a core axis's size, or None if nothing fixes it."""
        for index, operand in enumerate(self.lay.inputs):
            if index == exclude:
                continue
            for j, slot in enumerate(operand.slots):
                if not slot.is_variable and slot.leaves == (letter,):
                    return self.scalar_at(index, j)
        if letter in self.where_exact:
            return str(self.where_exact[letter])
        if letter.isupper() and letter in self.sources:
            return f"math.prod({self.composite_shape(letter)})"
        for index, operand in enumerate(self.lay.inputs):
            if index == exclude:
                continue
            variables = [s for s in operand.slots if s.is_variable]
            for j, slot in enumerate(operand.slots):
                if slot.variable == letter and len(variables) == 1:
                    return f"math.prod({self.vector_at(index, j)})"
        return None

    def composite_shape(self, letter: str) -> str:
        if letter not in self.composite_shapes:
            source = self.sources[letter]
            slots = self.lay.inputs[source].slots
            j = next(k for k, s in enumerate(slots) if s.variable == letter)
            name = "ellipsis" if letter == self.lay.ellipsis_letter else letter
            self.composite_shapes[letter] = self.lowering.emit(
                f"{name}_shape", ir.ShapeArithmetic(self.vector_at(source, j))
            )
        return self.composite_shapes[letter]

    def input_target(self, index: int) -> tuple:
        operand = self.lay.inputs[index]
        entries: list = []
        unknown = []
        for j, slot in enumerate(operand.slots):
            if slot.is_variable:
                if slot.variable == ELLIPSIS:
                    entries.append(ir.Vector(self.vector_at(index, j)))
                else:
                    entries.append(("composite", j))
            elif len(slot.leaves) == 1:
                entries.append(ir.Scalar(self.scalar_at(index, j)))
            else:
                for leaf in slot.leaves:
                    size = self.letter_size(leaf, exclude=None)
                    if size is None:
                        unknown.append((leaf, slot))
                        entries.append(("infer", leaf))
                    else:
                        entries.append(ir.Scalar(size))
        if len(unknown) > 1:
            leaf, slot = unknown[-1]
            raise EinAxisError(
                slot.pos,
                f"the size of '{leaf}' in this group is unknown: no operand has it as an axis of its own",
                f"add `where {leaf} = N`" if leaf.islower() else "give the composite an operand of its own",
            )
        inferred = bool(unknown)
        result = []
        for entry in entries:
            if isinstance(entry, tuple) and entry[0] == "infer":
                result.append(ir.Scalar("-1"))
            elif isinstance(entry, tuple):
                if not inferred:
                    result.append(ir.Scalar("-1"))
                    inferred = True
                else:
                    result.append(ir.Scalar(f"math.prod({self.vector_at(index, entry[1])})"))
            else:
                result.append(entry)
        return tuple(result)

    def output_target(self, result: str) -> tuple:
        out = self.lay.output
        core = out.core
        r_shape = None

        def r() -> str:
            nonlocal r_shape
            if r_shape is None:
                r_shape = self.lowering.emit(f"{result}_shape", ir.ShapeOf(result))
            return r_shape

        position = 0
        has_ellipsis = ELLIPSIS in core
        ell_at = core.index(ELLIPSIS) if has_ellipsis else -1

        def index_of(k: int) -> str:
            if not has_ellipsis or k < ell_at:
                return str(k)
            return str(k - len(core))

        entries: list = []
        # A group holding a broadcasting `...` has a size only the data
        # knows: it takes the one -1 of the reshape.
        ellipsis_group = next(
            (k for k, slot in enumerate(out.slots) if ELLIPSIS in slot.leaves), None
        )
        inferred = ellipsis_group is not None
        for k_slot, slot in enumerate(out.slots):
            if slot.is_variable:
                if slot.variable == ELLIPSIS:
                    after = len(core) - ell_at - 1
                    start = "" if ell_at == 0 else str(ell_at)
                    entries.append(ir.Vector(f"{r()}[{start}:{'-' + str(after) if after else ''}]"))
                else:
                    entries.append(ir.Vector(self.composite_shape(slot.variable)))
                position += 1
                continue
            width = len(slot.leaves)
            if k_slot == ellipsis_group:
                entries.append(ir.Scalar("-1"))
            elif width == 0:
                entries.append(ir.Scalar("1"))
            elif not inferred:
                entries.append(ir.Scalar("-1"))
                inferred = True
            else:
                parts = [f"{r()}[{index_of(position + k)}]" for k in range(width)]
                entries.append(ir.Scalar(" * ".join(parts)))
            position += width
        return tuple(entries)


def _plus(a: str, b: str) -> str:
    if a == "0":
        return b
    return f"{a} + {b}"
