"""Diagnostics: one error hierarchy, rendered as `file:line:col: error: ...` with a caret."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Pos:
    """A 1-based line and column in the `.ein` file."""

    line: int
    col: int


@dataclass(frozen=True)
class Diagnostic:
    """One message about one place in the source."""

    pos: Pos
    message: str
    hint: str = ""
    severity: str = "error"
    kind: str = "error"

    def render(self, filename: str, source_lines: list[str]) -> str:
        head = f"{filename}:{self.pos.line}:{self.pos.col}: {self.severity}: {self.message}"
        parts = [head]
        if 1 <= self.pos.line <= len(source_lines):
            line = source_lines[self.pos.line - 1].rstrip("\r\n")
            # Tabs keep their width so that the caret lines up under them.
            pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.pos.col - 1])
            parts.append(f"    {line}")
            parts.append(f"    {pad}^")
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class EinigError(Exception):
    """Root of every error the compiler reports about its input."""

    kind = "error"

    def __init__(self, pos: Pos, message: str, hint: str = ""):
        super().__init__(message)
        self.diagnostic = Diagnostic(pos, message, hint, kind=self.kind)


class EinSyntaxError(EinigError):
    """The text does not follow the grammar."""

    kind = "syntax"


class EinNameError(EinigError):
    """A name is unknown, duplicated, reserved or used recursively."""

    kind = "name"


class EinAxisError(EinigError):
    """Axes, composites, groups or sizes do not fit together."""

    kind = "axes"


class EinUnsupportedError(EinigError):
    """Valid notation that the TensorFlow target cannot express."""

    kind = "unsupported"


class CompileErrors(Exception):
    """Every diagnostic of a file, sorted by position."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(f"{len(diagnostics)} error(s)")
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.pos, d.message))


class InternalError(Exception):
    """A bug in einigc: never the user's fault."""

    def __init__(self, stage: str, detail: str):
        super().__init__(f"{stage}: {detail}")
        self.stage = stage
        self.detail = detail


@dataclass
class DiagnosticSink:
    """Collects diagnostics so that one pass can report all of them."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, err: EinigError) -> None:
        self.diagnostics.append(err.diagnostic)

    def note(self, pos: Pos, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(pos, message, hint, severity="note", kind="note"))

    def warning(self, pos: Pos, message: str, hint: str = "") -> None:
        """A likely mistake that does not stop the compile."""
        self.diagnostics.append(Diagnostic(pos, message, hint, severity="warning", kind="warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def notes(self) -> list[Diagnostic]:
        """What is printed when the compile succeeds: notes and warnings, in source order."""
        return sorted((d for d in self.diagnostics if d.severity != "error"), key=lambda d: (d.pos, d.message))

    def raise_if_errors(self) -> None:
        if self.errors:
            raise CompileErrors(self.errors)
