"""Docstrings: a function's documentation and plan (ir.FunctionDoc) as the lines of its docstring."""

from __future__ import annotations

import textwrap

from einigc import ir
from einigc.errors import InternalError
from einigc.plan import DEFAULT_SIZE, STRATEGY_TEXT


def docstring_text(doc: ir.FunctionDoc) -> str:
    lines: list[str] = []
    if doc.user_doc:
        lines += [doc.user_doc, ""]
    if doc.source_line:
        # Continuation lines are not indented: black would dedent them.
        lines += [_wrap(f"Source ({doc.source_name}): {doc.source_line}", 84, ""), ""]
    lines.extend(_wrap(line, 84, "    ") for line in doc.signature_lines)
    notes = [(note.label, [e for e in note.entries if _shown(e)]) for note in doc.plan]
    notes = [(label, entries) for label, entries in notes if entries]
    if notes:
        lines += ["", "Plan:"]
        for label, entries in notes:
            lines.append(label)
            for entry in entries:
                lines.extend(_wrap(line) for line in _entry_lines(entry))
    return "\n".join(lines)


def _shown(entry) -> bool:
    # A plan of one step or none, with no other order to pick, chose nothing:
    # the docstring leaves it out (the IR keeps it, for tools and the benchmark).
    return not isinstance(entry, ir.PathInfo) or bool(entry.order or entry.alternatives)


def _entry_lines(entry) -> list[str]:
    if isinstance(entry, ir.LoweringChoice):
        return [f"  lowering: {entry.how}"]
    if isinstance(entry, ir.PathInfo):
        return _path_lines(entry)
    raise InternalError("emit", f"no docstring for {type(entry).__name__}")


def _path_lines(info: ir.PathInfo) -> list[str]:
    lines = [f"  implicit output: {info.spec}"] if info.implicit else []
    if info.groups:
        # A group kept whole is one core axis, named by a free letter; say which.
        whole = "".join(f"; {letter} is the group {text}" for letter, text in info.groups)
        lines.append(f"  core axes: {info.spec}{whole}")
    if info.order:
        how = "cheapest of all orders, copies counted" if info.strategy == "all orders" else STRATEGY_TEXT[info.strategy]
        lines.append(f"  order ({how}): {'; '.join(info.order)}")
    lines.append(
        f"  FLOPs: {info.planned_flops:,} planned, {info.naive_flops:,} naive;"
        f" largest intermediate: {info.largest_intermediate:,} element(s)"
    )
    sizes = ", ".join(f"{letter}={size}{'' if src != 'default' else '*'}" for letter, size, src in info.sizes)
    lines.append(f"  sizes assumed: {sizes}")
    if any(src == "default" for _, _, src in info.sizes):
        lines.append(f"  (* no `where` size: the default {DEFAULT_SIZE})")
    for order in info.alternatives:
        lines.append(f"  or, if the static shapes make it cheaper: {'; '.join(order)}")
    return lines


def _wrap(line: str, width: int = 80, extra_indent: str = "  ") -> str:
    """Wraps a docstring line, continuing under its own indentation."""
    indent = line[: len(line) - len(line.lstrip())]
    return "\n".join(
        textwrap.wrap(line, width, subsequent_indent=indent + extra_indent, break_on_hyphens=False)
    )
