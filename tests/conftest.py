"""Shared test helpers: quiet TensorFlow, compile text in-process, run the `einigc` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Set before any test imports TensorFlow: its C++ start-up logging is noise.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

REPO = Path(__file__).resolve().parent.parent

# `from tests import golden` must work under plain `pytest` too, not only
# under `python -m pytest` (which puts the working directory on sys.path).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def compile_source(text: str, source_name: str = "specs.ein") -> str:
    """The generated module for `text`; CompileErrors propagate."""
    from einigc.compiler import compile_text

    return compile_text(text, source_name).source


def compile_diagnostics(text: str) -> list:
    """The diagnostics of a `.ein` text that must not compile."""
    from einigc.errors import CompileErrors

    try:
        compile_source(text)
    except CompileErrors as errors:
        return errors.diagnostics
    raise AssertionError(f"expected compile errors, but this compiled:\n{text}")


def run_cli(args, cwd=None, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `python -m einigc ARGS` in a subprocess; returns its exit code, stdout and stderr as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "einigc", *map(str, args)],
        cwd=str(cwd) if cwd is not None else None,
        env=full_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


@pytest.fixture
def compile_ok():
    """`compile_ok(text)`: the generated module source."""
    return compile_source


@pytest.fixture
def compile_fails():
    """`compile_fails(text)`: the list of diagnostics (fails the test if the text compiles)."""
    return compile_diagnostics


@pytest.fixture
def cli():
    """`cli(args, cwd=None, env=None)`: a CompletedProcess of the `einigc` command."""
    return run_cli
