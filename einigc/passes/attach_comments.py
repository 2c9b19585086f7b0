"""Comment attachment: each `Comment` marker becomes the comment of the statement after it."""

from __future__ import annotations

import dataclasses

from einigc import ir
from einigc.errors import InternalError
from einigc.passes.blocks import rewrite_blocks


def attach_comments(function: ir.Function) -> ir.Function:
    return rewrite_blocks(function, _attach)


def _attach(block: tuple) -> tuple:
    out: list = []
    pending: list[str] = []
    for statement in block:
        if isinstance(statement, ir.Comment):
            pending.append(statement.text)
            continue
        if pending:
            if not isinstance(statement, (ir.Assign, ir.Return, ir.EagerChoice)):
                raise InternalError("passes", f"a comment above a {type(statement).__name__}")
            text = "\n".join(c for c in (*pending, statement.comment) if c)
            statement = dataclasses.replace(statement, comment=text)
            pending = []
        out.append(statement)
    if pending:
        raise InternalError("passes", "a comment at the end of a block")
    return tuple(out)
