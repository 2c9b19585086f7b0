"""Packaging: the wheel carries the grammar, templates, runtime modules and entry point, and works once installed.

The wheel is built from a copy of the working tree, so that setuptools'
build/ and *.egg-info folders never appear in the checkout. Installing it
needs the package index (as CI has) for einigc's dependencies.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, compile_source

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment

_NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "bench"
)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def _run(args, cwd, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "einigc"
    shutil.copytree(REPO, source, ignore=_NOT_SHIPPED)
    out = tmp_path_factory.mktemp("wheels")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source], cwd=source)
    (built,) = out.glob("einigc-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel (and its dependencies) installed."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel], cwd=venv.parent)
    return venv


def test_wheel_contains_grammar_templates_and_code(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for grammar in sorted((REPO / "grammar").glob("*.lark")):
        assert f"einigc/grammar/{grammar.name}" in names
    for template in sorted((REPO / "templates").glob("*.j2")):
        assert f"einigc/templates/{template.name}" in names
    # Every module, subpackages too (setup.cfg lists each package).
    for module in sorted((REPO / "einigc").rglob("*.py")):
        assert module.relative_to(REPO).as_posix() in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "examples/"))]


def test_wheel_declares_the_console_script(wheel):
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(archive.read(entry_points).decode("utf-8"))
    assert parser["console_scripts"]["einigc"].strip() == "einigc.cli:main"


def test_installed_command_compiles_the_example(installed, tmp_path):
    # Run from outside the checkout: only the installed copy can be found.
    spec = tmp_path / "specs.ein"
    shutil.copy(REPO / "examples" / "specs.ein", spec)
    result = _run([installed / "bin" / "einigc", "specs.ein", "-o", "-"], cwd=tmp_path)
    assert result.stdout == compile_source(spec.read_text(encoding="utf-8"), "specs.ein")


def test_installed_module_reports_its_version_and_location(installed, tmp_path):
    import einigc

    python = installed / "bin" / "python"
    result = _run([python, "-m", "einigc", "--version"], cwd=tmp_path)
    assert result.stdout.strip() == f"einigc {einigc.__version__}"
    where = _run(
        [
            python,
            "-c",
            "import einigc, einigc.resources as r; print(einigc.__file__); print(r.grammar_path('ein.lark'));"
            " print(r.templates_dir()); print(r.runtime_path('tensorflow'))",
        ],
        cwd=tmp_path,
    ).stdout.split("\n")
    for path in where[:4]:
        assert Path(path).resolve().is_relative_to(installed.resolve()), path
        assert not Path(path).resolve().is_relative_to(REPO.resolve()), path
