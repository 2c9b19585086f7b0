"""`[tool.einigc]` in pyproject.toml: the project's generated modules, built by `einigc` alone.

    [tool.einigc]
    outputs = [
      { source = "ops/specs.ein", output = "ops/specs_generated.py" },
      { source = "ops/specs.ein", output = "ops/specs_torch.py", target = "torch" },
    ]

Paths are relative to the folder of the pyproject.toml; `output` defaults to
SOURCE_generated.py beside the source, as on the command line; `target`
(tensorflow, torch, jax or numpy) to the table's `target`, else tensorflow.
The file used
is the first pyproject.toml with a [tool.einigc] table in the current
directory or above it, as ruff and black find theirs. Unknown keys are errors,
so that a misspelt key never silently builds something else.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from einigc.errors import Diagnostic, Pos
from einigc.targets import DEFAULT, TARGETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli
    import tomli as tomllib

_TABLE_KEYS = ("outputs", "target")
_OUTPUT_KEYS = ("source", "output", "target")


@dataclass(frozen=True)
class Output:
    """One generated module: absolute paths."""

    source: Path
    output: Path
    target: str = DEFAULT


@dataclass(frozen=True)
class Config:
    path: Path  # the pyproject.toml
    outputs: tuple[Output, ...]


class ConfigError(Exception):
    """Every problem of the table: `FILE:LINE:COL: error: ...` with the line and a caret where the key is found."""


def _shown(path: Path) -> str:
    """The pyproject.toml as the user reads it: relative to the current directory."""
    return os.path.relpath(path)


def _render(path: Path, lines: list[str], message: str, pos: Pos | None) -> str:
    if pos is None:
        return f"{_shown(path)}: error: {message}"
    return Diagnostic(pos, message).render(_shown(path), lines)


def find(start: Path) -> Config | None:
    """The config of the first pyproject.toml with a [tool.einigc] table in `start` or above.

    A pyproject.toml on the way that is not valid TOML is an error: whether
    it holds the table cannot be known.
    """
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            text, data = _load(candidate)
            tool = data.get("tool")
            if isinstance(tool, dict) and "einigc" in tool:
                return _parse(candidate, text, tool["einigc"])
    return None


def _load(path: Path) -> tuple[str, dict]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(_render(path, [], f"cannot read it: {exc.strerror or exc}", None)) from None
    except UnicodeDecodeError:
        raise ConfigError(_render(path, [], "the file is not UTF-8", None)) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib and tomli end the message with "(at line L, column C)".
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        pos = Pos(int(where[1]), int(where[2])) if where else None
        if where:
            message = message[: where.start()]
        raise ConfigError(_render(path, text.splitlines(), message, pos)) from None


def _parse(path: Path, text: str, table: object) -> Config:
    problems = _Problems(path, text)
    if not isinstance(table, dict):
        problems.add("[tool.einigc] must be a table")
        problems.raise_if_any()
    for key in table:
        if key not in _TABLE_KEYS:
            problems.add(f"unknown key '{key}' in [tool.einigc] (known: {', '.join(_TABLE_KEYS)})", key)
    default = _target(table.get("target", DEFAULT), "[tool.einigc]", problems, DEFAULT)
    outputs = _outputs(path.parent, table.get("outputs"), problems, default)
    problems.raise_if_any()
    return Config(path, tuple(outputs))


def _target(value: object, where: str, problems: _Problems, default: str, entry: int = 0) -> str:
    if isinstance(value, str) and value in TARGETS:
        return value
    problems.add(f"'target' in {where} must be one of {', '.join(TARGETS)}, not {value!r}", "target", entry)
    return default


def _outputs(folder: Path, entries: object, problems: _Problems, default: str) -> list[Output]:
    if entries is None:
        problems.add("[tool.einigc] has no 'outputs': list the generated modules there")
    elif not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        problems.add("'outputs' in [tool.einigc] must be a list of tables", "outputs")
    elif not entries:
        problems.add("'outputs' in [tool.einigc] is empty: there is nothing to build", "outputs")
    else:
        outputs = [_output(folder, entry, k, problems, default) for k, entry in enumerate(entries, 1)]
        _no_output_twice(outputs, problems)
        return [output for output in outputs if output is not None]
    return []


def _output(folder: Path, entry: dict, number: int, problems: _Problems, default: str) -> Output | None:
    where = f"entry {number} of 'outputs' in [tool.einigc]"
    for key in entry:
        if key not in _OUTPUT_KEYS:
            problems.add(f"unknown key '{key}' in {where} (known: {', '.join(_OUTPUT_KEYS)})", key, number)
    source, output = entry.get("source"), entry.get("output")
    if source is None:
        problems.add(f"{where} has no 'source'", entry=number)
    for key, value in (("source", source), ("output", output)):
        if value is not None and (not isinstance(value, str) or not value):
            problems.add(f"'{key}' in {where} must be a path (a non-empty string)", key, number)
            return None
    target = _target(entry.get("target", default), where, problems, default, number)
    if source is None:
        return None
    source_path = folder / source
    if output is None:
        return Output(source_path, source_path.with_name(source_path.stem + "_generated.py"), target)
    return Output(source_path, folder / output, target)


def _no_output_twice(outputs: list[Output | None], problems: _Problems) -> None:
    first: dict[Path, int] = {}
    for number, entry in enumerate(outputs, 1):
        if entry is None:
            continue
        key = entry.output.resolve()
        if key in first:
            shown = os.path.relpath(entry.output, problems.path.parent).replace(os.sep, "/")
            message = f"entries {first[key]} and {number} of 'outputs' in [tool.einigc] both write {shown}"
            problems.add(message, entry=number)
        first.setdefault(key, number)


class _Problems:
    """Collects the table's problems, each placed on the line of its key where it can be found."""

    def __init__(self, path: Path, text: str):
        self.path, self.lines, self.messages = path, text.splitlines(), []
        # The table's header (None when it is written as dotted keys).
        self.table_line = next(
            (k for k, line in enumerate(self.lines) if re.match(r"\s*\[\[?\s*tool\s*\.\s*einigc\b", line)), None
        )

    def add(self, message: str, key: str | None = None, entry: int = 0) -> None:
        start = self._entry_line(entry)
        pos = None
        if key:
            pos = self._key_pos(key, start or 0)
        elif start is not None:
            line = self.lines[start]
            pos = Pos(start + 1, len(line) - len(line.lstrip()) + 1)
        self.messages.append(_render(self.path, self.lines, message, pos))

    def _entry_line(self, number: int) -> int | None:
        """Where entry `number` (1-based) of 'outputs' starts, its `{` or its [[...]]
        header; for 0, the table's header."""
        count = 0
        for k in range(self.table_line or 0, len(self.lines) if number else 0):
            line = self.lines[k].split("#", 1)[0]
            if re.match(r"\s*\[\[\s*tool\s*\.\s*einigc\s*\.\s*outputs\s*\]\]", line):
                count += 1
            else:
                count += line.count("{")
            if count >= number:
                return k
        return self.table_line

    def _key_pos(self, key: str, start: int) -> Pos | None:
        # The first `key =` from there, outside strings and comments: the key's
        # own line in the layouts people write (a table, inline tables, [[...]] tables).
        pattern = re.compile(rf"(^|[\s{{,])({re.escape(key)})\s*=")
        for k in range(start, len(self.lines)):
            found = pattern.search(_code_only(self.lines[k]))
            if found:
                return Pos(k + 1, found.start(2) + 1)
        return None

    def raise_if_any(self) -> None:
        if self.messages:
            raise ConfigError("\n".join(self.messages))


def _code_only(line: str) -> str:
    """`line` with its strings' contents and its comment blanked: the same columns, only keys and punctuation."""
    out, quote = [], ""
    for ch in line:
        if quote:
            out.append(ch if ch == quote else " ")
            quote = "" if ch == quote else quote
        elif ch == "#":
            break
        else:
            out.append(ch)
            quote = ch if ch in "\"'" else ""
    return "".join(out)
