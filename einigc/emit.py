"""Emission: the module assembled from printed functions, the runtime helpers and the header (formatting comes after)."""

from __future__ import annotations

from einigc import ir
from einigc.resources import template_environment as _environment
from einigc.targets import runtime_source
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
    # The printer names helpers without their underscore ("dims" for _dims).
    helpers = _RUNTIME.needed(f"_{name}" for name in printer.helpers)
    header = _environment().get_template("module.py.j2").render(
        stdlib_imports=_stdlib_imports(helpers, printer.imports),
        typing_imports=["from collections.abc import Callable"] if "Callable" in printer.imports else [],
        source_name=module.source_name,
        docstring=escape_docstring(module.docstring),
        exported=[f.name for f in module.functions],
    )
    return [header, *(helper.source for helper in helpers), *functions]


# The helpers generated modules copy, and what each needs, read from the
# target's runtime module: one module per target, TensorFlow today.
_RUNTIME = runtime_source.runtime("tensorflow")


def _stdlib_imports(helpers, printed: set[str]) -> list[str]:
    # The header imports tensorflow always; the rest as the copied helpers
    # (functools, math) or the printed code (math.prod) use them.
    imports = set(_RUNTIME.modules_used(helpers)) - {"tensorflow"}
    if "math" in printed:
        imports.add("math")
    return sorted(imports)
