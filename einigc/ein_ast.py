"""Syntax tree of a `.ein` file and of its spec strings; every node knows its position."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from einigc.errors import Pos


def _pos() -> Pos:
    # Positions never take part in equality: two trees that say the same
    # thing compare equal wherever they were written.
    return field(compare=False, repr=False)


# --- spec strings -----------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """A lowercase letter: one axis."""

    letter: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class Composite:
    """An uppercase letter: a named group of zero or more consecutive axes."""

    letter: str
    pos: Pos = _pos()
    written: str = ""  # "..." where it stands for `...` beside '%' (checks.specs.ellipsis_as_composite)


@dataclass(frozen=True)
class Ellipsis_:
    """`...`: numpy's anonymous composite, which broadcasts."""

    pos: Pos = _pos()


@dataclass(frozen=True)
class Unit:
    """`_` (or the empty group `()`): an axis of size 1."""

    pos: Pos = _pos()


@dataclass(frozen=True)
class Group:
    """`( ... )`: one tensor axis that is the row-major flattening of its terms."""

    terms: tuple["Term", ...]
    pos: Pos = _pos()


Term = Union[Axis, Composite, Ellipsis_, Unit, Group]


@dataclass(frozen=True)
class Operand:
    """The terms of one operand (or of the output) of a spec."""

    terms: tuple[Term, ...]
    pos: Pos = _pos()


def terms_text(terms) -> str:
    """Terms written back as spec text, without whitespace: `b(ij)_...K`."""
    out = []
    for term in terms:
        if isinstance(term, (Axis, Composite)):
            out.append(term.letter)
        elif isinstance(term, Ellipsis_):
            out.append("...")
        elif isinstance(term, Unit):
            out.append("_")
        elif isinstance(term, Group):
            out.append("(" + terms_text(term.terms) + ")")
    return "".join(out)


@dataclass(frozen=True)
class Spec:
    """A parsed spec string. `grad_pairs` holds (left, right) operand indices of each `%`."""

    inputs: tuple[Operand, ...]
    output: Operand | None
    grad_pairs: tuple[tuple[int, int], ...]
    text: str
    pos: Pos = _pos()
    arrow_pos: Pos | None = field(default=None, compare=False, repr=False)
    grad_positions: tuple[Pos, ...] = field(default=(), compare=False, repr=False)


# --- declarations -----------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A use of a parameter."""

    name: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class Call:
    """A call of a builtin (`einsum`, ...) with its spec, or of another declaration."""

    func: str
    spec: Spec | None
    args: tuple["Expr", ...]
    pos: Pos = _pos()
    # A string where no spec belongs (not first, or in a call of a declaration).
    stray_specs: tuple[Spec, ...] = field(default=(), compare=False, repr=False)
    spec_missing: bool = field(default=False, compare=False, repr=False)


Expr = Union[Ref, Call]


@dataclass(frozen=True)
class Param:
    name: str
    pos: Pos = _pos()


@dataclass(frozen=True)
class SizeExact:
    """`where j = 4`."""

    letter: str
    size: int
    pos: Pos = _pos()


@dataclass(frozen=True)
class SizeTypical:
    """`where b ~ 1000`."""

    letter: str
    size: int
    pos: Pos = _pos()


@dataclass(frozen=True)
class Independent:
    """`where b independent`."""

    letter: str
    pos: Pos = _pos()


WhereItem = Union[SizeExact, SizeTypical, Independent]


@dataclass(frozen=True)
class Declaration:
    name: str
    params: tuple[Param, ...]
    body: Expr
    where: tuple[WhereItem, ...]
    doc: str
    pos: Pos = _pos()
    source_line: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Module:
    docstring: str
    declarations: tuple[Declaration, ...]
    # Names of declarations that did not parse: their syntax errors are
    # reported, so calls of them must not be reported as unknown too.
    unparsed: tuple[str, ...] = ()
