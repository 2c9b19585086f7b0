"""Blocks: applies a rewrite of a statement list to a function's body and every nested body."""

from __future__ import annotations

import dataclasses
from typing import Callable

from einigc import ir

Rewrite = Callable[[tuple], tuple]


def rewrite_blocks(function: ir.Function, rewrite: Rewrite) -> ir.Function:
    """`function` with `rewrite` applied to each block, the innermost first."""
    return dataclasses.replace(function, body=_block(function.body, rewrite))


def _block(statements: tuple, rewrite: Rewrite) -> tuple:
    nested = []
    for statement in statements:
        if isinstance(statement, (ir.Tape, ir.Closure)):
            statement = dataclasses.replace(statement, body=_block(statement.body, rewrite))
        elif isinstance(statement, ir.ChooseOrder):
            bodies = tuple(_block(body, rewrite) for body in statement.bodies)
            statement = dataclasses.replace(statement, bodies=bodies)
        elif isinstance(statement, ir.EagerChoice):
            statement = dataclasses.replace(
                statement, eager=_block(statement.eager, rewrite), graph=_block(statement.graph, rewrite)
            )
        nested.append(statement)
    return rewrite(tuple(nested))
