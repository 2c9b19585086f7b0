"""The checked model: declarations whose names, arities and specs are known to be valid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from einigc import ein_ast as A
from einigc.errors import Pos


@dataclass(frozen=True)
class ParamValue:
    """A parameter of the enclosing function."""

    name: str
    pos: Pos = field(compare=False)


@dataclass(frozen=True)
class BuiltinCall:
    """einsum, eincount, einany or eingrad with a checked spec.

    `inputs` and `output` are the spec's operands; in implicit mode `output`
    is the one numpy would infer and `implicit` is set.
    """

    func: str
    inputs: tuple[A.Operand, ...]
    output: A.Operand
    implicit: bool
    grad_pairs: tuple[tuple[int, int], ...]
    spec_text: str
    args: tuple["Value", ...]
    pos: Pos = field(compare=False)
    spec_pos: Pos = field(compare=False)


@dataclass(frozen=True)
class DeclarationCall:
    """A call of another declaration."""

    callee: str
    args: tuple["Value", ...]
    pos: Pos = field(compare=False)


Value = Union[ParamValue, BuiltinCall, DeclarationCall]


@dataclass(frozen=True)
class SizeHint:
    """A `where` size: `exact` for `j = 4`, typical for `b ~ 1000`."""

    letter: str
    size: int
    exact: bool
    pos: Pos = field(compare=False)


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[str, ...]
    body: Value
    sizes: tuple[SizeHint, ...]
    independent: tuple[str, ...]
    doc: str
    pos: Pos = field(compare=False)
    source_line: str = field(compare=False)


@dataclass(frozen=True)
class Program:
    docstring: str
    functions: tuple[Function, ...]


def source_text(value: Value) -> str:
    """A value as the user wrote it (specs in single quotes), for messages."""
    if isinstance(value, ParamValue):
        return value.name
    args = ", ".join(source_text(a) for a in value.args)
    if isinstance(value, DeclarationCall):
        return f"{value.callee}({args})"
    return f"{value.func}('{value.spec_text}', {args})"
