"""Formatting: black, the last stage, so that output is stable and reviewable."""

from __future__ import annotations

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


def format_chunks(chunks: list[str]) -> str:
    """Formats each top-level chunk and joins them as black would: two blank lines."""
    import black  # imported here: `einigc --help` should not pay for it

    mode = black.Mode(target_versions={black.TargetVersion.PY39})
    formatted = []
    for index, chunk in enumerate(chunks):
        try:
            if index == 0 or _needs_black(chunk):
                chunk = black.format_str(chunk, mode=mode)
        except Exception as exc:  # black rejects only code we emitted wrongly
            raise InternalError("format", f"black could not format the generated code: {exc}") from exc
        formatted.append(chunk.strip("\n") + "\n")
    return "\n\n".join(formatted)


def format_source(source: str) -> str:
    """Formats a whole module with black (the reference the chunked path must match)."""
    import black

    mode = black.Mode(target_versions={black.TargetVersion.PY39})
    return black.format_str(source, mode=mode)
