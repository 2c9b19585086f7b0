"""The pipeline: parse → check → lower (with planning) → passes (prune, ...) → emit → format."""

from __future__ import annotations

from dataclasses import dataclass

import dataclasses

from einigc import checks, ein_parser, emit, fmt, ir, lower
from einigc.passes import attach_comments, fold_transposes, prune, returns
from einigc.errors import Diagnostic, DiagnosticSink
from einigc.targets import DEFAULT


@dataclass(frozen=True)
class Result:
    source: str  # the generated module
    notes: tuple[Diagnostic, ...]
    functions: tuple[str, ...] = ()  # the names it defines, in order


def compile_text(text: str, source_name: str = "specs.ein", target: str = DEFAULT) -> Result:
    """Compiles `.ein` text for `target` ("tensorflow", "torch", "jax", "numpy");
    raises CompileErrors listing every problem.

    `source_name` is the only file name in the module (its header and
    docstrings): the bytes do not depend on where the module is written.
    """
    sink = DiagnosticSink()
    # The name goes into comments and docstrings: no line breaks in it.
    source_name = emit.printable_name(source_name)
    ir_module = to_ir(text, source_name, sink, target)
    chunks = emit.emit(ir_module, target)
    names = tuple(function.name for function in ir_module.functions)
    return Result(fmt.format_chunks(chunks), tuple(sink.notes), names)


def to_ir(
    text: str, source_name: str = "specs.ein", sink: DiagnosticSink | None = None, target: str = DEFAULT
) -> ir.Module:
    """The stages before printing: parse → check → lower → passes."""
    sink = sink or DiagnosticSink()
    module = ein_parser.parse(text, sink)  # syntax errors wait for the checks' errors
    program = checks.check(module, sink, target)
    ir_module = lower.lower(program, source_name, sink, target)
    return dataclasses.replace(ir_module, functions=tuple(map(_passes, ir_module.functions)))


def _passes(function):
    """The IR -> IR passes, in order."""
    function = fold_transposes.fold_transposes(function)
    function = attach_comments.attach_comments(function)  # before prune, which moves comments on
    function = prune.prune(function)
    return returns.inline_return(function)
