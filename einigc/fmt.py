"""Formatting: black, the last stage, so that output is stable and reviewable."""

from __future__ import annotations

from einigc.errors import InternalError


def format_source(source: str) -> str:
    import black  # imported here: `einigc --help` should not pay for it

    try:
        return black.format_str(source, mode=black.Mode(target_versions={black.TargetVersion.PY39}))
    except Exception as exc:  # black rejects only code we emitted wrongly
        raise InternalError("format", f"black could not format the generated code: {exc}") from exc
