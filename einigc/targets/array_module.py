"""The printer of targets whose ops are a numpy-like module's functions (`np`, `jnp`): NumPy's and JAX's."""

from __future__ import annotations

from einigc import ir
from einigc.targets.printing import Printer


def axes_tuple(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"


class ArrayModulePrinter(Printer):
    """IR ops as calls of the array module `xp` ("np", "jnp"); a target overrides what its module does otherwise."""

    xp = ""

    def _print_Einsum(self, op: ir.Einsum) -> str:
        return f'{self.xp}.einsum("{op.equation}", {", ".join(op.operands)})'

    def _print_MatMul(self, op: ir.MatMul) -> str:
        a = f"{op.a}.T" if op.transpose_a else op.a
        b = f"{op.b}.T" if op.transpose_b else op.b
        return f"{self.xp}.matmul({a}, {b})"

    def _print_BatchMatMul(self, op: ir.BatchMatMul) -> str:
        # `.mT` and the vector's unit axis are views (see select.MatmulKernel).
        x = f"{op.x}.mT" if op.transpose_x else op.x
        y = f"{op.y}.mT" if op.transpose_y else op.y
        if op.y_is_vector:
            return f"{self.xp}.matmul({x}, {y}[..., None])[..., 0]"
        return f"{self.xp}.matmul({x}, {y})"

    # `sum` promotes small integers (numpy's to the platform's int, jax's
    # int8 to int32); `einsum` keeps the operand's dtype, and so do these sums.

    def _print_ReduceSum(self, op: ir.ReduceSum) -> str:
        keep = ", keepdims=True" if op.keepdims else ""
        return f"{self.xp}.sum({op.operand}, axis={axes_tuple(op.axes)}{keep}, dtype={op.operand}.dtype)"

    def _print_SumLeading(self, op: ir.SumLeading) -> str:
        if op.keep == 0:
            return f"{self.xp}.sum({op.operand}, dtype={op.operand}.dtype)"
        axes = f"tuple(range({op.operand}.ndim - {op.keep}))"
        return f"{self.xp}.sum({op.operand}, axis={axes}, dtype={op.operand}.dtype)"

    def _print_Transpose(self, op: ir.Transpose) -> str:
        return f"{self.xp}.transpose({op.operand}, {tuple(op.perm)})"

    def _print_Reshape(self, op: ir.Reshape) -> str:
        return f"{self.xp}.reshape({op.operand}, {self.shape_list(op.shape)})"

    def _print_ShapeOf(self, op: ir.ShapeOf) -> str:
        # Shapes are ints (static under jax.jit): the rank was checked with the operand.
        return f"list({op.operand}.shape)"

    def _print_DiagPart(self, op: ir.DiagPart) -> str:
        return f"{self.xp}.diagonal({op.operand}, axis1=-2, axis2=-1)"

    def _print_Cast(self, op: ir.Cast) -> str:
        return f"{op.operand}.astype({self.xp}.{op.dtype})"

    def _print_GreaterThanZero(self, op: ir.GreaterThanZero) -> str:
        return f"{self.xp}.greater({op.operand}, 0)"

    # --- the einsums of other semirings ----------------------------------------

    def _print_SemiringPair(self, op: ir.SemiringPair) -> str:
        if op.kind == "logsumexp":
            self.helpers.add("logsumexp_pair")
            return f'_logsumexp_pair("{op.equation}", {op.a}, {op.b}, block={op.block:_})'
        self.helpers.add("semiring_pair")
        return f'_semiring_pair("{op.kind}", "{op.equation}", {op.a}, {op.b}, block={op.block:_})'

    def _reduce(self, kind: str, operand: str, axis: str, keep: str = "") -> str:
        raise NotImplementedError  # each target's max, min and logsumexp

    def _print_SemiringReduce(self, op: ir.SemiringReduce) -> str:
        return self._reduce(op.kind, op.operand, axes_tuple(op.axes), ", keepdims=True" if op.keepdims else "")

    def _print_SemiringReduceLeading(self, op: ir.SemiringReduceLeading) -> str:
        if op.keep == 0:
            return self._reduce(op.kind, op.operand, "None")
        return self._reduce(op.kind, op.operand, f"tuple(range({op.operand}.ndim - {op.keep}))")
