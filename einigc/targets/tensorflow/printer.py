"""The TensorFlow printer: IR ops as TensorFlow calls, eager choices, gradient tapes."""

from __future__ import annotations

from einigc import ir
from einigc.targets.printing import Printer, axis_list


class TensorFlowPrinter(Printer):
    tensor_hint = "tf.Tensor"

    def _print_Einsum(self, op: ir.Einsum) -> str:
        # The raw op skips tf.einsum's per-call parsing of the equation.
        return f'tf.raw_ops.Einsum(inputs=[{", ".join(op.operands)}], equation="{op.equation}")'

    def _print_EinsumOfRuns(self, op: ir.EinsumOfRuns) -> str:
        self.helpers.add("equation")
        operands = ", ".join(op.operands)
        return f'tf.raw_ops.Einsum(inputs=[{operands}], equation=_equation("{op.spec}", {operands}))'

    def _print_MatMul(self, op: ir.MatMul) -> str:
        flags = "".join(
            f", {name}=True" for name, on in (("transpose_a", op.transpose_a), ("transpose_b", op.transpose_b)) if on
        )
        return f"tf.raw_ops.MatMul(a={op.a}, b={op.b}{flags})"

    def _print_BatchMatMul(self, op: ir.BatchMatMul) -> str:
        return f"tf.raw_ops.BatchMatMulV2(x={op.x}, y={op.y})"

    def _print_ReduceSum(self, op: ir.ReduceSum) -> str:
        keep = ", keepdims=True" if op.keepdims else ""
        return f"tf.reduce_sum({op.operand}, axis={axis_list(op.axes)}{keep})"

    def _print_SumLeading(self, op: ir.SumLeading) -> str:
        if op.keep == 0:
            return f"tf.reduce_sum({op.operand})"
        return f"tf.reduce_sum({op.operand}, axis=tf.range(tf.rank({op.operand}) - {op.keep}))"

    def _print_Transpose(self, op: ir.Transpose) -> str:
        return f"tf.transpose({op.operand}, perm={list(op.perm)})"

    def _print_Reshape(self, op: ir.Reshape) -> str:
        # Sizes are Python lists (of ints where shapes are static), so runs of
        # axes join with `+`, at trace time, with no TensorFlow op.
        target = self.shape_list(op.shape)
        if self.graph_only:
            return f"tf.reshape({op.operand}, {target})"
        # Eagerly, TensorFlow converts a list target on every call (~25 µs);
        # `_shape` hands it a tensor made once (see the runtime).
        self.helpers.add("shape")
        return f"tf.reshape({op.operand}, _shape({target}))"

    def _print_ShapeOf(self, op: ir.ShapeOf) -> str:
        self.helpers.add("dims")
        if op.rank is not None:
            return f"_dims({op.operand}, {op.rank})"
        if not op.needed_by:
            return f"_dims({op.operand})"  # checked: _check_axes gave it the spec's rank
        return f'_dims({op.operand}, needed_by="{op.needed_by}")'

    def _print_DiagPart(self, op: ir.DiagPart) -> str:
        return f"tf.linalg.diag_part({op.operand})"

    def _print_ZerosLike(self, op: ir.ZerosLike) -> str:
        return f"tf.zeros_like({op.operand})"

    def _print_OnesLike(self, op: ir.OnesLike) -> str:
        return f"tf.ones_like({op.operand})"

    def _print_Gradient(self, op: ir.Gradient) -> str:
        self.helpers.add("gradient")
        cotangent = f", {op.output_gradients}" if op.output_gradients else ""
        return f"_gradient({op.tape}, {op.target}, {op.source}{cotangent})"

    def _print_Jacobian(self, op: ir.Jacobian) -> str:
        self.helpers.add("jacobian")
        return f"_jacobian({op.tape}, {op.target}, {op.source})"

    def _print_Cast(self, op: ir.Cast) -> str:
        return f"tf.cast({op.operand}, tf.{op.dtype})"

    def _print_GreaterThanZero(self, op: ir.GreaterThanZero) -> str:
        return f"tf.greater({op.operand}, 0)"

    # --- the einsums of other semirings ----------------------------------------

    _REDUCE = {"max": "tf.reduce_max", "min": "tf.reduce_min", "logsumexp": "tf.reduce_logsumexp"}

    def _print_SemiringPair(self, op: ir.SemiringPair) -> str:
        if op.kind == "logsumexp":
            self.helpers.add("logsumexp_pair")
            return f'_logsumexp_pair("{op.equation}", {op.a}, {op.b}, block={op.block:_})'
        self.helpers.add("semiring_pair")
        return f'_semiring_pair("{op.kind}", "{op.equation}", {op.a}, {op.b}, block={op.block:_})'

    def _print_SemiringReduce(self, op: ir.SemiringReduce) -> str:
        keep = ", keepdims=True" if op.keepdims else ""
        return f"{self._REDUCE[op.kind]}({op.operand}, axis={axis_list(op.axes)}{keep})"

    def _print_SemiringReduceLeading(self, op: ir.SemiringReduceLeading) -> str:
        if op.keep == 0:
            return f"{self._REDUCE[op.kind]}({op.operand})"
        return f"{self._REDUCE[op.kind]}({op.operand}, axis=tf.range(tf.rank({op.operand}) - {op.keep}))"

    def _lines_EagerChoice(self, statement: ir.EagerChoice, indent: str) -> list[str]:
        lines = [f"{indent}# {line}" for line in statement.comment.splitlines()]
        lines.append(f"{indent}# Eagerly, one Einsum op saves the reshapes' per-call cost.")
        lines.append(f"{indent}if tf.executing_eagerly():")
        lines.extend(self.statements(statement.eager, indent + "    "))
        lines.append(f"{indent}else:")
        graph_only, self.graph_only = self.graph_only, True
        lines.extend(self.statements(statement.graph, indent + "    "))
        self.graph_only = graph_only
        return lines

    def _lines_Tape(self, statement: ir.Tape, indent: str) -> list[str]:
        lines = [f"{indent}# {statement.comment}"] if statement.comment else []
        persistent = "persistent=True" if statement.persistent else ""
        lines.append(f"{indent}with tf.GradientTape({persistent}) as {statement.tape}:")
        lines.append(f"{indent}    {statement.tape}.watch({statement.watch})")
        lines.extend(self.statements(statement.body, indent + "    "))
        return lines

    def decorators(self, function: ir.Function) -> list[str]:
        if not function.trace_when_eager:
            return []
        self.helpers.add("trace_when_eager")
        return ["_trace_when_eager"]
