"""Printing shared by the targets whose eingrad is function transforms (torch.func, jax): local functions, vmap."""

from __future__ import annotations

from einigc import ir


class FunctionTransforms:
    """The `_lines_Closure` and `_print_Vmap` of TorchAutodiff and JaxAutodiff; `vmap` names the framework's."""

    vmap = ""  # "torch.func.vmap", "jax.vmap"

    def _lines_Closure(self, statement: ir.Closure, indent: str) -> list[str]:
        # Blank lines around a nested def, as black lays it out (none at the
        # start of a body: a closure inside a closure comes first).
        lines = [""] + [f"{indent}# {line}" for line in statement.comment.splitlines()]
        lines.append(f"{indent}def {statement.name}({statement.param}):")
        body = self.statements(statement.body, indent + "    ")
        return lines + (body[1:] if body and not body[0] else body) + [""]

    def _print_Vmap(self, op: ir.Vmap) -> str:
        # One vmap per leading axis: nested maps, no reshape of the operand.
        mapped = op.function
        for _ in range(op.levels):
            mapped = f"{self.vmap}({mapped})"
        return f"{mapped}({op.operand})"
