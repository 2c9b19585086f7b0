"""The plan of a generated function as data: its pairwise order and FLOPs, against opt_einsum's paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from bench.cases import Case, operand_shapes
from bench.compiled import short_error


@dataclass(frozen=True)
class CompiledPlan:
    """What einigc planned for one contraction, at the sizes it assumed when compiling."""

    order: tuple[str, ...]  # the pairwise steps, e.g. "bij,bjk->bik", in the spec's letters
    planned_flops: Optional[int]  # None where the source does not say
    source: str  # where it was read: "planner" (the compiler's stages), "docstring (why)" (the fallback)
    naive_flops: Optional[int] = None
    largest_intermediate: Optional[int] = None
    strategy: str = ""  # a key of einigc.plan.STRATEGY_TEXT, or "all orders"
    sizes: tuple[tuple[str, int, str], ...] = ()  # (letter, size, where it came from)


def compiled_plan(ein_path: Path, case: Case, docstring: str = "") -> CompiledPlan:
    """The plan einigc chose for `case`'s declaration: the one place the benchmark reads plans.

    Read as data: the compiler's stages up to the IR (`einigc.compiler.to_ir`)
    record each planned call as an `ir.PathInfo` on the function's docstring
    parts; this takes the first (every case has one contraction). The
    docstring is read only if a stage moved and that record is missing.
    """
    try:
        infos = _path_infos(ein_path)[case.decl]
    except Exception as exc:  # noqa: BLE001 - a stage moved: the docstring still says it
        return _from_docstring(docstring, "no plan record: " + short_error(exc))
    if not infos:  # one operand summed in place (`ij->i_`): nothing was planned
        return CompiledPlan(order=(), planned_flops=None, source="ir (no contraction)")
    info = infos[0]
    return CompiledPlan(
        order=info.order,
        planned_flops=info.planned_flops,
        source="ir",
        naive_flops=info.naive_flops,
        largest_intermediate=info.largest_intermediate,
        strategy=info.strategy,
        sizes=info.sizes,
    )


@lru_cache(maxsize=None)
def _path_infos(ein_path: Path) -> dict:
    """Declaration -> the PathInfo records of its planned calls, in order."""
    from einigc import ir
    from einigc.compiler import to_ir

    module = to_ir(ein_path.read_text(), ein_path.name)
    return {
        function.name: [e for note in function.doc.plan for e in note.entries if isinstance(e, ir.PathInfo)]
        for function in module.functions
    }


@lru_cache(maxsize=None)
def checked_program(ein_path: Path):
    """`ein_path` parsed and checked by the compiler's first two stages."""
    from einigc import checks, ein_parser
    from einigc.errors import DiagnosticSink

    sink = DiagnosticSink()
    program = checks.check(ein_parser.parse(ein_path.read_text(), sink), sink)
    sink.raise_if_errors()
    return program


def declared_sizes(ein_path: Path) -> dict[str, tuple[tuple[str, tuple[int, str]], ...]]:
    """Declaration -> its `where` sizes as lowering hands them to the planner: (letter, (size, source))."""
    return {
        function.name: tuple(
            (hint.letter, (hint.size, "where =" if hint.exact else "where ~")) for hint in function.sizes
        )
        for function in checked_program(ein_path).functions
    }


def _from_docstring(doc: str, why: str) -> CompiledPlan:
    """The fallback: the order and planned FLOPs as the generated docstring prints them."""
    order = None
    # The order may wrap onto continuation lines; it ends where "FLOPs:" starts.
    match = re.search(r"order \([^)]*\):(.+?)(?:FLOPs:|sizes assumed:|\n\s*\n|$)", doc or "", re.DOTALL)
    if match:
        text = re.sub(r"\s+", "", match.group(1))
        order = tuple(step for step in text.split(";") if step)
    flops = None
    match = re.search(r"FLOPs:\s*([\d,]+)\s+planned", doc or "")
    if match:
        flops = int(match.group(1).replace(",", ""))
    return CompiledPlan(order=order or (), planned_flops=flops, source=f"docstring ({why})")


def _terms(eq: str) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    lhs, out = eq.split("->")
    return [tuple(word) for word in lhs.split(",")], tuple(out)


def path_cost(steps: tuple[str, ...], sizes: dict) -> int:
    """The FLOPs of the pairwise `steps` at `sizes`, as opt_einsum counts them."""
    from opt_einsum.helpers import flop_count

    total = 0
    for step in steps:
        lhs, out = step.split("->")
        inputs = lhs.split(",")
        letters = set("".join(inputs)) | set(out)
        inner = bool(set("".join(inputs)) - set(out))
        total += flop_count(letters, inner, len(inputs), sizes)
    return total


def flops_report(ein_path: Path, case: Case, sizes: dict, generated_fn) -> dict:
    """einigc's plan, costed at the benchmarked `sizes`, against opt_einsum's greedy and optimal paths."""
    import opt_einsum

    row = {"case": case.name, "spec": case.spec, "note": case.flops_note}
    if case.flops_eq is None:
        row["skip"] = "one operand: no contraction path"
        return row
    shapes = operand_shapes(case.flops_eq)(sizes)
    _, greedy = opt_einsum.contract_path(case.flops_eq, *shapes, shapes=True, optimize="greedy")
    _, optimal = opt_einsum.contract_path(case.flops_eq, *shapes, shapes=True, optimize="optimal")
    row["greedy"] = int(greedy.opt_cost)
    row["optimal"] = int(optimal.opt_cost)
    row["naive"] = int(optimal.naive_cost)
    plan = compiled_plan(ein_path, case, getattr(generated_fn, "__doc__", ""))
    row["plan_source"] = plan.source
    row["doc_flops"] = plan.planned_flops
    if len(plan.order) > 1:
        row["einigc"] = path_cost(plan.order, sizes)
        row["order"] = "; ".join(plan.order)
    elif len(case.flops_eq.split("->")[0].split(",")) <= 2:
        row["einigc"] = row["optimal"]  # one pair: the only path
        row["order"] = "(single pairwise step)"
    else:
        row["einigc"] = None
        row["order"] = "no order in the compiled plan"
    try:
        row["einigc_known_sizes"] = planned_flops_at(case.flops_eq, sizes)
    except Exception as exc:  # noqa: BLE001
        row["einigc_known_sizes"] = None
        row["plan_error"] = short_error(exc)
    return row


def planned_flops_at(eq: str, sizes: dict) -> int:
    """The FLOPs of the plan einigc's planner makes when it is told the benchmarked sizes."""
    from einigc.plan import plan_contraction

    inputs, output = _terms(eq)
    return int(plan_contraction(inputs, output, {k: (v, "bench") for k, v in sizes.items()}).planned_flops)
