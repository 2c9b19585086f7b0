"""The error catalogue: every diagnostic the compiler prints, as a reviewed golden file.

Each tests/errors/NAME.ein is compiled by the `einigc` command (its `main`,
in this process: a few cases also through a process); its whole stderr must
equal tests/errors/NAME.expected. After changing a message on
purpose, regenerate with

    EINIG_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_errors_catalogue.py

and read the diff: the caret must sit under the offending character.
A case named warning_NAME compiles: its stderr holds warnings, not errors.
A case named TARGET_NAME (numpy_NAME) is compiled with `--target TARGET`.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_main

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "tests" / "errors"
CASES = sorted(path.stem for path in CATALOGUE.glob("*.ein"))
UPDATE = os.environ.get("EINIG_UPDATE_GOLDEN") == "1"

ERROR_CLASSES = {"EinSyntaxError", "EinNameError", "EinAxisError", "EinUnsupportedError"}

# Messages in the source that no input can trigger, and why. Keep this short:
# an entry here is a message nobody reviews.
UNREACHABLE = {
    "invalid syntax": "fallback for UnexpectedInput subclasses that lark's LALR parser does not raise",
}

_HEADER = re.compile(
    r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning|note): (?P<message>.*)$"
)


def test_catalogue_is_not_empty():
    assert len(CASES) >= 40


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """(CompletedProcess, output folder) of `einigc NAME.ein -o FOLDER/out.py` for every case, in this process."""
    runs = {}
    for name in CASES:
        folder = tmp_path_factory.mktemp(name)
        runs[name] = (run_main([f"{name}.ein", *target_option(name), "-o", folder / "out.py"], cwd=CATALOGUE), folder)
    return runs


def target_option(name: str) -> list[str]:
    target = name.split("_", 1)[0]
    return ["--target", target] if target in ("torch", "jax", "numpy") else []


@pytest.mark.parametrize("name", CASES)
def test_diagnostic_text(name, cli_runs):
    result, folder = cli_runs[name]
    expected_path = CATALOGUE / f"{name}.expected"
    # The summary of a compile that succeeds names the (temporary) output.
    stderr = result.stderr.replace(str(folder / "out.py"), "out.py")
    if UPDATE:
        expected_path.write_text(stderr, encoding="utf-8")
    compiles = name.startswith("warning_")
    assert result.returncode == (0 if compiles else 2), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # No output for an error, and no temporary file left behind.
    assert [path.name for path in folder.iterdir()] == (["out.py"] if compiles else [])
    assert expected_path.exists(), f"missing {expected_path.name}: run with EINIG_UPDATE_GOLDEN=1"
    assert stderr == expected_path.read_text(encoding="utf-8")


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("name", [CASES[0], next(c for c in CASES if c.startswith("warning_"))])
def test_the_command_prints_what_main_prints(name, cli_runs, tmp_path):
    in_process, folder = cli_runs[name]
    result = run_cli([f"{name}.ein", "-o", tmp_path / "out.py"], cwd=CATALOGUE)
    assert result.returncode == in_process.returncode
    assert result.stderr.replace(str(tmp_path), "FOLDER") == in_process.stderr.replace(str(folder), "FOLDER")


def rendered_diagnostics(text: str):
    """(line, col, message, source line, caret line, severity) of each diagnostic in a CLI's stderr."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _HEADER.match(line)
        if match:
            yield (
                int(match["line"]),
                int(match["col"]),
                match["message"],
                lines[index + 1],
                lines[index + 2],
                match["severity"],
            )


@pytest.mark.parametrize("name", CASES)
def test_expected_file_is_well_formed(name):
    """Each diagnostic quotes its source line and puts the caret at its column."""
    source_lines = (CATALOGUE / f"{name}.ein").read_text(encoding="utf-8").split("\n")
    expected = (CATALOGUE / f"{name}.expected").read_text(encoding="utf-8")
    found = list(rendered_diagnostics(expected))
    assert found, "no diagnostic in the expected file"
    errors = [d for d in found if d[5] == "error"]
    if name.startswith("warning_"):
        assert not errors and "nothing written" not in expected
    else:
        assert expected.endswith(f"{len(errors)} error{'s' if len(errors) != 1 else ''}; nothing written\n")
    positions = [(line, col) for line, col, *_ in found]
    assert positions == sorted(positions)
    for line, col, _message, quoted, caret, _severity in found:
        assert quoted == "    " + source_lines[line - 1]
        assert caret.rstrip("^").strip(" \t") == "" and caret.endswith("^")
        assert len(caret) - 1 == 4 + col - 1  # tabs are copied, so this counts characters


def message_templates() -> dict[str, tuple[str, int]]:
    """Regex of each error and warning message in einigc/**/*.py, mapped to (file, line) of its raise site."""
    templates: dict[str, tuple[str, int]] = {}
    for path in sorted((REPO / "einigc").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and len(node.args) >= 2):
                continue
            error = isinstance(node.func, ast.Name) and node.func.id in ERROR_CLASSES
            warning = isinstance(node.func, ast.Attribute) and node.func.attr == "warning"
            if error or warning:
                templates.setdefault(_pattern(node.args[1]), (path.name, node.lineno))
    return templates


def _pattern(node: ast.expr) -> str:
    """A regex for the strings an expression can evaluate to; unknown parts match anything."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            re.escape(part.value) if isinstance(part, ast.Constant) else ".+?" for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _pattern(node.left) + _pattern(node.right)
    return ".+?"


def test_every_message_in_the_source_has_a_catalogue_case():
    templates = message_templates()
    assert len(templates) >= 30, "the scan for raise sites found too few: has errors.py changed?"
    messages = [
        message
        for name in CASES
        for _line, _col, message, *_ in rendered_diagnostics(
            (CATALOGUE / f"{name}.expected").read_text(encoding="utf-8")
        )
    ]
    missing = []
    for pattern, (filename, lineno) in templates.items():
        if any(re.fullmatch(pattern, message) for message in messages):
            continue
        if any(re.fullmatch(pattern, unreachable) for unreachable in UNREACHABLE):
            continue
        missing.append(f"{filename}:{lineno}: /{pattern}/")
    assert not missing, "messages without a case in tests/errors/:\n" + "\n".join(missing)


def test_unreachable_list_is_current():
    templates = message_templates()
    stale = [m for m in UNREACHABLE if not any(re.fullmatch(p, m) for p in templates)]
    assert not stale, f"no longer in the source, remove from UNREACHABLE: {stale}"


def test_every_case_has_an_expected_file_and_vice_versa():
    expected = sorted(path.stem for path in CATALOGUE.glob("*.expected"))
    assert expected == CASES


# --- messages that are wrong, pinned outside the goldens -----------------------


def test_unclosed_group_before_the_arrow_is_reported_as_unclosed(compile_fails):
    # "(ij->i" has one '->': the problem is the '(' that nothing closes.
    (diagnostic,) = compile_fails('merge(x) = einsum("(ij->i", x)\n')
    assert "one '->'" not in diagnostic.message
    assert "(" in diagnostic.message


@pytest.mark.parametrize("odd", ["\x0c", "\u2028"], ids=["form-feed", "line-separator"])
def test_quoted_source_line_is_the_line_of_the_error(odd, tmp_path, cli):
    # The parser ends lines only at '\n'; the CLI splits the file with
    # str.splitlines, which also splits at form feeds and Unicode separators.
    (tmp_path / "odd.ein").write_text(f"# section{odd}\nf(x) = einsum(\"i->\", y)\n", encoding="utf-8")
    result = cli(["odd.ein", "-o", "-"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:3] == [
        "odd.ein:2:22: error: unknown name 'y'",
        '    f(x) = einsum("i->", y)',
        "                         ^",
    ]


def test_expected_tokens_are_those_that_can_follow(compile_fails):
    # At the top level after a body, only 'where', a new declaration or the
    # end can follow; LALR's merged lookaheads also offered ')' and ','.
    (diagnostic,) = compile_fails("f(x) = x 1\n")
    assert diagnostic.message.startswith("unexpected '1'; expected ")
    assert "')'" not in diagnostic.message
    assert "','" not in diagnostic.message
