"""The JAX printer: IR ops as jax.numpy calls, each generated function compiled by jax.jit once per shape."""

from __future__ import annotations

import dataclasses

from einigc import ir
from einigc.targets.jax.autodiff import JaxAutodiff
from einigc.targets.printing import Printer

# eincount's counts: jax's default integer, int64 only under jax_enable_x64.
_COUNT_DTYPE = "int32 (int64 with jax_enable_x64)"


def _axes(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else "(" + ", ".join(map(str, axes)) + ")"


class JaxPrinter(JaxAutodiff, Printer):
    tensor_hint = "jax.Array"
    order_picked = "while tracing"  # shapes are static under jax.jit

    def decorators(self, function: ir.Function) -> list[str]:
        # Every jnp call is compiled and cached per shape anyway (jnp.einsum
        # too, after opt_einsum plans it again on each eager call); one
        # jax.jit over the whole function makes an eager call one dispatch.
        # Eager calls measured on 2 shared CPU cores, float32 (µs), the
        # function as jnp calls / jitted / jnp.einsum of its spec:
        #   bmm3 8x32x32        39 / 20 / 256
        #   bilinear 32,16x16x16 290 / 13 / 242
        #   tensordot           112 / 16 / 171
        # The first call with a new shape compiles: ~15 ms for bmm3, as for
        # jnp.einsum. Not for a function taking a callable (it is no array).
        if function.param_types and all(kind == "tensor" for kind in function.param_types):
            return ["jax.jit"]
        return super().decorators(function)

    def render_function(self, function: ir.Function) -> str:
        return super().render_function(dataclasses.replace(function, doc=_with_count_dtype(function.doc)))

    def _print_Einsum(self, op: ir.Einsum) -> str:
        # The planned pair: jnp.einsum lowers it to one dot_general (plus the
        # sums and transposes its letters need); opt_einsum has nothing to
        # plan for two operands, and runs once per trace.
        return f'jnp.einsum("{op.equation}", {", ".join(op.operands)})'

    def _print_MatMul(self, op: ir.MatMul) -> str:
        # XLA folds a transposed operand into the dot: no copy under jax.jit.
        a = f"{op.a}.T" if op.transpose_a else op.a
        b = f"{op.b}.T" if op.transpose_b else op.b
        return f"jnp.matmul({a}, {b})"

    def _print_BatchMatMul(self, op: ir.BatchMatMul) -> str:
        # Under jax.jit the same dot_general as jnp.einsum of the pair (the
        # compiled HLO compared): `.mT` and the unit axis fold into it.
        x = f"{op.x}.mT" if op.transpose_x else op.x
        y = f"{op.y}.mT" if op.transpose_y else op.y
        if op.y_is_vector:
            return f"jnp.matmul({x}, {y}[..., None])[..., 0]"
        return f"jnp.matmul({x}, {y})"

    # jnp.sum promotes small integers (int8 to int32) as numpy does;
    # jnp.einsum keeps the operand's dtype, and so do these sums.

    def _print_ReduceSum(self, op: ir.ReduceSum) -> str:
        keep = ", keepdims=True" if op.keepdims else ""
        return f"jnp.sum({op.operand}, axis={_axes(op.axes)}{keep}, dtype={op.operand}.dtype)"

    def _print_SumLeading(self, op: ir.SumLeading) -> str:
        if op.keep == 0:
            return f"jnp.sum({op.operand}, dtype={op.operand}.dtype)"
        return f"jnp.sum({op.operand}, axis=tuple(range({op.operand}.ndim - {op.keep})), dtype={op.operand}.dtype)"

    def _print_Transpose(self, op: ir.Transpose) -> str:
        return f"jnp.transpose({op.operand}, {tuple(op.perm)})"

    def _print_Reshape(self, op: ir.Reshape) -> str:
        # Sizes are Python ints under jax.jit: the target is a static list.
        return f"jnp.reshape({op.operand}, {self.shape_list(op.shape)})"

    def _print_ShapeOf(self, op: ir.ShapeOf) -> str:
        # jax's shapes are static ints: the rank was checked with the operand.
        return f"list({op.operand}.shape)"

    def _print_DiagPart(self, op: ir.DiagPart) -> str:
        return f"jnp.diagonal({op.operand}, axis1=-2, axis2=-1)"

    def _print_Cast(self, op: ir.Cast) -> str:
        if op.dtype == "int64":
            # jax's default integer: int64 under jax_enable_x64, else int32,
            # which jnp.int64 would give too, with a warning on every trace.
            return f"{op.operand}.astype(int)"
        return f"{op.operand}.astype(jnp.{op.dtype})"

    def _print_GreaterThanZero(self, op: ir.GreaterThanZero) -> str:
        return f"jnp.greater({op.operand}, 0)"

    # --- the einsums of other semirings ----------------------------------------

    def _print_SemiringPair(self, op: ir.SemiringPair) -> str:
        if op.kind == "logsumexp":
            self.helpers.add("logsumexp_pair")
            return f'_logsumexp_pair("{op.equation}", {op.a}, {op.b}, block={op.block:_})'
        self.helpers.add("semiring_pair")
        return f'_semiring_pair("{op.kind}", "{op.equation}", {op.a}, {op.b}, block={op.block:_})'

    def _reduce(self, kind: str, operand: str, axis: str, keep: str = "") -> str:
        if kind == "logsumexp":
            # -inf for an empty axis or a slice of -inf (no NaN).
            return f"jax.nn.logsumexp({operand}, axis={axis}{keep})"
        # From the semiring's zero: an empty axis gives it, as tf.reduce_max does.
        initial = "-jnp.inf" if kind == "max" else "jnp.inf"
        return f"jnp.{kind}({operand}, axis={axis}{keep}, initial={initial})"

    def _print_SemiringReduce(self, op: ir.SemiringReduce) -> str:
        return self._reduce(op.kind, op.operand, _axes(op.axes), ", keepdims=True" if op.keepdims else "")

    def _print_SemiringReduceLeading(self, op: ir.SemiringReduceLeading) -> str:
        if op.keep == 0:
            return self._reduce(op.kind, op.operand, "None")
        return self._reduce(op.kind, op.operand, f"tuple(range({op.operand}.ndim - {op.keep}))")


def _with_count_dtype(doc: ir.FunctionDoc) -> ir.FunctionDoc:
    """`doc` with eincount's int64 spelled as jax gives it (see _print_Cast)."""
    lines = tuple(
        line[: -len("int64")] + _COUNT_DTYPE if line.endswith(", int64") else line for line in doc.signature_lines
    )
    return dataclasses.replace(doc, signature_lines=lines)
