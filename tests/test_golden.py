"""Golden generated modules and the checked-in examples must match a fresh compile."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys

import pytest

from einigc.ein_parser import parse
from tests import golden
from tests.conftest import REPO, compile_source, run_cli

SPECS = golden.specs()
EXAMPLES = sorted((REPO / "examples").glob("*.ein"))


def test_there_are_golden_files():
    assert len(SPECS) >= 5
    assert {s.stem for s in SPECS} >= {"core_einsum", "nary_planning", "ellipsis", "booleans", "calls"}


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_golden_module_is_current(spec):
    diff = golden.stale_diff(spec)
    assert not diff, (
        f"{golden.generated_path(spec).name} is stale; if the change is intended, run\n"
        f"    python -m tests.golden --update\n"
        f"and review this diff:\n{diff}"
    )


def test_every_golden_module_has_its_spec():
    modules = sorted(p.name for p in golden.GOLDEN_DIR.glob("*_generated.py"))
    assert modules == sorted(golden.generated_path(s).name for s in SPECS)


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_golden_module_is_what_the_cli_writes(spec, tmp_path):
    # golden.generate must name files exactly as the command does.
    shutil.copy(spec, tmp_path / spec.name)
    out = golden.generated_path(tmp_path / spec.name)
    result = run_cli([spec.name, "-o", out.name], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == golden.generate(spec)


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_golden_module_is_formatted_python_that_imports_only_tensorflow(spec):
    import ast

    import black

    source = golden.generated_path(spec).read_text(encoding="utf-8")
    assert black.format_str(source, mode=black.Mode()) == source
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "tensorflow" in imported
    assert not any(name.split(".")[0] == "einigc" for name in imported)
    declared = {d.name for d in parse(spec.read_text(encoding="utf-8")).declarations}
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert declared <= defined


def test_update_rewrites_only_stale_modules(tmp_path):
    for spec in SPECS[:2]:
        shutil.copy(spec, tmp_path / spec.name)
    first, second = golden.specs(tmp_path)
    golden.generated_path(second).write_text(golden.generate(second), encoding="utf-8")
    golden.generated_path(first).write_text("stale\n", encoding="utf-8")
    assert golden.update(tmp_path) == [golden.generated_path(first)]
    assert all(golden.stale_diff(s) == "" for s in (first, second))
    assert golden.update(tmp_path) == []


def test_stale_diff_is_a_readable_unified_diff(tmp_path):
    spec = SPECS[0]
    shutil.copy(spec, tmp_path / spec.name)
    copy = tmp_path / spec.name
    fresh = golden.generate(copy)
    golden.generated_path(copy).write_text(fresh.replace("def ", "def renamed_", 1), encoding="utf-8")
    diff = golden.stale_diff(copy).splitlines()
    assert diff[0] == f"--- {golden.generated_path(copy).name} (checked in)"
    assert diff[1] == f"+++ {golden.generated_path(copy).name} (generated now)"
    assert any(line.startswith("-def renamed_") for line in diff)


@pytest.mark.slow  # starts processes
def test_golden_command_line_check_mode():
    result = subprocess.run(
        [sys.executable, "-m", "tests.golden"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


# --- examples -------------------------------------------------------------------


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("spec", EXAMPLES, ids=[s.stem for s in EXAMPLES])
def test_checked_in_example_output_is_current(spec):
    # `make generate` writes examples/NAME_generated.py beside examples/NAME.ein.
    generated = spec.with_name(f"{spec.stem}_generated.py")
    assert generated.exists(), f"missing {generated.name}: run make generate"
    fresh = compile_source(spec.read_text(encoding="utf-8"), spec.name)
    current = generated.read_text(encoding="utf-8")
    if current != fresh:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                fromfile=f"{generated.name} (checked in)",
                tofile=f"{generated.name} (generated now)",
            )
        )
        pytest.fail(f"{generated.name} is stale; run `make generate` and review:\n{diff}")
