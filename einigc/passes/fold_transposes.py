"""Transpose folding: a transpose read only by the induced diagonal after it goes into that diagonal."""

from __future__ import annotations

from einigc import ir
from einigc.passes.blocks import rewrite_blocks


def fold_transposes(function: ir.Function) -> ir.Function:
    """The scatter of an induced diagonal places entries in any order: it takes
    the untransposed tensor, with its axes named in their own order."""
    reads: dict[str, int] = {}
    _count_reads(function.body, reads)

    def fold(block: tuple) -> tuple:
        out: list = []
        for statement in block:
            previous = out[-1] if out else None
            if _folds(previous, statement, reads):
                transpose, diagonal = previous.op, statement.op
                axes = [""] * len(transpose.perm)
                for k, source_axis in enumerate(transpose.perm):
                    axes[source_axis] = diagonal.axes[k]
                op = ir.InducedDiagonal(transpose.operand, "".join(axes), diagonal.result_axes)
                comment = "\n".join(c for c in (previous.comment, statement.comment) if c)
                out[-1] = ir.Assign(statement.target, op, comment)
                continue
            out.append(statement)
        return tuple(out)

    return rewrite_blocks(function, fold)


def _folds(previous, statement, reads: dict[str, int]) -> bool:
    return (
        isinstance(previous, ir.Assign)
        and isinstance(previous.op, ir.Transpose)
        and isinstance(statement, ir.Assign)
        and isinstance(statement.op, ir.InducedDiagonal)
        and statement.op.operand == previous.target
        and reads.get(previous.target) == 1  # the diagonal is its only reader
    )


def _count_reads(statements, reads: dict[str, int]) -> None:
    """How many statements read each name (a nested body's statements each count)."""
    for statement in statements:
        if isinstance(statement, ir.Tape):
            _count_reads(statement.body, reads)
            names = {statement.watch}
        elif isinstance(statement, ir.Closure):
            _count_reads(statement.body, reads)
            names = set()
        elif isinstance(statement, ir.ChooseOrder):
            for body in statement.bodies:
                _count_reads(body, reads)
            names = set(statement.operands)
        elif isinstance(statement, ir.EagerChoice):
            _count_reads(statement.eager + statement.graph, reads)
            names = set()
        else:
            names = ir.reads(statement)
        for name in names:
            reads[name] = reads.get(name, 0) + 1
