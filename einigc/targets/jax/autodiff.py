"""eingrad on JAX: the printing of the functional derivative ops, as jax transforms."""

from __future__ import annotations

from einigc import ir


class JaxAutodiff:
    """The `_print_X` and `_lines_X` methods of the derivative ops; the target's printer inherits them."""

    def _lines_Closure(self, statement: ir.Closure, indent: str) -> list[str]:
        # Blank lines around a nested def, as black lays it out (none at the
        # start of a body: a closure inside a closure comes first).
        lines = [""] + [f"{indent}# {line}" for line in statement.comment.splitlines()]
        lines.append(f"{indent}def {statement.name}({statement.param}):")
        body = self.statements(statement.body, indent + "    ")
        return lines + (body[1:] if body and not body[0] else body) + [""]

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

    def _print_Vmap(self, op: ir.Vmap) -> str:
        # One jax.vmap per leading axis: nested maps, no reshape of the operand.
        mapped = op.function
        for _ in range(op.levels):
            mapped = f"jax.vmap({mapped})"
        return f"{mapped}({op.operand})"

    def _print_OnesLike(self, op: ir.OnesLike) -> str:
        return f"jnp.ones_like({op.operand})"

    def _print_ZerosLike(self, op: ir.ZerosLike) -> str:
        return f"jnp.zeros_like({op.operand})"
