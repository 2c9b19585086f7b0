"""Emission: the module assembled from printed functions, helpers and the header (formatting comes after)."""

from __future__ import annotations

from einigc import ir
from einigc.resources import template_environment as _environment
from einigc.targets.tensorflow.printer import Printer, escape_docstring, render_function


def printable_name(name: str) -> str:
    """A file name as it can stand in a comment or docstring: characters that
    are not printable (a line break, say) as Python's escapes, like repr."""
    if name.isprintable():
        return name
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in name)


def emit(module: ir.Module) -> list[str]:
    """The module as top-level chunks: the header, then each helper and function."""
    printer = Printer()
    functions = [render_function(f, printer) for f in module.functions]
    helpers = set(printer.helpers)
    for name in list(helpers):
        helpers.update(_HELPER_NEEDS.get(name, ()))
    helper_sources = [
        _environment().get_template(f"{name}.py.j2").render() for name in sorted(helpers)
    ]
    header = _environment().get_template("module.py.j2").render(
        stdlib_imports=_stdlib_imports(printer.helpers, printer.imports),
        typing_imports=["from collections.abc import Callable"] if "Callable" in printer.imports else [],
        source_name=module.source_name,
        docstring=escape_docstring(module.docstring),
        exported=[f.name for f in module.functions],
    )
    return [header, *helper_sources, *functions]


# Helpers that call other helpers.
_HELPER_NEEDS = {
    "check_axes": ("dims",),
    "diagonal": ("dims", "index_once"),
    "induced_diagonal": ("dims", "index_once"),
    "jacobian": ("gradient",),
}


def _stdlib_imports(helpers: set[str], printed: set[str]) -> list[str]:
    imports = []
    if "trace_when_eager" in helpers:
        imports.append("functools")
    if "math" in printed or "induced_diagonal" in helpers:
        imports.append("math")
    return sorted(imports)
