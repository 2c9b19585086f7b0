"""Lowering a function: value dispatch, values computed once, axis checks, the notes on its plans."""

from __future__ import annotations

import dataclasses
from collections import Counter

from einigc import ein_ast as A
from einigc import ir
from einigc import model as M
from einigc.checks.layout import analyse, scalar_output
from einigc.model import Layout
from einigc.errors import DiagnosticSink, EinigError, InternalError
from einigc.targets import DEFAULT, TARGETS
from einigc.select import matmul_kernel
from einigc.lower.builder import Block
from einigc.lower.eingrad import lower_eingrad, uses
from einigc.signature import Signatures
from einigc.plan import ELLIPSIS, PairStep, Plan
from einigc.lower.contraction import Contraction
from einigc.lower.semiring import KIND, SemiringContraction, lowering_note


def _word(symbols) -> str:
    return "".join(symbols)


class FunctionLowering:
    """One function: its value dispatch, the values computed once, the notes about its plans."""

    def __init__(
        self, function: M.Function, all_names: set[str], source_name: str, signatures: Signatures, target: str = DEFAULT
    ):
        self.function = function
        self.target = target  # the framework: how eingrad is lowered
        self.signatures = signatures
        self.source_name = source_name
        self.block = Block.root(set(function.params) | all_names)
        # (label, entries) per planned call; a second note on one call joins the first.
        self.plan_notes: list[tuple[str, list]] = []
        # value -> (name, the tapes it was computed inside)
        self.computed: dict[M.Value, tuple[str, tuple[Block, ...]]] = {}
        self.variable_ranks: dict[str, int] = {}  # eingrad variables checked to have this rank
        self.notes: list[tuple] = []  # (pos, message, hint) for the user, not errors
        self.sizes = {
            hint.letter: (hint.size, "where =" if hint.exact else "where ~")
            for hint in function.sizes
        }

    def lower_value(self, block: Block, value: M.Value) -> str:
        if isinstance(value, M.ParamValue):
            return value.name
        # A value written twice is computed once (model values compare equal
        # without their positions); see `_reusable` for tapes.
        found = self.computed.get(value)
        if found is not None and _reusable(block, value, found[1]):
            return found[0]
        name = self.lower_new_value(block, value)
        self.computed.setdefault(value, (name, block.tapes()))
        return name

    def lower_new_value(self, block: Block, value: M.Value) -> str:
        if isinstance(value, M.DeclarationCall):
            args = tuple(self.lower_value(block, a) for a in value.args)
            return block.emit(value.callee, ir.CallFunction(value.callee, args))
        if isinstance(value, M.BuiltinCall):
            return self.lower_builtin(block, value)
        raise InternalError("lower", f"unexpected value {value!r}")

    def lower_builtin(self, block: Block, call: M.BuiltinCall) -> str:
        if call.func == "eingrad":
            return lower_eingrad(self, block, call)
        labels = [M.source_text(a) for a in call.args]
        names = self.check_axes(block, call.inputs, [self.lower_value(block, a) for a in call.args], labels)
        if call.func in ("eincount", "einany"):
            dtype = "int64" if call.func == "eincount" else "float32"
            for name in names:
                block.add(ir.RequireBool(name, self.function.name))
            suffix = "int" if dtype == "int64" else "float"
            names = [block.emit(f"{name}_{suffix}", ir.Cast(name, dtype)) for name in names]
        label = f'{call.func}("{call.spec_text}")'
        if call.func in KIND:
            return self.lower_semiring(block, call, names, label)
        # The layout checks resolved: lowering raises no user error.
        result = self.lower_contraction(block, call.layout, names, label, call.implicit)
        if call.func == "einany":
            result = block.emit(
                f"{result}_any", ir.GreaterThanZero(result), "einany: true where some product is true"
            )
        return result

    def lower_contraction(self, block: Block, layout: Layout, names, label: str, implicit: bool = False) -> str:
        """Emits the einsum of the tensors `names` laid out by `layout`; returns the result's name."""
        kernel = matmul_kernel(self.target)  # what the framework's matrix product takes (select)
        contraction = Contraction(block, self.function, self.sizes, self.describe_plan, kernel=kernel)
        return contraction.lower(layout, names, label, implicit)

    def lower_semiring(self, block: Block, call: M.BuiltinCall, names, label: str) -> str:
        """einmax, einmin, einlogsumexp: floating operands, einsum's plan with other steps."""
        for name in dict.fromkeys(names):
            block.add(ir.RequireFloating(name, self.function.name, call.func))
        kind = KIND[call.func]
        contraction = SemiringContraction(kind, block, self.function, self.sizes, self.describe_plan)
        result = contraction.lower(call.layout, names, label, call.implicit)
        if contraction.pairs:
            self.add_plan_note(label, [lowering_note(kind)])
        return result

    def derived_layout(self, inputs, output=None) -> Layout:
        """The layout of a spec eingrad derives from the user's (a subset of its operands; no output: a scalar).

        The user's spec and its Jacobian form were resolved by checks; a
        subset of their operands resolves too, so an error here is ours.
        """
        exact = {letter for letter, (_, source) in self.sizes.items() if source == "where ="}
        output = scalar_output(inputs) if output is None else output
        try:
            return analyse(tuple(inputs), output, exact, reserved=set(self.sizes))
        except EinigError as err:
            raise InternalError("lower", f"a derived spec did not resolve: {err}") from err

    def check_axes(self, block: Block, operands, names, labels=None, discard=()) -> list[str]:
        """Checks `names` against `operands`; `labels` are the user's names for them.

        Returns the checked names; the positions in `discard` are checked only ("_").
        """
        # An operand as the spec writes it, or as letters (a spec eingrad derived).
        words = [op if isinstance(op, str) else A.terms_text(op.terms) for op in operands]
        # The same tensor against the same word again adds nothing, nor against a word that
        # differs only in letters nothing else holds (x as ij and as kj in `ij,kj`): checked once.
        same = {
            k: j
            for k in range(len(names))
            for j in reversed(range(k))
            if names[j] == names[k] and j not in discard and self._adds_nothing(words, j, k)
        }
        if same:
            kept = [k for k in range(len(names)) if k not in same]
            checked = self.check_axes(
                block,
                [operands[k] for k in kept],
                [names[k] for k in kept],
                [labels[k] for k in kept] if labels else None,
                [kept.index(k) for k in discard if k in kept],
            )
            by_position = dict(zip(kept, checked))
            return [
                "_" if k in discard else by_position[same.get(k, k)] for k in range(len(names))
            ]
        letters = set("".join(words))
        sizes = tuple(
            (letter, size)
            for letter, (size, source) in sorted(self.sizes.items())
            if source == "where =" and letter in letters
        )
        spec = ",".join(words)
        # Parameters are rebound to their checked selves, except a variable a
        # tape watches: it must keep its name, so inside that tape its checked
        # self gets a name of its own.
        # A tensor given twice is checked twice and stays one tensor, one name.
        targets: list[str] = []
        checked: list[str] = []
        for k, name in enumerate(names):
            first = names.index(name)
            if k in discard or first < k and checked[first] != "_":
                targets.append("_")
                checked.append("_" if k in discard else checked[first])
                continue
            if name in block.watched() or block.closes_over(name):
                targets.append(block.fresh(f"{block.stem(name)}_checked"))
            else:
                targets.append(name)
            checked.append(targets[-1])
            block.stems[targets[-1]] = block.stem(name)
        labels = tuple(labels or names)
        block.add(
            ir.CheckAxes(
                self.function.name, spec, tuple(names), sizes, tuple(targets), labels if labels != tuple(names) else ()
            )
        )
        return checked

    def _adds_nothing(self, words: list[str], j: int, k: int) -> bool:
        """Whether a tensor checked against `words[j]` needs no check against `words[k]` too."""
        if words[j] == words[k]:
            return True
        plain = all(w.isalpha() and w.islower() for w in (words[j], words[k]))
        if not plain or len(words[j]) != len(words[k]):
            return False
        counts = Counter("".join(words))
        return all(
            a == b or (counts[b] == 1 and b not in self.sizes) for a, b in zip(words[j], words[k])
        )

    def add_plan_note(self, label: str, entries: list) -> None:
        """Adds docstring entries (ir.PathInfo, ir.LoweringChoice) about `label`,
        under the note already there for it if any."""
        if any(note == label and all(e in said for e in entries) for note, said in self.plan_notes):
            return  # the same call planned again (under a tape): said already
        if self.plan_notes and self.plan_notes[-1][0] == label:
            self.plan_notes[-1][1].extend(entries)
        else:
            self.plan_notes.append((label, list(entries)))

    def describe_plan(
        self, label: str, implicit: bool, plan: Plan, inputs, output, alternatives=(), merged=None
    ) -> None:
        pairs = [s for s in plan.steps if isinstance(s, PairStep)]
        shown = {ELLIPSIS: "...", **(merged or {})}
        info = ir.PathInfo(
            spec=",".join(_word(i) for i in inputs) + "->" + _word(output),
            implicit=implicit,
            groups=tuple(sorted((merged or {}).items())),
            order=_pair_equations(plan) if len(pairs) > 1 else (),
            strategy=plan.strategy,
            planned_flops=plan.planned_flops,
            naive_flops=plan.naive_flops,
            largest_intermediate=plan.largest_intermediate,
            sizes=tuple((shown.get(s, s), size, src) for s, size, src in plan.sizes),
            alternatives=tuple(_pair_equations(other) for other in alternatives),
        )
        self.add_plan_note(label, [info])

    def run(self) -> ir.Function:
        result = self.lower_value(self.block, self.function.body)
        # No line number in the docstring: adding a line above must not change this function.
        doc = ir.FunctionDoc(
            self.function.doc,
            self.source_name,
            self.function.source_line,
            tuple(self.signatures.docstring_lines(self.function.name)),
            tuple(ir.PlanNote(label, tuple(entries)) for label, entries in self.plan_notes),
        )
        return ir.Function(
            self.function.name,
            self.function.params,
            doc,
            (*self.block.statements, ir.Return(ir.Name(result))),
            _builds_jacobian(self.block.statements),
            self.signatures.hints(self.function.name),
        )


def _reusable(block: Block, value: M.Value, tapes: tuple[Block, ...]) -> bool:
    """Whether `value`, computed inside `tapes`, may be reused in `block`.

    A tape entered since then watches its variable: a value that uses
    that variable must be computed again under it, or the tape would not
    see how it depends on the variable.
    """
    return not any(tape not in tapes and uses(value, tape.watch) for tape in block.tapes())


def _pair_equations(plan: Plan) -> tuple[str, ...]:
    return tuple(
        f"{_word(s.left_symbols)},{_word(s.right_symbols)}->{_word(s.output)}"
        for s in plan.steps
        if isinstance(s, PairStep)
    )


def _called_parameters(functions) -> dict[str, set[int]]:
    """function -> positions of the parameters it calls, itself or through the functions it calls."""
    called = {f.name: set() for f in functions}

    def calls(statements):
        for statement in statements:
            if isinstance(statement, ir.Tape):
                yield from calls(statement.body)
            elif isinstance(statement, ir.ChooseOrder):
                for body in statement.bodies:
                    yield from calls(body)
            elif isinstance(statement, ir.Assign) and isinstance(statement.op, ir.CallFunction):
                yield statement.op

    changed = True
    while changed:
        changed = False
        for f in functions:
            for call in calls(f.body):
                found = set()
                if call.function in f.params:
                    found.add(f.params.index(call.function))
                for k in called.get(call.function, ()):
                    if k < len(call.args) and call.args[k] in f.params:
                        found.add(f.params.index(call.args[k]))
                if not found <= called[f.name]:
                    called[f.name] |= found
                    changed = True
    return called


def lower(
    program: M.Program, source_name: str, sink: DiagnosticSink | None = None, target: str = DEFAULT
) -> ir.Module:
    """Lowers every function for `target`; layout errors of all functions are reported together."""
    sink = sink or DiagnosticSink()
    all_names = {f.name for f in program.functions}
    signatures = Signatures(program, TARGETS[target].count_dtype)
    functions = []
    for function in program.functions:
        lowering = FunctionLowering(function, all_names, source_name, signatures, target)
        try:
            functions.append(lowering.run())
        except EinigError as err:
            sink.error(err)
        for pos, message, hint in lowering.notes:
            sink.note(pos, message, hint)
    sink.raise_if_errors()
    # A trace would keep what a callable read when traced: only functions
    # that take no callable may run as a tf.function when called eagerly.
    called = _called_parameters(functions)
    functions = [
        dataclasses.replace(f, trace_when_eager=False) if f.trace_when_eager and called[f.name] else f
        for f in functions
    ]
    return ir.Module(source_name, program.docstring, tuple(functions))


def _builds_jacobian(statements) -> bool:
    for statement in statements:
        if isinstance(statement, ir.Tape) and _builds_jacobian(statement.body):
            return True
        if isinstance(statement, ir.Assign) and isinstance(statement.op, ir.Jacobian):
            return True
    return False
