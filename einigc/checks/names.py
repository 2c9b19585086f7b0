"""Names: what a declaration or parameter may not be called, duplicates, unused parameters, did-you-mean."""

from __future__ import annotations

import builtins
import difflib
import keyword

from einigc import ein_ast as A
from einigc.ein_parser import BUILTINS
from einigc.errors import DiagnosticSink, EinNameError
from einigc.targets import runtime_source

# What the generated module's header binds: `import tensorflow as tf`, the
# standard-library names that emit adds when the code needs them, `__all__`.
_HEADER_NAMES = ("tf", "tensorflow", "functools", "math", "Callable", "__all__")


def _module_names() -> frozenset[str]:
    """Every name the generated module binds at top level: its imports and all
    that its helpers define, read from the target's runtime module."""
    return frozenset(_HEADER_NAMES) | runtime_source.runtime("tensorflow").bound_names()


# A declaration of one of these would replace it, and break the module.
MODULE_NAMES = _module_names()


def name_problem(name: str) -> str:
    """Why `name` cannot name a declaration or parameter ("" when it can)."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword"
    if name in BUILTINS:
        return f"'{name}' is an einigc builtin"
    if name in MODULE_NAMES:
        return f"'{name}' is a name the generated module itself uses"
    if name in dir(builtins):
        return f"'{name}' is a Python builtin"
    if name.startswith("__"):
        return f"'{name}' starts with '__', which Python reserves"
    return ""


def did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def check_declaration_names(module: A.Module, sink: DiagnosticSink) -> dict[str, A.Declaration]:
    """Reports reserved and repeated declaration names; returns the declarations by name (first wins)."""
    declarations: dict[str, A.Declaration] = {}
    for decl in module.declarations:
        problem = name_problem(decl.name)
        if problem:
            sink.error(EinNameError(decl.pos, f"{problem}; it cannot name a declaration", "rename it"))
        if decl.name in declarations:
            first = declarations[decl.name].pos
            sink.error(
                EinNameError(
                    decl.pos,
                    f"declaration '{decl.name}' is already defined at line {first.line}",
                    "rename one of them",
                )
            )
        else:
            declarations[decl.name] = decl
    for decl in module.declarations:
        _check_parameter_names(decl, declarations, sink)
    return declarations


def _check_parameter_names(decl: A.Declaration, declarations: dict, sink: DiagnosticSink) -> None:
    seen: set[str] = set()
    for param in decl.params:
        problem = name_problem(param.name)
        if problem:
            sink.error(EinNameError(param.pos, f"{problem}; it cannot name a parameter", "rename it"))
        if param.name in seen:
            sink.error(EinNameError(param.pos, f"parameter '{param.name}' appears twice in '{decl.name}'"))
        seen.add(param.name)
        if param.name in declarations:
            sink.error(
                EinNameError(
                    param.pos,
                    f"parameter '{param.name}' has the name of a declaration",
                    "rename the parameter",
                )
            )


def check_params_used(decl: A.Declaration, sink: DiagnosticSink) -> None:
    """Warns of a parameter the body never reads."""
    used: set[str] = set()
    stack = [decl.body]
    while stack:
        expr = stack.pop()
        if isinstance(expr, A.Ref):
            used.add(expr.name)
        elif isinstance(expr, A.Call):
            stack.extend(expr.args)
    for param in decl.params:
        if param.name not in used:
            sink.warning(
                param.pos,
                f"parameter '{param.name}' of '{decl.name}' is not used",
                "remove it, or use it in the body",
            )
