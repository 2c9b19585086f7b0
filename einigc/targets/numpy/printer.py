"""The NumPy printer: IR ops as NumPy calls; planned pairs as `np.matmul` or `np.einsum` without its own planning."""

from __future__ import annotations

from einigc import ir
from einigc.targets.printing import Printer


def _axes(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"


class NumpyPrinter(Printer):
    tensor_hint = "np.ndarray"
    order_picked = "when called"

    def _print_Einsum(self, op: ir.Einsum) -> str:
        # np.einsum plans nothing by default (optimize=False): the pair is
        # the step the compiler planned.
        return f'np.einsum("{op.equation}", {", ".join(op.operands)})'

    def _print_MatMul(self, op: ir.MatMul) -> str:
        a = f"{op.a}.T" if op.transpose_a else op.a
        b = f"{op.b}.T" if op.transpose_b else op.b
        return f"np.matmul({a}, {b})"

    def _print_BatchMatMul(self, op: ir.BatchMatMul) -> str:
        # `.mT` (numpy >= 2.0) and the vector's unit axis are views; np.matmul
        # runs BLAS where np.einsum runs C loops (see select.MatmulKernel).
        x = f"{op.x}.mT" if op.transpose_x else op.x
        y = f"{op.y}.mT" if op.transpose_y else op.y
        if op.y_is_vector:
            return f"np.matmul({x}, {y}[..., None])[..., 0]"
        return f"np.matmul({x}, {y})"

    # np.sum promotes small integers to the platform's int; np.einsum keeps
    # the operand's dtype, and so do these sums.

    def _print_ReduceSum(self, op: ir.ReduceSum) -> str:
        keep = ", keepdims=True" if op.keepdims else ""
        return f"np.sum({op.operand}, axis={_axes(op.axes)}{keep}, dtype={op.operand}.dtype)"

    def _print_SumLeading(self, op: ir.SumLeading) -> str:
        if op.keep == 0:
            return f"np.sum({op.operand}, dtype={op.operand}.dtype)"
        return f"np.sum({op.operand}, axis=tuple(range({op.operand}.ndim - {op.keep})), dtype={op.operand}.dtype)"

    def _print_Transpose(self, op: ir.Transpose) -> str:
        return f"np.transpose({op.operand}, {tuple(op.perm)})"

    def _print_Reshape(self, op: ir.Reshape) -> str:
        return f"np.reshape({op.operand}, {self.shape_list(op.shape)})"

    def _print_ShapeOf(self, op: ir.ShapeOf) -> str:
        # NumPy's shapes are ints: the rank was checked with the operand.
        return f"list({op.operand}.shape)"

    def _print_DiagPart(self, op: ir.DiagPart) -> str:
        return f"np.diagonal({op.operand}, axis1=-2, axis2=-1)"

    def _print_Cast(self, op: ir.Cast) -> str:
        return f"{op.operand}.astype(np.{op.dtype})"

    def _print_GreaterThanZero(self, op: ir.GreaterThanZero) -> str:
        return f"np.greater({op.operand}, 0)"

    # --- the einsums of other semirings ----------------------------------------

    def _print_SemiringPair(self, op: ir.SemiringPair) -> str:
        if op.kind == "logsumexp":
            self.helpers.add("logsumexp_pair")
            return f'_logsumexp_pair("{op.equation}", {op.a}, {op.b}, block={op.block:_})'
        self.helpers.add("semiring_pair")
        return f'_semiring_pair("{op.kind}", "{op.equation}", {op.a}, {op.b}, block={op.block:_})'

    def _reduce(self, kind: str, operand: str, axis: str, keep: str = "") -> str:
        if kind == "logsumexp":
            self.helpers.add("logsumexp")
            return f"_logsumexp({operand}, axis={axis}{keep})"
        # From the semiring's zero: an empty axis gives it, as tf.reduce_max does.
        initial = "-np.inf" if kind == "max" else "np.inf"
        return f"np.{kind}({operand}, axis={axis}{keep}, initial={initial})"

    def _print_SemiringReduce(self, op: ir.SemiringReduce) -> str:
        return self._reduce(op.kind, op.operand, _axes(op.axes), ", keepdims=True" if op.keepdims else "")

    def _print_SemiringReduceLeading(self, op: ir.SemiringReduceLeading) -> str:
        if op.keep == 0:
            return self._reduce(op.kind, op.operand, "None")
        return self._reduce(op.kind, op.operand, f"tuple(range({op.operand}.ndim - {op.keep}))")
