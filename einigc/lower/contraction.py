"""One einsum-family call lowered: core-axis reshapes, pair and unary steps, candidates (matrix products: matrix_products)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Callable

from einigc import ir
from einigc import model as M
from einigc.errors import InternalError
from einigc.lower.builder import Block
from einigc.lower.matrix_products import MatrixProducts
from einigc.checks.layout import stand_ins
from einigc.model import Layout
from einigc.lower.shapes import ShapeEnv, reshape_comment
from einigc.select import TENSORFLOW, MatmulKernel, select_pair
from einigc.plan import (
    COPY_COST,
    ELLIPSIS,
    PairStep,
    Plan,
    UnaryStep,
    candidate_paths,
    copied_words,
)


class Contraction(MatrixProducts):
    """One einsum-family call being lowered: its layout, its shapes and the reshapes it made.

    Each branch of a trace-time order choice is a contraction of its own, on a
    block of its own, with a fork of the shapes read so far.
    """

    def __init__(
        self,
        block: Block,
        function: M.Function,
        sizes: dict[str, tuple[int, str]],
        describe_plan: Callable[..., None],  # the function's record of the plans it chose
        shapes: ShapeEnv | None = None,
        reshaped: dict[str, tuple[str, tuple | None]] | None = None,
        kernel: MatmulKernel = TENSORFLOW,  # what the target's matrix product takes
    ):
        self.block = block
        self.function = function
        self.sizes = sizes
        self.describe_plan = describe_plan
        self.shapes: ShapeEnv | None = shapes
        # Names bound to a reshape: what they reshape and its runs of letters.
        self.reshaped: dict[str, tuple[str, tuple | None]] = {} if reshaped is None else reshaped
        self.kernel = kernel
        self.graph_only = False  # lowering a branch that runs only while tracing: no eager choices

    def branch(self) -> Contraction:
        # A copy keeps the kind of contraction (a subclass: another semiring) and its settings.
        branch = copy.copy(self)
        branch.block = self.block.branch()
        branch.shapes = self.shapes.fork(branch.block) if self.shapes is not None else None
        branch.reshaped = dict(self.reshaped)
        return branch

    def lower(self, lay: Layout, names, label: str, implicit: bool = False) -> str:
        """Emits the einsum whose resolved layout is `lay`, of the tensors `names`; returns the result's name."""
        keepdims = _keepdims_axes(lay)
        if keepdims:
            # `ij->i_`: the summed axes stay as size-1 axes, one op.
            return self.reduce_keepdims(names[0], keepdims)
        spec = None if self.graph_only else _spec_of_runs(lay)
        if spec is not None:
            return self.eager_einsum_of_runs(spec, lay, names, label, implicit)
        return self.lower_core(lay, names, label, implicit)

    def eager_einsum_of_runs(self, spec: str, lay: Layout, names, label: str, implicit: bool) -> str:
        """Composites: eagerly one Einsum op (equation spelled at call time), else reshapes to the core.

        Measured eagerly (bench/results/eager_reshape.md): `Ij,jK->IK` and
        `bIj,jK->bIK` ran at 0.80-0.99x tf.einsum this way, 1.2-5.8x with the
        reshapes; under tf.function the reshapes stay (0.62-0.93x).
        """
        graph = self.branch()
        graph.graph_only = True
        result = graph.lower_core(lay, names, label, implicit)
        self.block.adopt([graph.block])
        self.block.stems.update(graph.block.stems)
        eager = (ir.Assign(result, ir.EinsumOfRuns(spec, tuple(names))),)
        self.block.add(ir.EagerChoice(eager, tuple(graph.block.statements)))
        return result

    def lower_core(self, lay: Layout, names, label: str, implicit: bool = False) -> str:
        """The einsum as reshapes to its core axes, the planned core product, and the layout of the result."""
        shapes = ShapeEnv(self.block, names, lay, self.sizes, self.function.name)
        core_names = []
        for index, (name, operand) in enumerate(zip(names, lay.inputs)):
            if operand.needs_reshape:
                source = name
                name = self.block.emit(
                    f"{name}_core",
                    ir.Reshape(name, shapes.input_target(index)),
                    reshape_comment(operand.slots, operand.core),
                    stem=self.block.stem(name),
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
                result = induced_beside_ellipsis(
                    self.block, self.function.name, result, core_output, lay.output.core, self.induced_diagonal
                )
            else:
                # passes.fold_transposes drops a transpose just before: named
                # after what that transposes.
                last = self.block.statements[-1] if self.block.statements else None
                stem = self.block.stem(result)
                if isinstance(last, ir.Assign) and last.target == result and isinstance(last.op, ir.Transpose):
                    stem = self.block.stem(last.op.operand)
                result = self.block.emit(
                    f"{stem}_diag",
                    *self.induced_diagonal(result, _word(core_output), _word(lay.output.core)),
                )
        if lay.output.needs_reshape:
            result = self.block.emit(
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
                operands[step.operand] = self.unary(operands[step.operand], step)
        paired = plans[0].paired
        letters = tuple(dict.fromkeys(s for op in paired for s in op))
        size_names = tuple(self.block.fresh(f"n_{s}") for s in letters)
        size_of = dict(zip(letters, size_names))
        assumed = tuple((s, size) for s, (size, source) in sorted(self.sizes.items()) if s in size_of)
        spec = ",".join(_word(op) for op in paired) + "->" + _word(letters)
        costs, labels, copies_counted = _order_costs(plans, size_of)
        result = self.block.fresh("_".join(self.block.stem(n) for n in names) if len(names) <= 3 else "result")
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
                costs,
                labels,
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
                    operands[step.operand] = self.unary(operands[step.operand], step)
            else:
                pair_index += 1
                left, right = operands[step.left], operands[step.right]
                contracted = sorted(set(step.left_symbols + step.right_symbols) - set(step.output) - {ELLIPSIS})
                eq = f"{_word(step.left_symbols)},{_word(step.right_symbols)}->{_word(step.output)}"
                if n_pairs > 1:
                    what = self.reduces(contracted)
                    comment = f"step {pair_index} of {n_pairs} of the planned order: {what}"
                else:
                    comment = ""
                name = self.pair(step, left, right, eq, comment)
                if step.sum_ellipsis:
                    name = self.sum_leading(name, len(step.output) - 1)
                rest = [op for k, op in enumerate(operands) if k not in (step.left, step.right)]
                operands = rest + [name]
        if len(operands) != 1:
            raise InternalError("lower", "plan left more than one operand")
        return operands[0]

    # --- the steps a contraction in another semiring emits otherwise --------

    def pair(self, step: PairStep, left: str, right: str, eq: str, comment: str) -> str:
        """Emits one planned pair (`eq`) of `left` and `right`; returns the result's name."""
        op = select_pair(step.left_symbols, step.right_symbols, step.output, left, right, self.kernel)
        hint = f"{self.block.stem(left)}_{self.block.stem(right)}"
        if isinstance(op, ir.FusedMatMul):
            name = self.fused_matmul(hint, op, comment, ir.Einsum(eq, (left, right)))
            if name is not None:
                return name
            op = ir.Einsum(eq, (left, right))
        return self.block.emit(hint, op, comment)

    def reduces(self, contracted) -> str:
        """What a pair step does with its `contracted` letters, for its comment."""
        return f"sums {', '.join(contracted)}" if contracted else "outer product"

    def unary(self, name: str, step: UnaryStep) -> str:
        return lower_unary(self.block, name, step)

    def sum_leading(self, name: str, keep: int) -> str:
        return self.block.emit(f"{name}_sum", ir.SumLeading(name, keep), "the output has no '...': sum its axes")

    def reduce_keepdims(self, name: str, axes: tuple[int, ...]) -> str:
        return self.block.emit(f"{self.block.stem(name)}_sum", ir.ReduceSum(name, axes, keepdims=True))

    def induced_diagonal(self, name: str, axes: str, result_axes: str) -> tuple[ir.Op, str]:
        """The op that places `name` on the diagonal of `result_axes`, and its comment."""
        return (
            ir.InducedDiagonal(name, axes, result_axes),
            "repeated output letters: place the values on that diagonal, zeros elsewhere",
        )

    def absorb(self, branch: Contraction) -> None:
        """Takes `branch` as the way this contraction went: its statements, names, shapes read and reshapes."""
        self.block.absorb(branch.block)
        self.shapes.absorb(branch.shapes)
        self.reshaped = branch.reshaped


def lower_unary(block: Block, name: str, step: UnaryStep) -> str:
    src, dst = step.inputs, step.output
    has_diagonal = len(set(src)) != len(src)
    if step.sum_ellipsis and src[: len(dst)] == dst[:1] and tuple(s for s in src if s != ELLIPSIS) == dst[1:]:
        return block.emit(f"{name}_sum", ir.SumLeading(name, len(dst) - 1), "the output has no '...': sum its axes")
    if has_diagonal and ELLIPSIS not in src:
        distinct = tuple(dict.fromkeys(src))
        # Only the kept letters are gathered; summed ones stay and go next.
        result_axes = distinct if set(distinct) - set(dst) else dst
        if _last_two_repeat(src) and result_axes == src[:-1]:
            name = block.emit(f"{name}_diag", ir.DiagPart(name), "repeated letters: the diagonal of the last two axes")
        else:
            name = block.emit(
                f"{name}_diag",
                ir.Diagonal(name, _word(src), _word(result_axes)),
                "repeated letters: gather the diagonal (no copy of the whole input)",
            )
        src = result_axes
    if has_diagonal and ELLIPSIS in src:
        name = block.emit(
            f"{name}_diag",
            ir.Einsum(f"{_word(src)}->{_word(dst)}", (name,)),
            "repeated letters: take the diagonal",
        )
    elif src == dst:
        pass
    elif all(s in src for s in dst) and [s for s in src if s in dst] == list(dst):
        axes = tuple(_axis_index(src, s) for s in src if s not in dst)
        name = block.emit(f"{name}_sum", ir.ReduceSum(name, axes))
    elif set(src) == set(dst) and ELLIPSIS not in src:
        perm = tuple(src.index(s) for s in dst)
        name = block.emit(f"{name}_t", ir.Transpose(name, perm))
    else:
        name = block.emit(
            f"{name}_{_word(s for s in dst if s != ELLIPSIS) or 'r'}", ir.Einsum(f"{_word(src)}->{_word(dst)}", (name,))
        )
    if step.sum_ellipsis:
        name = block.emit(f"{name}_sum", ir.SumLeading(name, len(dst) - 1), "the output has no '...': sum its axes")
    return name


def _last_two_repeat(src) -> bool:
    """`...ii`: one letter as the last two axes, and nowhere else (tf.linalg.diag_part's case).

    Eagerly (64x64 and 8x64x64, float32) 16 µs against 28 µs for the gather
    and 26 µs for tf.einsum: one op, no index to build.
    """
    return len(src) >= 2 and src[-1] == src[-2] and src[-1] not in src[:-2]


def induced_beside_ellipsis(
    block: Block, function_name: str, result: str, core: tuple, out_core: tuple, induced_diagonal
) -> str:
    """An induced diagonal where `...` stays: its axes ride along as one flattened axis."""
    stand_in = next(iter(stand_ins(core)), ".")  # any name the core lacks: the helper takes any
    k = core.index(ELLIPSIS)
    after = len(core) - k - 1
    needed_by = f"{function_name}: the result of the contraction"
    shape = block.emit(f"{block.stem(result)}_shape", ir.ShapeOf(result, needed_by=needed_by))

    def dim(j: int) -> ir.Dim:
        return ir.Dim(shape, ir.Const(j if j < k else j - len(core)))

    ellipsis_dims = ir.Slice(shape, ir.Const(k) if k else None, ir.Const(-after) if after else None)
    flat = [dim(j) for j in range(k)] + [ir.Prod(ellipsis_dims)]
    flat += [dim(j) for j in range(k + 1, len(core))]
    flattened = block.emit(
        f"{block.stem(result)}_flat",
        ir.Reshape(result, tuple(flat)),
        "the axes of '...' as one, so that the diagonal can be placed beside them",
        stem=block.stem(result),
    )
    swap = {ELLIPSIS: stand_in}
    diag = block.emit(
        f"{block.stem(result)}_diag",
        *induced_diagonal(
            flattened,
            "".join(swap.get(s, s) for s in core),
            "".join(swap.get(s, s) for s in out_core),
        ),
        stem=block.stem(result),
    )
    back = tuple(ellipsis_dims if s == ELLIPSIS else dim(core.index(s)) for s in out_core)
    return block.emit(
        f"{block.stem(result)}_out",
        ir.Reshape(diag, back),
        "and '...' back to its own axes",
        stem=block.stem(result),
    )


def _axis_index(symbols, symbol) -> int:
    """The axis of `symbol`, counted from the end when it comes after `...`."""
    i = symbols.index(symbol)
    if ELLIPSIS in symbols and i > symbols.index(ELLIPSIS):
        return i - len(symbols)
    return i


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


def _rebound(last: ir.Statement, name: str, result: str) -> ir.Statement:
    """The step `last`, which binds `name`, binding `result` instead."""
    if isinstance(last, ir.EagerChoice):
        eager, graph = (_rebound(body[-1], name, result) for body in (last.eager, last.graph))
        return dataclasses.replace(last, eager=last.eager[:-1] + (eager,), graph=last.graph[:-1] + (graph,))
    if not (isinstance(last, ir.Assign) and last.target == name):
        raise InternalError("lower", "a candidate order ended without a step")
    return ir.Assign(result, last.op, last.comment)


def _spec_of_runs(lay: Layout) -> str | None:
    """The spec as one Einsum op takes it once composites are spelled out, if
    that op computes the whole call: at most two operands, something to
    reshape, and only letters, composites and `...` (no group, `_`, `()`),
    no letter repeated (no diagonal)."""
    operands = (*lay.inputs, lay.output)
    if len(lay.inputs) > 2 or not any(op.needs_reshape for op in operands):
        return None
    words = []
    for op in operands:
        # A group, even of one (`(...)` flattens its axes), is no einsum term.
        if any(slot.text or not slot.variable and len(slot.leaves) != 1 for slot in op.slots):
            return None
        word = [slot.variable or slot.leaves[0] for slot in op.slots]
        if len(set(word)) != len(word):
            return None
        words.append("".join(word))
    return ",".join(words[:-1]) + "->" + words[-1]


def _word(symbols) -> str:
    return "".join(symbols)


def _order_costs(plans: list[Plan], size_of: dict[str, str]) -> tuple[tuple, tuple[str, ...], bool]:
    """Each order's cost in the sizes read at trace time (`size_of`), its label, and whether copies count."""
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
    return tuple(costs), tuple(labels), copies_counted
