"""Compiling `.ein` text with the einigc package and importing the generated modules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def compile_file(ein_path: Path, out_path: Path) -> None:
    """Compiles `ein_path` with the einigc package into `out_path`."""
    from einigc.compiler import compile_text

    result = compile_text(ein_path.read_text(), ein_path.name)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(result.source)


def compile_module_text(text: str, out_path: Path, module_name: str, source_name: str):
    """Compiles `text` into `out_path` and imports it as `module_name`."""
    from einigc.compiler import compile_text

    result = compile_text(text, source_name)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(result.source)
    return import_path(out_path, module_name)


def import_path(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def short_error(exc: BaseException) -> str:
    """One line about `exc`: a compile error's message, else its first line."""
    text = str(exc).strip() or type(exc).__name__
    diagnostic = getattr(exc, "diagnostic", None)
    if diagnostic is not None:
        text = diagnostic.message
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    return f"{type(exc).__name__}: {line}"[:160]
