"""eingrad on JAX: the printing of the functional derivative ops, as jax transforms."""

from __future__ import annotations

from einigc import ir
from einigc.targets.function_transforms import FunctionTransforms


class JaxAutodiff(FunctionTransforms):
    """The `_print_X` methods of the derivative ops; the target's printer inherits them."""

    vmap = "jax.vmap"

    def _print_VjpOf(self, op: ir.VjpOf) -> str:
        self.helpers.add("gradient")
        cotangent = f", {op.cotangent}" if op.cotangent else ""
        return f"_gradient({op.function}, {op.primal}{cotangent})"

    def _print_JvpOf(self, op: ir.JvpOf) -> str:
        # jax.jvp returns the value and J v.
        return f"jax.jvp({op.function}, ({op.primal},), ({op.tangent},))[1]"

    def _print_JacobianOf(self, op: ir.JacobianOf) -> str:
        # Complex variables: the holomorphic J, as every form computes it.
        transform = "jax.jacfwd" if op.mode == "forward" else "jax.jacrev"
        return f"{transform}({op.function}, holomorphic=jnp.iscomplexobj({op.primal}))({op.primal})"

    def _print_OnesLike(self, op: ir.OnesLike) -> str:
        return f"jnp.ones_like({op.operand})"

    def _print_ZerosLike(self, op: ir.ZerosLike) -> str:
        return f"jnp.zeros_like({op.operand})"
