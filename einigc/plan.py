"""Contraction planning: unary clean-up, then pairwise steps along an opt_einsum path.

Works on "core" operands: tuples of symbols, each a lowercase letter or
ELLIPSIS. Everything here is decided at compile time from the sizes the
compiler knows (`where` clauses) and DEFAULT_SIZE for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import itertools

import opt_einsum

ELLIPSIS = "..."

# The size assumed for an axis that no `where` clause sizes (and for the
# whole of `...`). With all sizes equal the plan minimises the number of axes
# in intermediates, the usual rule of thumb.
DEFAULT_SIZE = 64

# opt_einsum's exhaustive search up to this many operands, its dynamic
# programming search beyond: both are deterministic.
OPTIMAL_MAX_OPERANDS = 5

Symbols = tuple[str, ...]


@dataclass(frozen=True)
class UnaryStep:
    """Rewrites one operand: takes diagonals, sums axes, transposes."""

    operand: int
    inputs: Symbols
    output: Symbols
    sum_ellipsis: bool  # `...` is summed away after the step (it leads the output)


@dataclass(frozen=True)
class PairStep:
    """Contracts operands `left` and `right`; the result replaces both at the end of the list."""

    left: int
    right: int
    left_symbols: Symbols
    right_symbols: Symbols
    output: Symbols
    sum_ellipsis: bool


Step = UnaryStep | PairStep


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    naive_flops: int
    planned_flops: int
    largest_intermediate: int
    sizes: tuple[tuple[str, int, str], ...]  # (letter, size, where it came from)
    strategy: str
    path: tuple[tuple[int, int], ...] = ()  # opt_einsum's pairs
    paired: tuple[Symbols, ...] = ()  # the operands the pairs start from


# Letters whose size nobody declares are tried at these two sizes, every
# combination, to find the orders worth choosing among at trace time.
_SCENARIO_SIZES = (4, 512)
_MAX_SCENARIO_LETTERS = 6
MAX_CANDIDATES = 4


def candidate_paths(
    inputs: list[Symbols], output: Symbols, sizes: dict[str, tuple[int, str]]
) -> list[Plan]:
    """Plans that are optimal for some sizes einigc cannot see, the default first.

    One plan fixed for assumed sizes can be 30x off when the real sizes are
    skewed; the generated code picks among these from the static shapes.
    """
    default = plan_contraction(inputs, output, sizes)
    if len(default.paired) < 3 or any(ELLIPSIS in op for op in default.paired):
        return [default]
    free = sorted({s for op in default.paired for s in op} - set(sizes))
    if not free or len(free) > _MAX_SCENARIO_LETTERS:
        return [default]
    counts: dict[tuple, int] = {}
    for scenario in itertools.product(_SCENARIO_SIZES, repeat=len(free)):
        trial = dict(sizes)
        trial.update({s: (n, "scenario") for s, n in zip(free, scenario)})
        path = plan_contraction(inputs, output, trial).path
        counts[path] = counts.get(path, 0) + 1
    ranked = sorted((p for p in counts if p != default.path), key=lambda p: (-counts[p], p))
    alternatives = [plan_contraction(inputs, output, sizes, p) for p in ranked]
    return [default] + alternatives[: MAX_CANDIDATES - 1]


def _spec_string(operands: list[Symbols], output: Symbols, letter_map: dict[str, str]) -> str:
    def word(symbols: Symbols) -> str:
        return "".join(letter_map[s] for s in symbols)

    return ",".join(word(o) for o in operands) + "->" + word(output)


def _dedupe(symbols: Symbols) -> Symbols:
    seen: list[str] = []
    for s in symbols:
        if s not in seen:
            seen.append(s)
    return tuple(seen)


def _ellipsis_first(symbols: Symbols) -> Symbols:
    if ELLIPSIS in symbols:
        return (ELLIPSIS,) + tuple(s for s in symbols if s != ELLIPSIS)
    return symbols


def plan_contraction(
    inputs: list[Symbols],
    output: Symbols,
    sizes: dict[str, tuple[int, str]],
    path: tuple[tuple[int, int], ...] | None = None,
) -> Plan:
    """Plans `inputs -> output`; `sizes` maps letters to (size, source).

    With `path` (opt_einsum's pairs, after the one-operand steps) that order
    is used instead of the one found for `sizes`.
    """
    all_symbols = _dedupe(tuple(s for op in inputs for s in op) + output)

    def size_of(symbol: str) -> int:
        return sizes.get(symbol, (DEFAULT_SIZE, "default"))[0]

    # Canonical letters make the path independent of the user's letter choice.
    letter_map = {s: opt_einsum.get_symbol(i) for i, s in enumerate(all_symbols)}
    operands = [tuple(op) for op in inputs]
    # The smallest original index behind each operand: keeps the user's
    # operand order on both sides of every pairwise step.
    origins = list(range(len(inputs)))
    steps: list[Step] = []

    def needed_elsewhere(index: int) -> set[str]:
        keep = set(output)
        for j, op in enumerate(operands):
            if j != index:
                keep.update(op)
        return keep

    # 1. Each operand on its own: diagonals and axes nobody else needs.
    for index, op in enumerate(operands):
        keep = needed_elsewhere(index)
        reduced = tuple(s for s in _dedupe(op) if s in keep)
        if len(operands) == 1:
            reduced = output if ELLIPSIS in output or ELLIPSIS not in op else (ELLIPSIS,) + output
        drop_ellipsis = ELLIPSIS in op and ELLIPSIS not in keep
        if drop_ellipsis:
            reduced = (ELLIPSIS,) + tuple(s for s in reduced if s != ELLIPSIS)
        if reduced != op or drop_ellipsis:
            steps.append(UnaryStep(index, op, reduced, drop_ellipsis))
            operands[index] = tuple(s for s in reduced if not (drop_ellipsis and s == ELLIPSIS))

    paired = [tuple(op) for op in operands]  # the operands the pairwise steps start from
    shapes = [tuple(size_of(s) for s in op) for op in operands]
    strategy = "optimal" if len(operands) <= OPTIMAL_MAX_OPERANDS else "dp"
    naive_eq = _spec_string([tuple(op) for op in inputs], output, letter_map)
    naive_shapes = [tuple(size_of(s) for s in op) for op in inputs]
    _, naive_info = opt_einsum.contract_path(
        naive_eq, *naive_shapes, shapes=True, optimize="optimal" if len(inputs) <= 2 else strategy
    )
    naive_flops = int(naive_info.naive_cost)

    # 2. Pairwise contractions along the chosen path.
    planned_flops = 0
    largest = max([1] + [_numel(s) for s in shapes])
    if len(operands) > 1:
        eq = _spec_string(operands, output, letter_map)
        found, info = opt_einsum.contract_path(
            eq, *shapes, shapes=True, optimize=list(path) if path else strategy
        )
        path = tuple(tuple(pair) for pair in found)
        planned_flops = int(info.opt_cost)
        largest = max(largest, int(info.largest_intermediate))
        for pair in path:
            i, j = sorted(pair, key=lambda k: origins[k])
            left, right = operands[i], operands[j]
            rest = [op for k, op in enumerate(operands) if k not in (i, j)]
            last = not rest
            keep = set(output)
            for op in rest:
                keep.update(op)
            if last:
                result = output
            else:
                batch = [s for s in left if s in right and s in keep]
                result = tuple(batch + [s for s in left + right if s in keep and s not in batch])
                result = _dedupe(result)
            drop_ellipsis = ELLIPSIS in (left + right) and ELLIPSIS not in keep
            if drop_ellipsis:
                result = (ELLIPSIS,) + tuple(s for s in result if s != ELLIPSIS)
            elif ELLIPSIS in result:
                result = _ellipsis_first(result) if not last else result
            steps.append(PairStep(i, j, left, right, result, drop_ellipsis))
            origin = min(origins[i], origins[j])
            origins = [o for k, o in enumerate(origins) if k not in (i, j)] + [origin]
            operands = rest + [tuple(s for s in result if not (drop_ellipsis and s == ELLIPSIS))]
    else:
        planned_flops = naive_flops

    sizes_used = tuple(
        (s, size_of(s), sizes.get(s, (DEFAULT_SIZE, "default"))[1])
        for s in sorted(all_symbols, key=lambda s: (s == ELLIPSIS, s))
    )
    return Plan(
        tuple(steps), naive_flops, planned_flops, largest, sizes_used, strategy, path or (), tuple(paired)
    )


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
