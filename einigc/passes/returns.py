"""Return pass: `t = op; return t` becomes `return op`."""

from __future__ import annotations

import dataclasses

from einigc import ir


def inline_return(function: ir.Function) -> ir.Function:
    """Returns the last step's op itself when the function returns what that step binds."""
    body = function.body
    if len(body) < 2:
        return function
    last, returned = body[-2], body[-1]
    if not (
        isinstance(returned, ir.Return)
        and isinstance(returned.value, ir.Name)
        and isinstance(last, ir.Assign)
        and last.target == returned.value.name
    ):
        return function
    comment = "\n".join(c for c in (last.comment, returned.comment) if c)
    return dataclasses.replace(function, body=(*body[:-2], ir.Return(last.op, comment)))
