"""Semantic checks: names, calls, specs and their layouts, `where` clauses; builds the checked model.

Every user-facing error of a file is found here, in one pass: `names`,
`calls` (values, arities, recursion), `specs` (each spec, and its layout
resolved by `layout`), `where`. Lowering receives a model it cannot reject.
"""

from __future__ import annotations

from einigc import ein_ast as A
from einigc import model as M
from einigc.checks.calls import MAX_CALL_DEPTH, BodyChecker, check_recursion, specs_in
from einigc.checks.names import MODULE_NAMES, check_declaration_names, check_params_used
from einigc.checks.where import check_where
from einigc.errors import DiagnosticSink
from einigc.targets import DEFAULT

__all__ = ["MAX_CALL_DEPTH", "MODULE_NAMES", "check"]


def check(module: A.Module, sink: DiagnosticSink | None = None, target: str = DEFAULT) -> M.Program:
    """Checks a parsed module for `target`; raises CompileErrors with every problem found."""
    sink = sink or DiagnosticSink()
    declarations = check_declaration_names(module, sink)
    check_recursion(declarations, sink)
    functions = []
    for decl in module.declarations:
        # The `where` sizes first: every spec's layout is resolved with them.
        sizes, independent = check_where(decl, specs_in(decl.body), sink)
        body = BodyChecker(module, declarations, decl, sizes, sink, independent, target).value(decl.body)
        check_params_used(decl, sink)
        if body is not None:
            params = tuple(p.name for p in decl.params)
            functions.append(
                M.Function(decl.name, params, body, sizes, independent, decl.doc, decl.pos, decl.source_line)
            )
    sink.raise_if_errors()
    return M.Program(module.docstring, tuple(functions))
