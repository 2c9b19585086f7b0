"""Formatting: black, the last stage, so that output is stable and reviewable."""

from __future__ import annotations

import ast

from einigc.errors import InternalError

# black's default line length, which the generated code is formatted to.
LINE_LENGTH = 88


def _needs_black(chunk: str) -> bool:
    """False for a chunk that black provably leaves as it is.

    Formatting dominates compile time (6 of 8 s for 1,000 declarations), and
    most generated functions are short statements the templates already lay
    out as black does. A chunk goes through black unless every line fits and
    holds only what the templates emit in black's style; tests check that
    the result equals black's output on the whole module.
    """
    if "\t" in chunk or '\\"""' in chunk or '""""' in chunk:
        return True  # tabs, and docstrings ending in a quote or backslash
    for line in chunk.split("\n"):
        if len(line) > LINE_LENGTH or line != line.rstrip():
            return True
    return False


def _too_long(line: str) -> bool:
    return len(line) > LINE_LENGTH or line != line.rstrip()


def _statement_spans(chunk: str) -> list[tuple[int, int]] | None:
    """The simple statements (first, last line; 0-based) that hold every line
    black would change, or None when something else holds one of them.

    Black lays out each statement on its own, counting its indentation
    against the line length, so such a statement formats alone, dedented,
    with the line length less its indentation: a fraction of the time of
    formatting the whole function.
    """
    if "\t" in chunk or '\\"""' in chunk or '""""' in chunk:
        return None
    try:
        tree = ast.parse(chunk)
    except SyntaxError:
        return None
    lines = chunk.split("\n")
    long = {k for k, line in enumerate(lines) if _too_long(line)}
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    function = tree.body[0]
    spans: list[tuple[int, int]] = []
    covered: set[int] = set()

    def visit(statements) -> bool:
        for statement in statements:
            first, last = statement.lineno - 1, statement.end_lineno - 1
            if not long & set(range(first, last + 1)):
                continue
            if isinstance(statement, (ast.If, ast.With)):
                header_end = statement.body[0].lineno - 1
                if long & set(range(first, header_end)):
                    return False
                orelse = statement.orelse if isinstance(statement, ast.If) else []
                if not (visit(statement.body) and visit(orelse)):
                    return False
            elif isinstance(statement, (ast.Assign, ast.Return, ast.AugAssign)):
                spans.append((first, last))
                covered.update(range(first, last + 1))
            else:
                return False
        return True

    if function.lineno - 1 in long or not visit(function.body) or not long <= covered:
        return None
    return spans


def _format_chunk(chunk: str, black, mode) -> str:
    spans = _statement_spans(chunk)
    if spans is None:
        return black.format_str(chunk, mode=mode)
    lines = chunk.split("\n")
    for first, last in reversed(spans):
        indent = len(lines[first]) - len(lines[first].lstrip(" "))
        text = "\n".join(line[indent:] for line in lines[first : last + 1]) + "\n"
        narrow = black.Mode(target_versions=mode.target_versions, line_length=LINE_LENGTH - indent)
        done = black.format_str(text, mode=narrow).rstrip("\n").split("\n")
        lines[first : last + 1] = [" " * indent + line if line else line for line in done]
    return "\n".join(lines)


def format_chunks(chunks: list[str]) -> str:
    """Formats each top-level chunk and joins them as black would: two blank lines."""
    import black  # imported here: `einigc --help` should not pay for it

    mode = black.Mode(target_versions={black.TargetVersion.PY39})
    formatted = []
    for index, chunk in enumerate(chunks):
        try:
            if index == 0:
                chunk = black.format_str(chunk, mode=mode)
            elif _needs_black(chunk):
                chunk = _format_chunk(chunk, black, mode)
        except Exception as exc:  # black rejects only code we emitted wrongly
            raise InternalError("format", f"black could not format the generated code: {exc}") from exc
        formatted.append(chunk.strip("\n") + "\n")
    return "\n\n".join(formatted)


def format_source(source: str) -> str:
    """Formats a whole module with black (the reference the chunked path must match)."""
    import black

    mode = black.Mode(target_versions={black.TargetVersion.PY39})
    return black.format_str(source, mode=mode)
