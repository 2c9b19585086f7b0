"""The pipeline: parse → check → lower (with planning) → prune → emit → format."""

from __future__ import annotations

from dataclasses import dataclass

import dataclasses

from einigc import checks, ein_parser, emit, fmt, lower, prune
from einigc.errors import Diagnostic, DiagnosticSink


@dataclass(frozen=True)
class Result:
    source: str  # the generated module
    notes: tuple[Diagnostic, ...]


def compile_text(text: str, source_name: str = "specs.ein", output_name: str = "specs_generated.py") -> Result:
    """Compiles `.ein` text; raises CompileErrors listing every problem."""
    sink = DiagnosticSink()
    # The names go into comments and docstrings: no line breaks in them.
    source_name, output_name = emit.printable_name(source_name), emit.printable_name(output_name)
    module = ein_parser.parse(text, sink)  # syntax errors wait for the checks' errors
    program = checks.check(module, sink)
    ir_module = lower.lower(program, source_name, sink)
    ir_module = dataclasses.replace(ir_module, functions=tuple(map(prune.prune, ir_module.functions)))
    chunks = emit.emit(ir_module, output_name)
    return Result(fmt.format_chunks(chunks), tuple(sink.notes))
