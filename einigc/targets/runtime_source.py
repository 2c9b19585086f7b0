"""A target's runtime module read as source (never imported): its definitions, what each needs, the names it binds."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from einigc.errors import InternalError
from einigc.resources import runtime_path


@dataclass(frozen=True)
class Definition:
    """One top-level definition (function, class or assignment) of a runtime module."""

    name: str
    source: str  # its text, with the comment lines right above it
    needs: frozenset[str]  # the module's other top-level names it refers to: definitions and imports


@dataclass(frozen=True)
class Runtime:
    """A runtime module: its definitions in module order and the names its imports bind."""

    definitions: tuple[Definition, ...]
    imports: tuple[tuple[str, str], ...]  # (bound name, module): ("tf", "tensorflow")

    def needed(self, names) -> tuple[Definition, ...]:
        """The definitions `names` calls and all they need in turn, in module order."""
        by_name = {definition.name: definition for definition in self.definitions}
        imported = {name for name, _ in self.imports}
        wanted, pending = set(), list(names)
        while pending:
            name = pending.pop()
            if name in wanted or name in imported:
                continue
            if name not in by_name:
                raise InternalError("emit", f"the runtime has no helper {name}")
            wanted.add(name)
            pending.extend(by_name[name].needs)
        return tuple(definition for definition in self.definitions if definition.name in wanted)

    def modules_used(self, definitions) -> list[str]:
        """The modules `definitions` refer to through this module's imports, sorted."""
        used = set().union(*(definition.needs for definition in definitions))
        return sorted({module for name, module in self.imports if name in used})

    def bound_names(self) -> frozenset[str]:
        """Every top-level name the module binds: what a copy of it can clash with."""
        return frozenset([definition.name for definition in self.definitions] + [name for name, _ in self.imports])


@lru_cache(maxsize=None)
def runtime(target: str) -> Runtime:
    """The runtime module of `target` ("tensorflow"), read once."""
    return read(runtime_path(target))


def read(path: Path) -> Runtime:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    tree = ast.parse(text, str(path))
    imports = tuple(_imported_names(tree))
    top_level = {name for name, _ in imports} | {name for node in tree.body for name in _defined_names(node)}
    definitions = []
    for node in tree.body:
        names = _defined_names(node)
        if not names:
            continue  # the docstring and the imports
        if len(names) > 1:
            raise InternalError("emit", f"{path.name}:{node.lineno}: one name per top-level definition")
        (name,) = names
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        source = "\n".join(lines[_first_line(node, lines) : node.end_lineno])
        definitions.append(Definition(name, source + "\n", frozenset((used & top_level) - {name})))
    return Runtime(tuple(definitions), imports)


def _imported_names(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield (alias.asname or alias.name.split(".")[0]), alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield (alias.asname or alias.name), node.module


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)]
    return []


def _first_line(node: ast.stmt, lines: list[str]) -> int:
    """The 0-based line where `node`'s text starts: its decorators, and the
    comment lines right above them (a blank line ends what belongs to it)."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    while first > 0 and lines[first - 1].startswith("#"):
        first -= 1
    return first
