"""Emission: the module assembled from printed functions, the runtime helpers and the header (formatting comes after)."""

from __future__ import annotations

from einigc import ir
from einigc.resources import template_environment as _environment
from einigc.targets import DEFAULT, TARGETS, runtime_source
from einigc.targets.printing import escape_docstring


def printable_name(name: str) -> str:
    """A file name as it can stand in a comment or docstring: characters that
    are not printable (a line break, say) as Python's escapes, like repr."""
    if name.isprintable():
        return name
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in name)


def emit(module: ir.Module, target: str = DEFAULT) -> list[str]:
    """The module as top-level chunks: the header, then each helper and function."""
    framework = TARGETS[target]
    printer = framework.new_printer()
    functions = [printer.render_function(f) for f in module.functions]
    # The printer names helpers without their underscore ("dims" for _dims),
    # read from the target's runtime module.
    runtime = runtime_source.runtime(target)
    helpers = runtime.needed(f"_{name}" for name in printer.helpers)
    # The header imports the framework always; the rest as the copied helpers
    # (functools, math) or the printed code (math.prod) use them.
    stdlib = set(runtime.modules_used(helpers)) - framework.modules
    if "math" in printer.imports:
        stdlib.add("math")
    header = _environment().get_template("module.py.j2").render(
        stdlib_imports=sorted(stdlib),
        typing_imports=["from collections.abc import Callable"] if "Callable" in printer.imports else [],
        framework_imports=framework.imports,
        target=target,
        source_name=module.source_name,
        docstring=escape_docstring(module.docstring),
        exported=[f.name for f in module.functions],
    )
    return [header, *(helper.source for helper in helpers), *functions]
