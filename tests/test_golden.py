"""Golden generated modules and the checked-in examples must match a fresh compile."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys

import pytest

from einigc.compiler import compile_text
from einigc.ein_parser import parse
from tests import golden
from tests.conftest import REPO, compile_source, run_cli

SPECS = golden.specs()
EXAMPLES = sorted((REPO / "examples").glob("*.ein"))


def test_there_are_golden_files():
    assert len(SPECS) >= 5
    assert {s.stem for s in SPECS} >= {"core_einsum", "nary_planning", "ellipsis", "booleans", "calls"}


CASES = golden.cases()


@pytest.mark.parametrize("spec, target", CASES, ids=[f"{s.stem}-{t}" for s, t in CASES])
def test_golden_module_is_current(spec, target):
    diff = golden.stale_diff(spec, target)
    assert not diff, (
        f"{golden.generated_path(spec, target).name} is stale; if the change is intended, run\n"
        f"    python -m tests.golden --update\n"
        f"and review this diff:\n{diff}"
    )


def test_every_golden_module_has_its_spec():
    modules = sorted(p.name for p in golden.GOLDEN_DIR.glob("*.py"))
    assert modules == sorted(golden.generated_path(s, t).name for s, t in CASES)


def test_each_target_has_golden_modules_and_numpy_leaves_out_eingrad():
    assert {t for _, t in CASES} == set(golden.TARGETS)
    assert ("eingrad", "numpy") not in {(s.stem, t) for s, t in CASES}


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_golden_module_is_what_the_cli_writes(spec, tmp_path):
    # golden.generate must name files exactly as the command does.
    shutil.copy(spec, tmp_path / spec.name)
    for target in golden.targets_of(spec):
        out = golden.generated_path(tmp_path / spec.name, target)
        result = run_cli([spec.name, "--target", target, "-o", out.name], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert out.read_text(encoding="utf-8") == golden.generate(spec, target)


# What a module of each target may import: its framework and the standard library.
FRAMEWORK_MODULES = {"tensorflow": {"tensorflow"}, "torch": {"torch"}, "jax": {"jax", "jax.numpy"}, "numpy": {"numpy"}}
STDLIB = {"math", "functools", "collections.abc"}


@pytest.mark.parametrize("spec, target", CASES, ids=[f"{s.stem}-{t}" for s, t in CASES])
def test_golden_module_is_formatted_python_that_imports_only_its_framework(spec, target):
    import ast

    import black

    source = golden.generated_path(spec, target).read_text(encoding="utf-8")
    assert black.format_str(source, mode=black.Mode()) == source
    assert source.splitlines()[1].startswith(f"# Target: {target}.")
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert FRAMEWORK_MODULES[target] <= imported <= FRAMEWORK_MODULES[target] | STDLIB
    declared = {d.name for d in parse(spec.read_text(encoding="utf-8")).declarations}
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert declared <= defined


def test_update_rewrites_only_stale_modules(tmp_path):
    for spec in SPECS[:2]:
        shutil.copy(spec, tmp_path / spec.name)
    first, second = golden.specs(tmp_path)
    for spec, target in golden.cases(tmp_path):
        golden.generated_path(spec, target).write_text(golden.generate(spec, target), encoding="utf-8")
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

from einigc import config  # noqa: E402

EXAMPLE_OUTPUTS = config.find(REPO / "examples").outputs


def test_there_are_examples_and_each_is_built_for_every_target_it_compiles_for():
    assert EXAMPLES
    built = {(o.source.name, o.target) for o in EXAMPLE_OUTPUTS}
    assert {o.source for o in EXAMPLE_OUTPUTS} == set(EXAMPLES)
    for target in golden.TARGETS:
        assert ("specs.ein", target) in built
        assert ("derivatives.ein", target) in built or target in golden.WITHOUT_EINGRAD


@pytest.mark.parametrize("output", EXAMPLE_OUTPUTS, ids=[o.output.name for o in EXAMPLE_OUTPUTS])
def test_checked_in_example_output_is_current(output):
    # `make generate` writes the outputs examples/pyproject.toml lists.
    generated = output.output
    assert generated.exists(), f"missing {generated.name}: run make generate"
    fresh = compile_text(output.source.read_text(encoding="utf-8"), output.source.name, output.target).source
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
