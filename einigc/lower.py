"""Lowering: the checked model to IR functions, planning each einsum at compile time."""

from __future__ import annotations

import dataclasses

from einigc import ein_ast as A
from einigc import ir
from einigc import model as M
from einigc.errors import (
    DiagnosticSink,
    EinigError,
    InternalError,
)
from einigc.builder import Block
from einigc.checks.layout import analyse, stand_ins
from einigc.lower_grad import lower_eingrad, uses
from einigc.shape_exprs import ShapeEnv, reshape_comment
from einigc.signature import Signatures
from einigc.select import select_pair
from einigc.plan import (
    COPY_COST,
    ELLIPSIS,
    PairStep,
    Plan,
    UnaryStep,
    candidate_paths,
    copied_words,
)


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


class _FunctionLowering:
    """One function: its value dispatch, the values computed once, the notes about its plans."""

    def __init__(self, function: M.Function, all_names: set[str], source_name: str, signatures: Signatures):
        self.function = function
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
        result = self.lower_contraction(block, call.inputs, call.output, names, label, call.implicit)
        if call.func == "einany":
            result = block.emit(
                f"{result}_any", ir.GreaterThanZero(result), "einany: true where some product is true"
            )
        return result

    def lower_contraction(self, block: Block, inputs, output, names, label: str, implicit: bool = False) -> str:
        """Emits `einsum(inputs -> output)` of the tensors `names`; returns the result's name."""
        contraction = _Contraction(block, self.function, self.sizes, self.describe_plan)
        return contraction.lower(inputs, output, names, label, implicit)

    def check_axes(self, block: Block, operands, names, labels=None, discard=()) -> list[str]:
        """Checks `names` against `operands`; `labels` are the user's names for them.

        Returns the checked names; the positions in `discard` are checked only ("_").
        """
        words = [A.terms_text(op.terms) for op in operands]
        # The same tensor against the same word again adds nothing: checked once.
        same = {
            k: j
            for k in range(len(names))
            for j in reversed(range(k))
            if (names[j], words[j]) == (names[k], words[k]) and j not in discard
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
        letters = set(A.terms_text([t for op in operands for t in op.terms]))
        sizes = tuple(
            (letter, size)
            for letter, (size, source) in sorted(self.sizes.items())
            if source == "where =" and letter in letters
        )
        spec = ",".join(A.terms_text(op.terms) for op in operands)
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
            if name in block.watched():
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
        if len(pairs) < 2 and not alternatives:
            return  # one step or none: there was no order to choose
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


class _Contraction:
    """One einsum-family call being lowered: its layout, its shapes and the reshapes it made.

    Each branch of a trace-time order choice is a contraction of its own, on a
    block of its own, with a fork of the shapes read so far.
    """

    def __init__(self, block: Block, function: M.Function, sizes, describe_plan, shapes=None, reshaped=None):
        self.block = block
        self.function = function
        self.sizes = sizes
        self.describe_plan = describe_plan
        self.shapes: ShapeEnv | None = shapes
        # Names bound to a reshape: what they reshape and its runs of letters.
        self.reshaped: dict[str, tuple[str, tuple | None]] = {} if reshaped is None else reshaped

    def branch(self) -> _Contraction:
        block = self.block.branch()
        return _Contraction(
            block, self.function, self.sizes, self.describe_plan, self.shapes.fork(block), dict(self.reshaped)
        )

    def emit(self, hint: str, op: ir.Op, comment: str = "", stem: str = "") -> str:
        return self.block.emit(hint, op, comment, stem)

    def stem(self, name: str) -> str:
        return self.block.stem(name)

    @property
    def body(self) -> list[ir.Statement]:
        return self.block.statements

    def induced_beside_ellipsis(self, result: str, core: tuple, out_core: tuple) -> str:
        """An induced diagonal where `...` stays: its axes ride along as one flattened axis."""
        stand_in = next(iter(stand_ins(core)), ".")  # any name the core lacks: the helper takes any
        k = core.index(ELLIPSIS)
        after = len(core) - k - 1
        needed_by = f"{self.function.name}: the result of the contraction"
        shape = self.emit(f"{self.stem(result)}_shape", ir.ShapeOf(result, needed_by=needed_by))

        def dim(j: int) -> ir.Dim:
            return ir.Dim(shape, ir.Const(j if j < k else j - len(core)))

        ellipsis_dims = ir.Slice(shape, ir.Const(k) if k else None, ir.Const(-after) if after else None)
        flat = [dim(j) for j in range(k)] + [ir.Prod(ellipsis_dims)]
        flat += [dim(j) for j in range(k + 1, len(core))]
        flattened = self.emit(
            f"{self.stem(result)}_flat",
            ir.Reshape(result, tuple(flat)),
            "the axes of '...' as one, so that the diagonal can be placed beside them",
            stem=self.stem(result),
        )
        swap = {ELLIPSIS: stand_in}
        diag = self.emit(
            f"{self.stem(result)}_diag",
            ir.InducedDiagonal(
                flattened,
                "".join(swap.get(s, s) for s in core),
                "".join(swap.get(s, s) for s in out_core),
            ),
            "repeated output letters: place the values on that diagonal, zeros elsewhere",
            stem=self.stem(result),
        )
        back = tuple(ellipsis_dims if s == ELLIPSIS else dim(core.index(s)) for s in out_core)
        return self.emit(
            f"{self.stem(result)}_out",
            ir.Reshape(diag, back),
            "and '...' back to its own axes",
            stem=self.stem(result),
        )

    def lower(self, inputs, output, names, label: str, implicit: bool = False) -> str:
        """Emits `einsum(inputs -> output)` of the tensors `names`; returns the result's name."""
        exact = {letter for letter, (_, source) in self.sizes.items() if source == "where ="}
        lay = analyse(tuple(inputs), output, exact, reserved=set(self.sizes))
        keepdims = _keepdims_axes(lay)
        if keepdims:
            # `ij->i_`: the summed axes stay as size-1 axes, one op.
            return self.emit(f"{self.stem(names[0])}_sum", ir.ReduceSum(names[0], keepdims, keepdims=True))
        shapes = ShapeEnv(self.block, names, lay, self.sizes, self.function.name)
        core_names = []
        for index, (name, operand) in enumerate(zip(names, lay.inputs)):
            if operand.needs_reshape:
                source = name
                name = self.emit(
                    f"{name}_core",
                    ir.Reshape(name, shapes.input_target(index)),
                    reshape_comment(operand.slots, operand.core),
                    stem=self.stem(name),
                )
                if not any(slot.is_variable for slot in operand.slots):
                    self.reshaped[name] = (source, tuple(slot.leaves for slot in operand.slots))
            core_names.append(name)
        core_inputs = [operand.core for operand in lay.inputs]
        core_output = lay.output_core
        plans = candidate_paths(core_inputs, core_output, self.sizes)
        self.describe_plan(label, implicit, plans[0], core_inputs, lay.output.core, plans[1:], dict(lay.merged))
        self.shapes = shapes
        if len(plans) == 1:
            result = self.lower_plan(plans[0], core_names)
        else:
            result = self.lower_candidates(plans, core_names)
        if lay.output.core != core_output:
            if ELLIPSIS in core_output:
                result = self.induced_beside_ellipsis(result, core_output, lay.output.core)
            else:
                # passes.fold_transposes drops a transpose just before: named
                # after what that transposes.
                last = self.body[-1] if self.body else None
                stem = self.stem(result)
                if isinstance(last, ir.Assign) and last.target == result and isinstance(last.op, ir.Transpose):
                    stem = self.stem(last.op.operand)
                result = self.emit(
                    f"{stem}_diag",
                    ir.InducedDiagonal(result, _word(core_output), _word(lay.output.core)),
                    "repeated output letters: place the values on that diagonal, zeros elsewhere",
                )
        if lay.output.needs_reshape:
            result = self.emit(
                f"{result}_out",
                ir.Reshape(result, shapes.output_target(result)),
                reshape_comment(lay.output.slots, lay.output.core, output=True),
            )
        return result

    def lower_candidates(self, plans: list[Plan], names: list[str]) -> str:
        """Emits every candidate order; the static shapes pick one at trace time."""
        operands = list(names)
        for step in plans[0].steps:
            if isinstance(step, UnaryStep):
                operands[step.operand] = self.lower_unary(operands[step.operand], step)
        paired = plans[0].paired
        letters = tuple(dict.fromkeys(s for op in paired for s in op))
        size_names = tuple(self.block.fresh(f"n_{s}") for s in letters)
        size_of = dict(zip(letters, size_names))
        assumed = tuple(
            (s, size) for s, (size, source) in sorted(self.sizes.items()) if s in size_of
        )
        spec = ",".join(_word(op) for op in paired) + "->" + _word(letters)
        costs = []
        labels = []
        def product(word) -> ir.Value:
            return ir.product(ir.Name(size_of[s]) for s in dict.fromkeys(word))

        copies_counted = False
        for plan in plans:
            pairs = [step for step in plan.steps if isinstance(step, PairStep)]
            terms = [product(p.left_symbols + p.right_symbols) for p in pairs]
            copies = [word for p in pairs for word in copied_words(p.left_symbols, p.right_symbols, p.output)]
            terms += [ir.Mul((ir.Const(COPY_COST), product(word))) for word in copies]
            copies_counted = copies_counted or bool(copies)
            costs.append(ir.total(terms))
            labels.append("; ".join(f"{_word(p.left_symbols)},{_word(p.right_symbols)}" for p in pairs))
        result = self.block.fresh("_".join(self.stem(n) for n in names) if len(names) <= 3 else "result")
        bodies = []
        # Shapes read inside one branch are not there in the others; names
        # bound in one branch are free in the next (only one runs), and
        # taken after the choice.
        branches = [self.branch() for _ in plans]
        for plan, branch in zip(plans, branches):
            name = branch.lower_plan(plan, operands, pairs_only=True)
            statements = branch.block.statements
            bodies.append((*statements[:-1], _rebound(statements[-1], name, result)))
        self.block.adopt([branch.block for branch in branches])
        self.block.add(
            ir.ChooseOrder(
                spec,
                tuple(operands),
                size_names,
                assumed,
                tuple(costs),
                tuple(labels),
                tuple(bodies),
                flops_name=self.block.fresh("cost"),
                order_name=self.block.fresh("order"),
                copy_cost=COPY_COST if copies_counted else 0,
            )
        )
        self.block.stems[result] = result
        return result

    def lower_plan(self, plan: Plan, names: list[str], pairs_only: bool = False) -> str:
        operands = list(names)
        n_pairs = sum(isinstance(s, PairStep) for s in plan.steps)
        pair_index = 0
        for step in plan.steps:
            if isinstance(step, UnaryStep):
                if not pairs_only:
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
                op = select_pair(step.left_symbols, step.right_symbols, step.output, left, right)
                hint = f"{self.stem(left)}_{self.stem(right)}"
                if isinstance(op, ir.FusedMatMul):
                    name = self.fused_matmul(hint, op, comment, ir.Einsum(eq, (left, right)))
                    if name is None:
                        op = ir.Einsum(eq, (left, right))
                if not isinstance(op, ir.FusedMatMul):
                    name = self.emit(hint, op, comment)
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

    def fused_matmul(self, hint: str, op: ir.FusedMatMul, comment: str, einsum: ir.Einsum) -> str | None:
        """A matrix product of runs of axes: reshapes (no copies), MatMul, reshape back.

        Eagerly, `einsum` (the same product as one op) instead: see `select`.
        """
        if not all(self.shapes.knows_size(s) for s in op.rows + op.inner + op.cols):
            return None  # sizes the reshapes need are only known to the data
        # Above the first statement of the step (passes.attach_comments): the
        # step's comment, then the note (which goes with the graph branch).
        if comment:
            self.block.add(ir.Comment(comment))
        graph = self.branch()
        name, product_name, reads = graph.matrix_product(hint, op)
        statements = graph.block.statements
        if _eager_einsum_saves(statements[1 + reads :], einsum):
            # The shape reads go into the branch that needs them (eagerly ~2 µs
            # each): later steps read them again. Not `reshaped`: the next step
            # may not find `product_name` (the other branch).
            self.block.adopt([graph.block], free={s.target for s in statements[1 : 1 + reads]})
            self.block.stems.update(graph.block.stems)
            self.block.add(ir.EagerChoice((ir.Assign(name, einsum),), tuple(statements)))
            return name
        self.absorb(graph)
        if name != product_name:
            self.reshaped[name] = (product_name, (op.rows, op.cols))
        return name

    def matrix_product(self, hint: str, op: ir.FusedMatMul) -> tuple[str, str, int]:
        """Emits the graph form of `fused_matmul`; returns its name, the MatMul's and how many shape reads it made."""
        whole = dict(self.shapes.lay.merged)  # a group kept whole reads as the group

        def word(run) -> str:
            return "".join(whole.get(s, s) for s in run)

        note = (
            f"a matrix product: rows {word(op.rows)}, summed {word(op.inner)},"
            f" columns {word(op.cols)} (reshapes, no copies)"
        )
        self.block.add(ir.Comment(note))
        sizes = {s: self.shapes.letter_size(s) for s in op.rows + op.inner + op.cols}
        reads = len(self.block.statements) - 1

        def product(run) -> ir.Value:
            # Every entry explicit: with a -1 a size 0 elsewhere would leave it undetermined.
            return ir.product(sizes[s] for s in run)

        inner, rows, cols = product(op.inner), product(op.rows), product(op.cols)
        a_groups = (op.inner, op.rows) if op.transpose_a else (op.rows, op.inner)
        b_groups = (op.cols, op.inner) if op.transpose_b else (op.inner, op.cols)
        a = self.as_matrix(op.a, a_groups, (inner, rows) if op.transpose_a else (rows, inner))
        b = self.as_matrix(op.b, b_groups, (cols, inner) if op.transpose_b else (inner, cols))
        product_name = self.emit(
            f"{hint}_2d" if len(op.rows) + len(op.cols) > 2 else hint,
            ir.MatMul(a, b, op.transpose_a, op.transpose_b),
            stem=hint,
        )
        name = product_name
        if len(op.rows) != 1 or len(op.cols) != 1:
            shape = tuple(sizes[s] for s in op.rows + op.cols)
            name = self.emit(hint, ir.Reshape(product_name, shape), stem=hint)
        return name, product_name, reads

    def absorb(self, branch: _Contraction) -> None:
        """Takes `branch` as the way this contraction went: its statements, names, shapes read and reshapes."""
        self.block.absorb(branch.block)
        self.shapes.absorb(branch.shapes)
        self.reshaped = branch.reshaped

    def as_matrix(self, name: str, groups, shape) -> str:
        """`name` viewed as a matrix whose axes merge the letter runs `groups`."""
        if all(len(group) == 1 for group in groups):
            return name
        source, source_groups = self.reshaped.get(name, (name, None))
        if source_groups == tuple(groups):
            return source  # it already is that matrix: skip the reshape and back
        return self.emit(f"{self.stem(name)}_2d", ir.Reshape(source, shape), stem=self.stem(name))

    def lower_unary(self, name: str, step: UnaryStep) -> str:
        src, dst = step.inputs, step.output
        has_diagonal = len(set(src)) != len(src)
        if step.sum_ellipsis and src[: len(dst)] == dst[:1] and tuple(s for s in src if s != ELLIPSIS) == dst[1:]:
            return self.emit(
                f"{name}_sum", ir.SumLeading(name, len(dst) - 1), "the output has no '...': sum its axes"
            )
        if has_diagonal and ELLIPSIS not in src:
            distinct = tuple(dict.fromkeys(src))
            # Only the kept letters are gathered; summed ones stay and go next.
            result_axes = distinct if set(distinct) - set(dst) else dst
            name = self.emit(
                f"{name}_diag",
                ir.Diagonal(name, _word(src), _word(result_axes)),
                "repeated letters: gather the diagonal (no copy of the whole input)",
            )
            src = result_axes
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


def _rebound(last: ir.Statement, name: str, result: str) -> ir.Statement:
    """The step `last`, which binds `name`, binding `result` instead."""
    if isinstance(last, ir.EagerChoice):
        eager, graph = (_rebound(body[-1], name, result) for body in (last.eager, last.graph))
        return dataclasses.replace(last, eager=last.eager[:-1] + (eager,), graph=last.graph[:-1] + (graph,))
    if not (isinstance(last, ir.Assign) and last.target == name):
        raise InternalError("lower", "a candidate order ended without a step")
    return ir.Assign(result, last.op, last.comment)


def _eager_einsum_saves(graph: list, einsum: ir.Einsum) -> bool:
    """Whether one Einsum op runs fewer reshapes eagerly than the steps `graph`.

    An operand of `einsum` that `graph` does not read is a reshape the matrix
    product skipped (it reshapes the original): the Einsum op keeps it.
    """
    ops = [s.op for s in graph]
    reshapes = sum(isinstance(op, ir.Reshape) for op in ops)
    read = {op.operand for op in ops if isinstance(op, ir.Reshape)}
    read |= {name for op in ops if isinstance(op, ir.MatMul) for name in (op.a, op.b)}
    return reshapes > sum(operand not in read for operand in einsum.operands)


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
    signatures = Signatures(program)
    functions = []
    for function in program.functions:
        lowering = _FunctionLowering(function, all_names, source_name, signatures)
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


def _keepdims_axes(lay) -> tuple[int, ...]:
    """The summed axes when a one-operand spec only sums and keeps them as `_`."""
    if len(lay.inputs) != 1:
        return ()
    slots_in, slots_out = lay.inputs[0].slots, lay.output.slots
    if len(slots_in) != len(slots_out) or any(s.is_variable for s in slots_in + slots_out):
        return ()
    if any(len(s.leaves) != 1 for s in slots_in):
        return ()
    letters = [s.leaves[0] for s in slots_in]
    if len(set(letters)) != len(letters):
        return ()
    axes = []
    for k, (src, dst) in enumerate(zip(slots_in, slots_out)):
        if dst.leaves == src.leaves:
            continue
        if dst.leaves or src.leaves[0] in lay.output.core:
            return ()
        axes.append(k)
    return tuple(axes)
