"""Lowering: the checked model to IR functions, planning each einsum at compile time."""

from __future__ import annotations

import builtins
import keyword

from einigc import ein_ast as A
from einigc import ir
from einigc import model as M
from einigc.errors import (
    DiagnosticSink,
    EinAxisError,
    EinigError,
    EinUnsupportedError,
    InternalError,
)
from einigc.layout import Layout, Slot, analyse
from einigc.plan import DEFAULT_SIZE, ELLIPSIS, PairStep, Plan, UnaryStep, plan_contraction

_MAX_NAME = 24


class Namer:
    """Hands out readable, unique, deterministic names for intermediates."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken) | {"tf"} | set(dir(builtins)) | set(keyword.kwlist)

    def fresh(self, hint: str) -> str:
        base = hint if hint.isidentifier() and len(hint) <= _MAX_NAME else "t"
        if base not in self.taken:
            self.taken.add(base)
            return base
        n = 1
        while f"{base}_{n}" in self.taken:
            n += 1
        name = f"{base}_{n}"
        self.taken.add(name)
        return name


def core_symbols(operand: A.Operand) -> tuple[str, ...]:
    symbols = []
    for term in operand.terms:
        if isinstance(term, A.Axis):
            symbols.append(term.letter)
        elif isinstance(term, A.Ellipsis_):
            symbols.append(ELLIPSIS)
        else:
            raise InternalError("lower", f"unexpected term {term!r}")
    return tuple(symbols)


def _word(symbols) -> str:
    return "".join(symbols)


def _fmt_count(n: int) -> str:
    return f"{n:,}"


class _FunctionLowering:
    def __init__(self, function: M.Function, all_names: set[str], source_name: str):
        self.function = function
        self.source_name = source_name
        self.namer = Namer(set(function.params) | all_names)
        self.body: list[ir.Statement] = []
        self.plan_notes: list[str] = []
        self.sizes = {
            hint.letter: (hint.size, "where =" if hint.exact else "where ~")
            for hint in function.sizes
        }

    def emit(self, hint: str, op: ir.Op, comment: str = "") -> str:
        name = self.namer.fresh(hint)
        self.body.append(ir.Assign(name, op, comment))
        return name

    def lower_value(self, value: M.Value) -> str:
        if isinstance(value, M.ParamValue):
            return value.name
        if isinstance(value, M.DeclarationCall):
            args = tuple(self.lower_value(a) for a in value.args)
            return self.emit(value.callee, ir.CallFunction(value.callee, args))
        if isinstance(value, M.BuiltinCall):
            return self.lower_builtin(value)
        raise InternalError("lower", f"unexpected value {value!r}")

    def lower_builtin(self, call: M.BuiltinCall) -> str:
        names = [self.lower_value(a) for a in call.args]
        lay = analyse(call.inputs, call.output)
        if call.func in ("eincount", "einany"):
            dtype = "int64" if call.func == "eincount" else "float32"
            for name in names:
                self.body.append(ir.RequireBool(name, self.function.name))
            suffix = "int" if dtype == "int64" else "float"
            names = [self.emit(f"{name}_{suffix}", ir.Cast(name, dtype)) for name in names]
        shapes = _ShapeEnv(self, names, lay, self.sizes)
        core_names = []
        for index, (name, operand) in enumerate(zip(names, lay.inputs)):
            if operand.needs_reshape:
                name = self.emit(
                    f"{name}_core",
                    ir.Reshape(name, shapes.input_target(index)),
                    _reshape_comment(operand.slots, operand.core),
                )
            core_names.append(name)
        inputs = [operand.core for operand in lay.inputs]
        output = lay.output_core
        plan = plan_contraction(inputs, output, self.sizes)
        self.describe_plan(call, plan, inputs, lay.output.core)
        result = self.lower_plan(plan, core_names, inputs, output)
        if lay.output.core != output:
            if ELLIPSIS in output:
                raise EinUnsupportedError(
                    call.output.pos, "repeated output letters beside a broadcasting '...' are not supported"
                )
            result = self.emit(
                f"{result}_diag",
                ir.InducedDiagonal(result, _word(output), _word(lay.output.core)),
                "repeated output letters: place the values on that diagonal, zeros elsewhere",
            )
        if lay.output.needs_reshape:
            result = self.emit(
                f"{result}_out",
                ir.Reshape(result, shapes.output_target(result)),
                _reshape_comment(lay.output.slots, lay.output.core, output=True),
            )
        if call.func == "einany":
            result = self.emit(
                f"{result}_any", ir.GreaterThanZero(result), "einany: true where some product is true"
            )
        return result

    def lower_plan(self, plan: Plan, names: list[str], inputs, output) -> str:
        operands = list(names)
        n_pairs = sum(isinstance(s, PairStep) for s in plan.steps)
        pair_index = 0
        for step in plan.steps:
            if isinstance(step, UnaryStep):
                operands[step.operand] = self.lower_unary(operands[step.operand], step)
            else:
                pair_index += 1
                left, right = operands[step.left], operands[step.right]
                contracted = sorted(
                    set(step.left_symbols + step.right_symbols) - set(step.output) - {ELLIPSIS}
                )
                eq = f"{_word(step.left_symbols)},{_word(step.right_symbols)}->{_word(step.output)}"
                if n_pairs > 1:
                    what = f"sums {', '.join(contracted)}" if contracted else "outer product"
                    comment = f"step {pair_index} of {n_pairs} of the planned order: {what}"
                else:
                    comment = ""
                name = self.emit(f"{left}_{right}", ir.Einsum(eq, (left, right)), comment)
                if step.sum_ellipsis:
                    name = self.emit(
                        f"{name}_sum",
                        ir.SumLeading(name, len(step.output) - 1),
                        "the output has no '...': sum its axes",
                    )
                rest = [op for k, op in enumerate(operands) if k not in (step.left, step.right)]
                operands = rest + [name]
        if len(operands) != 1:
            raise InternalError("lower", "plan left more than one operand")
        return operands[0]

    def lower_unary(self, name: str, step: UnaryStep) -> str:
        src, dst = step.inputs, step.output
        has_diagonal = len(set(src)) != len(src)
        if step.sum_ellipsis and src[: len(dst)] == dst[:1] and tuple(s for s in src if s != ELLIPSIS) == dst[1:]:
            return self.emit(
                f"{name}_sum", ir.SumLeading(name, len(dst) - 1), "the output has no '...': sum its axes"
            )
        if has_diagonal and ELLIPSIS not in src:
            distinct = tuple(dict.fromkeys(src))
            keep_order = tuple(s for s in distinct if s in dst)
            # Only the kept letters are gathered; summed ones stay and go next.
            result_axes = distinct if set(distinct) - set(dst) else dst
            name = self.emit(
                f"{name}_diag",
                ir.Diagonal(name, _word(src), _word(result_axes)),
                "repeated letters: gather the diagonal (no copy of the whole input)",
            )
            src = result_axes
            del keep_order
        if has_diagonal and ELLIPSIS in src:
            name = self.emit(
                f"{name}_diag",
                ir.Einsum(f"{_word(src)}->{_word(dst)}", (name,)),
                "repeated letters: take the diagonal",
            )
        elif src == dst:
            pass
        elif all(s in src for s in dst) and [s for s in src if s in dst] == list(dst):
            axes = tuple(_axis_index(src, s) for s in src if s not in dst)
            name = self.emit(f"{name}_sum", ir.ReduceSum(name, axes))
        elif set(src) == set(dst) and ELLIPSIS not in src:
            perm = tuple(src.index(s) for s in dst)
            name = self.emit(f"{name}_t", ir.Transpose(name, perm))
        else:
            name = self.emit(f"{name}_{_word(s for s in dst if s != ELLIPSIS) or 'r'}", ir.Einsum(f"{_word(src)}->{_word(dst)}", (name,)))
        if step.sum_ellipsis:
            name = self.emit(
                f"{name}_sum", ir.SumLeading(name, len(dst) - 1), "the output has no '...': sum its axes"
            )
        return name

    def describe_plan(self, call: M.BuiltinCall, plan: Plan, inputs, output) -> None:
        spec = ",".join(_word(i) for i in inputs) + "->" + _word(output)
        lines = [f'{call.func}("{call.spec_text}")' + (f"  (implicit output: {spec})" if call.implicit else "")]
        pairs = [s for s in plan.steps if isinstance(s, PairStep)]
        if len(pairs) > 1:
            order = "; ".join(
                f"{_word(s.left_symbols)},{_word(s.right_symbols)}->{_word(s.output)}" for s in pairs
            )
            lines.append(f"  order (opt_einsum {plan.strategy}): {order}")
        lines.append(
            f"  FLOPs: {_fmt_count(plan.planned_flops)} planned, {_fmt_count(plan.naive_flops)} naive;"
            f" largest intermediate: {_fmt_count(plan.largest_intermediate)} element(s)"
        )
        sizes = ", ".join(
            f"{'...' if s == ELLIPSIS else s}={size}{'' if src != 'default' else '*'}"
            for s, size, src in plan.sizes
        )
        lines.append(f"  sizes assumed: {sizes}")
        if any(src == "default" for _, _, src in plan.sizes):
            lines.append(f"  (* no `where` size: the default {DEFAULT_SIZE})")
        self.plan_notes.append("\n".join(lines))

    def run(self) -> ir.Function:
        result = self.lower_value(self.function.body)
        doc = []
        if self.function.doc:
            doc.append(self.function.doc)
            doc.append("")
        doc.append(f"Source: {self.source_name}:{self.function.pos.line}: {self.function.source_line}")
        if self.plan_notes:
            doc.append("")
            doc.append("Plan:")
            for note in self.plan_notes:
                doc.append(note)
        return ir.Function(
            self.function.name,
            self.function.params,
            "\n".join(doc),
            tuple(self.body),
            result,
        )


def _axis_index(symbols, symbol) -> int:
    """The axis of `symbol`, counted from the end when it comes after `...`."""
    i = symbols.index(symbol)
    if ELLIPSIS in symbols and i > symbols.index(ELLIPSIS):
        return i - len(symbols)
    return i


def lower(program: M.Program, source_name: str, sink: DiagnosticSink | None = None) -> ir.Module:
    """Lowers every function; layout errors of all functions are reported together."""
    sink = sink or DiagnosticSink()
    all_names = {f.name for f in program.functions}
    functions = []
    for function in program.functions:
        try:
            functions.append(_FunctionLowering(function, all_names, source_name).run())
        except EinigError as err:
            sink.error(err)
    sink.raise_if_errors()
    return ir.Module(source_name, program.docstring, tuple(functions))


def _describe_slot(slot: Slot) -> str:
    if slot.is_variable:
        return slot.variable
    if len(slot.leaves) == 1:
        return slot.leaves[0]
    if not slot.leaves:
        return "_"
    return "(" + "".join(slot.leaves) + ")"


def _reshape_comment(slots, core, output: bool = False) -> str:
    layout = "".join(_describe_slot(s) for s in slots)
    if output:
        return f"lay the result out as {layout}"
    return f"{layout} as core axes {_word(core) or 'scalar'}: one reshape, no copy"


class _ShapeEnv:
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
            return f"tf.reduce_prod({self.composite_shape(letter)})"
        for index, operand in enumerate(self.lay.inputs):
            if index == exclude:
                continue
            variables = [s for s in operand.slots if s.is_variable]
            for j, slot in enumerate(operand.slots):
                if slot.variable == letter and len(variables) == 1:
                    return f"tf.reduce_prod({self.vector_at(index, j)})"
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
                    result.append(ir.Scalar(f"tf.reduce_prod({self.vector_at(index, entry[1])})"))
            else:
                result.append(entry)
        return tuple(result)

    def output_target(self, result: str) -> tuple:
        out = self.lay.output
        core = out.core
        r_shape = None

        def r(k_from: int) -> str:
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
        inferred = False
        for slot in out.slots:
            if slot.is_variable:
                if slot.variable == ELLIPSIS:
                    after = len(core) - ell_at - 1
                    start = "" if ell_at == 0 else str(ell_at)
                    entries.append(ir.Vector(f"{r(0)}[{start}:{'-' + str(after) if after else ''}]"))
                else:
                    entries.append(ir.Vector(self.composite_shape(slot.variable)))
                position += 1
                continue
            width = len(slot.leaves)
            if width == 0:
                entries.append(ir.Scalar("1"))
            elif not inferred:
                entries.append(ir.Scalar("-1"))
                inferred = True
            else:
                parts = [f"{r(0)}[{index_of(position + k)}]" for k in range(width)]
                entries.append(ir.Scalar(" * ".join(parts)))
            position += width
        return tuple(entries)


def _plus(a: str, b: str) -> str:
    if a == "0":
        return b
    return f"{a} + {b}"
