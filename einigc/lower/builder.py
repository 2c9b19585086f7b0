"""The lowering builder: blocks of IR statements, the names they hand out, nested tape and branch blocks."""

from __future__ import annotations

import builtins
import keyword

from einigc import ir
from einigc.checks import MODULE_NAMES

_MAX_NAME = 24


class Namer:
    """Hands out readable, unique, deterministic names for intermediates."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken) | MODULE_NAMES | set(dir(builtins)) | set(keyword.kwlist)

    def fresh(self, hint: str) -> str:
        base = hint if hint.isidentifier() and len(hint) <= _MAX_NAME else "t"
        if base not in self.taken:
            self.taken.add(base)
            return base
        n = 1
        while f"{base}_{n}" in self.taken:
            n += 1
        name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def copy(self) -> Namer:
        namer = Namer(set())
        namer.taken = set(self.taken)
        return namer


class Block:
    """Statements being emitted in order, with the namer and stems they share.

    A tape's body is a child block that watches a variable; each branch of a
    trace-time order choice is a child block with its own copy of the names
    (only one branch runs, so a name bound in one is free in the next).
    """

    def __init__(self, namer: Namer, stems: dict[str, str] | None = None, parent: Block | None = None, watch: str = ""):
        self.statements: list[ir.Statement] = []
        self.namer = namer
        # What an intermediate is named after: `x_flat` and `x` both read as
        # `x` when naming a product of them.
        self.stems = {} if stems is None else stems
        self.parent = parent
        self.watch = watch  # the variable this block's tape watches ("": not a tape)
        # A closure's body (a local function of `watch`): the names taken when
        # it began belong to the enclosing function, so the body must not rebind them.
        self.outer_names: frozenset[str] | None = None

    @classmethod
    def root(cls, taken: set[str]) -> Block:
        """The body of a function whose parameters and sibling functions are `taken`."""
        return cls(Namer(taken))

    def fresh(self, hint: str) -> str:
        return self.namer.fresh(hint)

    def stem(self, name: str) -> str:
        return self.stems.get(name, name)

    def add(self, statement: ir.Statement) -> None:
        self.statements.append(statement)

    def emit(self, hint: str, op: ir.Op, comment: str = "", stem: str = "") -> str:
        """Appends `name = op` under a fresh name for `hint`; returns the name."""
        name = self.namer.fresh(hint)
        self.stems[name] = stem or self.stems.get(hint, hint)
        self.statements.append(ir.Assign(name, op, comment))
        return name

    def tape(self, watch: str) -> Block:
        """The body of a tape watching `watch`, emitted inside this block."""
        return Block(self.namer, self.stems, self, watch)

    def closure(self, param: str) -> Block:
        """The body of a local function of `param`, emitted inside this block."""
        body = Block(self.namer, self.stems, self, param)
        body.outer_names = frozenset(self.namer.taken)
        return body

    def closes_over(self, name: str) -> bool:
        """Whether `name` belongs to a scope around the closure this block is in (read-only here)."""
        block: Block | None = self
        while block is not None and block.outer_names is None:
            block = block.parent
        return block is not None and name != block.watch and name in block.outer_names

    def branch(self) -> Block:
        """One branch of a choice: its names and stems are its own until `adopt`."""
        return Block(self.namer.copy(), dict(self.stems), self)

    def adopt(self, branches: list[Block], free: set[str] = frozenset()) -> None:
        """Takes the names the branches bound (but `free`): after the choice none may be reused."""
        for branch in branches:
            self.namer.taken |= branch.namer.taken - free

    def absorb(self, branch: Block) -> None:
        """Takes a branch as the way this block went: its statements, its names and stems."""
        self.statements.extend(branch.statements)
        self.adopt([branch])
        self.stems.update(branch.stems)

    def tapes(self) -> tuple[Block, ...]:
        """The tapes this block is inside, outermost first (itself included if a tape)."""
        chain = []
        block: Block | None = self
        while block is not None:
            if block.watch:
                chain.append(block)
            block = block.parent
        return tuple(reversed(chain))

    def watched(self) -> tuple[str, ...]:
        """The variables of the tapes this block is inside."""
        return tuple(tape.watch for tape in self.tapes())
