"""Shared test helpers: framework markers and blocking, quiet TensorFlow, compile text in-process, run `einigc`."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

# Set before any test imports TensorFlow: its C++ start-up logging is noise.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

REPO = Path(__file__).resolve().parent.parent

# `from tests import golden` must work under plain `pytest` too, not only
# under `python -m pytest` (which puts the working directory on sys.path).
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests import frameworks  # noqa: E402

# Before any test module is imported: EINIG_BLOCK_FRAMEWORKS=tensorflow runs
# the suite as where TensorFlow is not installed (see tests/frameworks.py).
frameworks.block(frameworks.blocked())


def pytest_configure(config):
    for framework in frameworks.FRAMEWORKS:
        config.addinivalue_line("markers", f"{framework}: needs {framework}; skipped where it cannot be imported")
    config.addinivalue_line("markers", "slow: many seconds (builds, whole-suite runs); left out of make test-fast")


def _frameworks_needed(item) -> set[str]:
    """The frameworks the test's module holds (imported at its top) or its fixtures give it."""
    module = getattr(item, "module", None)
    held = vars(module).values() if module is not None else ()
    needed = {frameworks.framework_of(value.__name__) for value in held if isinstance(value, types.ModuleType)}
    needed |= {framework for name, framework in _FRAMEWORK_FIXTURES.items() if name in item.fixturenames}
    return needed - {None}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        for framework in sorted(_frameworks_needed(item)):
            item.add_marker(getattr(pytest.mark, framework))


def pytest_runtest_setup(item):
    for framework in frameworks.FRAMEWORKS:
        if item.get_closest_marker(framework) and not frameworks.available(framework):
            pytest.skip(f"{framework} cannot be imported here")


_FRAMEWORK_FIXTURES = {"tf": "tensorflow"}


@pytest.fixture
def tf():
    """TensorFlow, for one test in a module that otherwise runs without it."""
    return pytest.importorskip("tensorflow")


def compile_source(text: str, source_name: str = "specs.ein") -> str:
    """The generated module for `text` (compiled once per process); CompileErrors propagate."""
    from tests import golden

    return golden.compiled(text, source_name)


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


def run_main(args, cwd) -> subprocess.CompletedProcess:
    """`einigc ARGS` in this process (`einigc.cli.main`, in `cwd`): what run_cli gives, without starting Python.

    stdout and stderr are read as run_cli reads them (UTF-8, universal newlines).
    """
    from einigc.cli import main

    streams = [io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2)]
    here = os.getcwd()
    os.chdir(cwd)  # not contextlib.chdir: that is Python 3.11+
    try:
        with contextlib.redirect_stdout(streams[0]), contextlib.redirect_stderr(streams[1]):
            code = main([str(a) for a in args])
    finally:
        os.chdir(here)
    stdout, stderr = (io.StringIO(s.buffer.getvalue().decode("utf-8"), newline=None).read() for s in streams)
    return subprocess.CompletedProcess(["einigc", *map(str, args)], code, stdout, stderr)


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
