"""Dead-code pass: drops shape bookkeeping that no later step reads.

Lowering binds operands as reshapes and reads shapes eagerly, before it knows
whether a later step (a matrix product of runs of axes) reshapes the original
tensor instead. Only side-effect-free bookkeeping is dropped: reshapes, shape
reads and shape arithmetic; every TensorFlow computation stays.
"""

from __future__ import annotations

import dataclasses

from einigc import ir

_PURE = (ir.Reshape, ir.ShapeOf, *ir.VALUES)


def prune(function: ir.Function) -> ir.Function:
    body = list(function.body)
    while True:
        used = ir.reads(tuple(body))
        kept: list = []
        # A dropped shape read's comment describes the step after it and
        # moves there; a dropped reshape's comment describes only itself.
        comment = ""
        for statement in body:
            if isinstance(statement, ir.Assign) and isinstance(statement.op, _PURE) and statement.target not in used:
                if not isinstance(statement.op, ir.Reshape):
                    comment = "\n".join(c for c in (comment, statement.comment) if c)
                continue
            if comment and isinstance(statement, ir.Assign):
                statement = dataclasses.replace(
                    statement, comment="\n".join(c for c in (comment, statement.comment) if c)
                )
                comment = ""
            kept.append(statement)
        if len(kept) == len(body):
            return dataclasses.replace(function, body=tuple(body))
        body = kept
