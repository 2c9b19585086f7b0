"""The checked model: declarations whose names, arities and specs are known to be valid, specs resolved to layouts."""

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


# --- layouts: how a spec's operands map onto core axes (resolved by checks) ---


@dataclass(frozen=True)
class Slot:
    """One tensor axis holding `leaves` flattened (none: a size-1 axis), or a
    variable run of axes: a composite (`letter`) or a broadcasting `...`."""

    leaves: tuple[str, ...] = ()
    variable: str = ""
    pos: Pos | None = field(default=None, compare=False)
    text: str = ""  # a group as the spec writes it, e.g. "(hd)"

    @property
    def is_group(self) -> bool:
        return not self.variable and len(self.leaves) > 1

    @property
    def is_variable(self) -> bool:
        return bool(self.variable)


@dataclass(frozen=True)
class OperandLayout:
    """One operand's tensor axes (slots) and the core axes they hold."""

    slots: tuple[Slot, ...]
    core: tuple[str, ...]  # core axes, in order (repeats are diagonals)
    needs_reshape: bool


@dataclass(frozen=True)
class Layout:
    """A spec resolved to core axes: one per lowercase letter, one per
    composite (flattened), `...` whole where it broadcasts."""

    inputs: tuple[OperandLayout, ...]
    output: OperandLayout
    output_core: tuple[str, ...]  # distinct core axes of the output, first-seen order
    composite_source: tuple[tuple[str, int], ...]  # composite -> input operand fixing its rank
    ellipsis_letter: str  # core name of `...` when it cannot broadcast (inside a group)
    # Group members whose size is their group's over the others', in the
    # order they are solved: (member, input operand, slot of the group).
    derived: tuple[tuple[str, int, int], ...] = ()
    merged: tuple[tuple[str, str], ...] = ()  # core axis -> the whole group it stands for


# --- values ----------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinCall:
    """einsum, eincount, einany or eingrad with a checked spec.

    `inputs` and `output` are the spec's operands; in implicit mode `output`
    is the one numpy would infer and `implicit` is set. `layout` is the spec
    resolved to core axes with the function's `where` sizes (for eingrad: its
    operands as written, `%` read as `,`); `jacobian_layout`, for eingrad
    only, resolves the Jacobian form `J[a, b], others -> output` that its
    Jacobian lowering contracts. With several `%` pairs, `pairs` holds each
    pair as its own single-pair eingrad `a%b->J` (its Jacobian, resolved),
    and `jacobian_layout` contracts those Js, one operand each, with the others.
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
    layout: Layout
    jacobian_layout: Layout | None = None
    pairs: tuple["BuiltinCall", ...] = ()


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
