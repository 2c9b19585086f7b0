"""The `einigc` command's text paths, run in this process: errors, --check diffs, [tool.einigc] errors.

tests/test_cli.py runs the command in fresh processes (slow); these run its
`main` here, for make test-fast. What they print is what the command prints
(tests/test_errors_catalogue.py checks that on two cases).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compile_source, run_main

SPEC = 'mm(a, b) = einsum("ij,jk->ik", a, b)\ntranspose(x) = einsum("ij->ji", x)\n'


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "specs.ein").write_text(SPEC, encoding="utf-8")
    return tmp_path


def test_an_error_is_printed_at_its_position_with_the_line_and_a_caret_and_nothing_is_written(workdir):
    (workdir / "specs.ein").write_text('mm(a, b) = einsum("ij,jk->ik", a, c)\n', encoding="utf-8")
    result = run_main(["specs.ein", "-o", "ops.py"], cwd=workdir)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "specs.ein:1:35: error: unknown name 'c'",
        '    mm(a, b) = einsum("ij,jk->ik", a, c)',
        "                                      ^",
        "  hint: the parameters of 'mm' are: a, b",
        "1 error; nothing written",
    ]
    assert sorted(p.name for p in workdir.iterdir()) == ["specs.ein"]


def test_errors_of_several_declarations_are_all_printed_in_order(workdir):
    text = 'f(x) = einsum("i->j", x)\ng(x) = einsum("ij->i", y)\n'
    (workdir / "specs.ein").write_text(text, encoding="utf-8")
    result = run_main(["specs.ein"], cwd=workdir)
    assert result.returncode == 2
    headers = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert [h.split(": error: ")[0] for h in headers] == ["specs.ein:1:19", "specs.ein:2:24"]
    assert result.stderr.endswith("2 errors; nothing written\n")


def test_check_of_a_current_output_passes_silently(workdir):
    (workdir / "ops.py").write_text(compile_source(SPEC, "specs.ein"), encoding="utf-8")
    result = run_main(["specs.ein", "-o", "ops.py", "--check"], cwd=workdir)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_of_a_stale_output_prints_a_unified_diff_and_how_to_fix_it(workdir):
    stale = compile_source(SPEC, "specs.ein").replace("def transpose(", "def transposed(")
    (workdir / "ops.py").write_text(stale, encoding="utf-8")
    result = run_main(["specs.ein", "-o", "ops.py", "--check"], cwd=workdir)
    assert result.returncode == 1
    changed = [line for line in result.stdout.splitlines() if line.startswith(("-", "+"))]
    assert changed[0].startswith("--- ops.py") and changed[1].startswith("+++ ops.py")
    assert changed[2:] == [
        "-def transposed(x: tf.Tensor) -> tf.Tensor:",
        "+def transpose(x: tf.Tensor) -> tf.Tensor:",
    ]
    assert any(line.startswith("@@ ") for line in result.stdout.splitlines())
    assert "einigc specs.ein -o ops.py" in result.stderr
    assert (workdir / "ops.py").read_text(encoding="utf-8") == stale


def test_check_of_a_missing_output_says_it_is_missing(workdir):
    result = run_main(["specs.ein", "--check"], cwd=workdir)
    assert result.returncode == 1
    assert result.stderr == (
        "einigc: specs_generated.py is missing; regenerate it with: einigc specs.ein -o specs_generated.py\n"
    )


def test_a_file_error_names_the_file(tmp_path):
    result = run_main(["nope.ein", "-o", "out.py"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("nope.ein: error: ")
    assert not (tmp_path / "out.py").exists()


def test_a_usage_error_is_exit_2_with_the_usage(tmp_path):
    result = run_main(["--no-such-option"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: einigc")
    assert "--no-such-option" in result.stderr


def test_a_misspelt_table_key_is_an_error_at_its_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.einigc]\nouputs = []\n", encoding="utf-8")
    result = run_main([], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("pyproject.toml:2:1: error: unknown key 'ouputs' in [tool.einigc]")
