"""eingrad on PyTorch: the printing of the functional derivative ops, as torch.func transforms."""

from __future__ import annotations

from einigc import ir


class TorchAutodiff:
    """The `_print_X` and `_lines_X` methods of the derivative ops; the target's printer inherits them."""

    def _lines_Closure(self, statement: ir.Closure, indent: str) -> list[str]:
        # Blank lines around a nested def, as black lays it out (none at the
        # start of a body: a closure inside a closure comes first).
        lines = [""] + [f"{indent}# {line}" for line in statement.comment.splitlines()]
        lines.append(f"{indent}def {statement.name}({statement.param}):")
        body = self.statements(statement.body, indent + "    ")
        return lines + (body[1:] if body and not body[0] else body) + [""]

    def _print_VjpOf(self, op: ir.VjpOf) -> str:
        # torch.func.vjp conjugates for complex dtypes: `_gradient` undoes it.
        self.helpers.add("gradient")
        cotangent = f", {op.cotangent}" if op.cotangent else ""
        return f"_gradient({op.function}, {op.primal}{cotangent})"

    def _print_JvpOf(self, op: ir.JvpOf) -> str:
        # torch.func.jvp returns the value and J v.
        return f"torch.func.jvp({op.function}, ({op.primal},), ({op.tangent},))[1]"

    def _print_JacobianOf(self, op: ir.JacobianOf) -> str:
        # As torch.func.jacrev and jacfwd, which refuse complex inputs: see the runtime.
        if op.mode == "forward":
            self.helpers.add("jacobian_forward")
            return f"_jacobian_forward({op.function}, {op.primal})"
        self.helpers.add("jacobian")
        return f"_jacobian({op.function}, {op.primal})"

    def _print_Vmap(self, op: ir.Vmap) -> str:
        # One torch.func.vmap per leading axis: nested maps, no reshape of the operand.
        mapped = op.function
        for _ in range(op.levels):
            mapped = f"torch.func.vmap({mapped})"
        return f"{mapped}({op.operand})"

    def _print_VjpOfJvp(self, op: ir.VjpOfJvp) -> str:
        # One torch.func.vjp, its pullback differentiated again for the JVP: see the runtime.
        self.helpers.add("vjp_of_jvp")
        return f"_vjp_of_jvp({op.function}, {op.primal}, {op.tangent})"

    def _print_OnesLike(self, op: ir.OnesLike) -> str:
        return f"torch.ones_like({op.operand})"

    def _print_ZerosLike(self, op: ir.ZerosLike) -> str:
        return f"torch.zeros_like({op.operand})"
