"""Dead-code pass: drops shape bookkeeping that no later step reads.

Lowering binds operands as reshapes and reads shapes eagerly, before it knows
whether a later step (a matrix product of runs of axes) reshapes the original
tensor instead. Only side-effect-free bookkeeping is dropped: reshapes, shape
reads and shape arithmetic; every TensorFlow computation stays.
"""

from __future__ import annotations

import dataclasses
import re

from einigc import ir

_PURE = (ir.Reshape, ir.ShapeOf, *ir.VALUES)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def prune(function: ir.Function) -> ir.Function:
    body = list(function.body)
    while True:
        used = _names_in(function.result)
        for statement in body:
            used |= _names_read(statement)
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


def _names_read(node) -> set[str]:
    """Every identifier a statement or op reads (targets of assignments excluded)."""
    if isinstance(node, str):
        return _names_in(node)
    if isinstance(node, (tuple, list)):
        names: set[str] = set()
        for item in node:
            names |= _names_read(item)
        return names
    if dataclasses.is_dataclass(node):
        names = set()
        for field in dataclasses.fields(node):
            if isinstance(node, ir.Assign) and field.name == "target":
                continue
            names |= _names_read(getattr(node, field.name))
        return names
    return set()


def _names_in(text: str) -> set[str]:
    return set(_IDENTIFIER.findall(text))
