"""Test harness: compile `.ein` text with einigc, import the generated module.

Generated modules are written to a private temporary directory and imported
under a name derived from a hash of the text; each text is compiled and
imported once per session (the cache saves time in the property tests).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from einigc.compiler import compile_text  # noqa: E402

_CACHE: dict[str, tuple[types.ModuleType, object]] = {}
_DIR: str | None = None


def _module_dir() -> str:
    global _DIR
    if _DIR is None:
        _DIR = tempfile.mkdtemp(prefix="einig_generated_")
        atexit.register(shutil.rmtree, _DIR, True)
    return _DIR


def compile_and_import(text: str, source_name: str = "spec.ein", target: str = "tensorflow"):
    """Compiles `text` for `target`, imports the module; returns (module, compile Result)."""
    key = f"{source_name}\0{target}\0{text}"
    if key in _CACHE:
        return _CACHE[key]
    result = compile_text(text, source_name, target)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    name = f"einig_generated_{digest}"
    path = os.path.join(_module_dir(), name + ".py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(result.source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _CACHE[key] = (module, result)
    return module, result


def compile_module(text: str, source_name: str = "spec.ein", target: str = "tensorflow") -> types.ModuleType:
    return compile_and_import(text, source_name, target)[0]
