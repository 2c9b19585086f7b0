"""The JAX printer: IR ops as jax.numpy calls, each generated function compiled by jax.jit once per shape."""

from __future__ import annotations

from einigc import ir
from einigc.targets.array_module import ArrayModulePrinter
from einigc.targets.jax.autodiff import JaxAutodiff


class JaxPrinter(JaxAutodiff, ArrayModulePrinter):
    xp = "jnp"
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

    # Under jax.jit, a transposed operand, `.mT` and the vector's unit axis
    # fold into the same dot_general as jnp.einsum's (the compiled HLO
    # compared); jnp.einsum of a pair plans nothing (opt_einsum runs once
    # per trace).

    def _print_Cast(self, op: ir.Cast) -> str:
        if op.dtype == "int64":
            # jax's default integer: int64 under jax_enable_x64, else int32,
            # which jnp.int64 would give too, with a warning on every trace.
            return f"{op.operand}.astype(int)"
        return super()._print_Cast(op)

    # --- the einsums of other semirings ----------------------------------------

    def _reduce(self, kind: str, operand: str, axis: str, keep: str = "") -> str:
        if kind == "logsumexp":
            # -inf for an empty axis or a slice of -inf (no NaN).
            return f"jax.nn.logsumexp({operand}, axis={axis}{keep})"
        # The semiring's zero for an empty axis, without a share of the gradient (see the runtime).
        self.helpers.add("semiring_reduce")
        return f'_semiring_reduce("{kind}", {operand}, {axis}{keep})'
