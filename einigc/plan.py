"""Contraction planning: unary clean-up, then pairwise steps along an opt_einsum path.

Works on "core" operands: tuples of symbols, each a lowercase letter or
ELLIPSIS. Everything here is decided at compile time from the sizes the
compiler knows (`where` clauses) and DEFAULT_SIZE for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import functools
import itertools
import random

import opt_einsum

ELLIPSIS = "..."

# The size assumed for an axis that no `where` clause sizes (and for the
# whole of `...`). With all sizes equal the plan minimises the number of axes
# in intermediates, the usual rule of thumb.
DEFAULT_SIZE = 64

# opt_einsum's exhaustive search up to this many operands; beyond, the
# dynamic programming search below while its work is bounded, else the
# cheaper of opt_einsum's greedy and seeded random-greedy orders. Every
# search is bounded by counts, never by a clock: the same spec gives the same
# plan on every machine.
OPTIMAL_MAX_OPERANDS = 5

# The dynamic programming search gives up beyond this many pairs of connected
# operand sets (a chain of 100 matrices has 166,650; 20 operands sharing one
# letter 1.7e9): about a second of work.
DP_MAX_PAIRS = 200_000

# Beyond that budget, on sparse networks (no operand sharing letters with
# more than this many others) of up to this many operands, opt_einsum's dp
# itself: its cost cap prunes what DPccp enumerates, but its loops visit
# every pair of sets, so it is stopped after this many costed pairs (its
# callable `minimize` counts them).
CAPPED_DP_MAX_OPERANDS = 32
CAPPED_DP_MAX_DEGREE = 4
CAPPED_DP_MAX_CALLS = 1_000_000

# random-greedy's trials, seeded 0, 1, ...: as many as this much work buys,
# a trial's work taken as the sum over operands of the squared number of
# operands each shares a summed letter with (a random 3-regular network of 100
# buys 256 trials, about 2 s; a hub of 100 legs opt_einsum's default 32).
RANDOM_GREEDY_WORK = 230_000
RANDOM_GREEDY_TRIALS = (32, 256)

# How each strategy is named in the docstring of the generated function.
STRATEGY_TEXT = {
    "optimal": "opt_einsum optimal",
    "dp": "dynamic programming",
    "greedy": "opt_einsum greedy",
    "random-greedy": "opt_einsum random-greedy, seeded trials",
}

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
    strategy: str  # "all orders" costed with copies (few operands), else a key of STRATEGY_TEXT
    path: tuple[tuple[int, int], ...] = ()  # opt_einsum's pairs
    paired: tuple[Symbols, ...] = ()  # the operands the pairs start from


# Letters whose size nobody declares are tried at these two sizes, every
# combination, to find the orders worth choosing among at trace time.
_SCENARIO_SIZES = (4, 512)
_MAX_SCENARIO_LETTERS = 6
# Beyond this many operands one order is emitted: each scenario is a search
# of its own, and every candidate is code in the generated function.
_MAX_SCENARIO_OPERANDS = 8
MAX_CANDIDATES = 4

# A transpose copies memory; a matrix product streams it. Orders are ranked
# by multiply-adds plus this much per element that some step must copy. On
# TF 2.21 CPU transposing a 64x64x64 operand took 230 us, the 256x64x4096
# product after it 550 us: a copied element cost ~100 multiply-adds there.
# 16 is deliberately lower (copies are cheaper on other hardware): copies
# decide between orders of similar FLOPs, not against a large FLOPs saving.
COPY_COST = 16

# Every pairwise order is costed up to this many operands (18 orders for 4),
# beyond that only opt_einsum's.
ENUMERATE_MAX_OPERANDS = 4


@dataclass(frozen=True)
class MatmulForm:
    """How a pair is a (batched) matrix product: `a` gives the rows, `b` the columns."""

    batch: Symbols
    rows: Symbols
    inner: Symbols
    cols: Symbols
    swap: bool  # the right operand gives the rows
    transpose_a: bool
    transpose_b: bool


def matmul_form(left: Symbols, right: Symbols, out: Symbols) -> MatmulForm | None:
    """The matrix product `left, right -> out` is after reshapes alone, if any.

    Shared leading batch axes, then each operand a run of its own axes and a
    run of the contracted ones (either order: a transposed operand is a flag
    of MatMul, not a copy), and the output the rows' run then the columns'.
    """
    if ELLIPSIS in left + right + out:
        return None
    if any(len(set(w)) != len(w) for w in (left, right, out)):
        return None
    batch = tuple(s for s in out if s in left and s in right)
    n = len(batch)
    if left[:n] != batch or right[:n] != batch or out[:n] != batch:
        return None
    if set(left + right) != set(out) | (set(left) & set(right)):
        return None  # a letter summed within one operand
    inner = set(left) & set(right) - set(out)
    if not inner:
        return None
    for swap in (False, True):
        a, b = (right, left) if swap else (left, right)
        rows = tuple(s for s in a[n:] if s not in inner)
        cols = tuple(s for s in b[n:] if s not in inner)
        if not rows or not cols or out[n:] != rows + cols:
            continue
        rest, k = a[n:], len(inner)
        if rest[: len(rows)] == rows:
            order, transpose_a = rest[len(rows) :], False
        elif rest[k:] == rows:
            order, transpose_a = rest[:k], True
        else:
            continue
        if b[n:] == order + cols:
            transpose_b = False
        elif b[n:] == cols + order:
            transpose_b = True
        else:
            continue
        return MatmulForm(batch, rows, order, cols, swap, transpose_a, transpose_b)
    return None


def copied_words(left: Symbols, right: Symbols, out: Symbols) -> list[Symbols]:
    """The operands (and result) that lowering `left, right -> out` copies into another layout.

    None for a matrix product (transposes are flags); otherwise what the
    Einsum op transposes: each operand that is not its batch axes then two
    runs (its own axes, the contracted ones), the right one when the two
    order the contracted axes differently, and the result when it is not
    batch, then one operand's axes, then the other's.
    """
    if ELLIPSIS in left + right + out or matmul_form(left, right, out) is not None:
        return []
    batch = tuple(s for s in out if s in left and s in right)
    n = len(batch)
    inner = set(left) & set(right) - set(out)

    def grouped(word) -> bool:
        if word[:n] != batch:
            return False
        flags = [s in inner for s in word[n:]]
        return sum(1 for a, b in zip(flags, flags[1:]) if a != b) <= 1

    copies = [word for word in (left, right) if not grouped(word)]
    if right not in copies and [s for s in left if s in inner] != [s for s in right if s in inner]:
        copies.append(right)
    own_left = tuple(s for s in left if s in out and s not in batch)
    own_right = tuple(s for s in right if s in out and s not in batch)
    if out not in (batch + own_left + own_right, batch + own_right + own_left):
        copies.append(out)
    return copies


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
    if not free or len(free) > _MAX_SCENARIO_LETTERS or len(default.paired) > _MAX_SCENARIO_OPERANDS:
        return [default]
    counts: dict[tuple, int] = {}
    for scenario in itertools.product(_SCENARIO_SIZES, repeat=len(free)):
        trial = dict(sizes)
        trial.update({s: (n, "scenario") for s, n in zip(free, scenario)})
        if len(default.paired) <= ENUMERATE_MAX_OPERANDS:
            path = _cheapest_path(list(default.paired), output, lambda s: trial.get(s, (DEFAULT_SIZE,))[0])
        else:
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
    strategy = "optimal" if len(operands) <= OPTIMAL_MAX_OPERANDS else "dp"  # for a `path` given
    naive_eq = _spec_string([tuple(op) for op in inputs], output, letter_map)
    naive_shapes = [tuple(size_of(s) for s in op) for op in inputs]
    # The naive cost does not depend on the order: one step of everything.
    _, naive_info = opt_einsum.contract_path(
        naive_eq, *naive_shapes, shapes=True, optimize=[tuple(range(len(inputs)))]
    )
    naive_flops = int(naive_info.naive_cost)

    # 2. Pairwise contractions along the chosen path.
    planned_flops = 0
    largest = max([1] + [_numel(s) for s in shapes])
    if len(operands) > 1:
        eq = _spec_string(operands, output, letter_map)
        if not path and len(operands) <= ENUMERATE_MAX_OPERANDS:
            # Every order is costed: among orders of (nearly) equal FLOPs,
            # one may copy far less.
            path = _cheapest_path(operands, output, size_of)
            strategy = "all orders"
        elif not path:
            path, strategy = _search_path(eq, shapes)
        found, info = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=list(path))
        path = tuple(tuple(pair) for pair in found)
        planned_flops = int(info.opt_cost)
        largest = max(largest, int(info.largest_intermediate))
        steps.extend(_pair_steps(operands, output, path))
    else:
        planned_flops = naive_flops

    sizes_used = tuple(
        (s, size_of(s), sizes.get(s, (DEFAULT_SIZE, "default"))[1])
        for s in sorted(all_symbols, key=lambda s: (s == ELLIPSIS, s))
    )
    return Plan(
        tuple(steps), naive_flops, planned_flops, largest, sizes_used, strategy, path or (), tuple(paired)
    )


def _pair_steps(operands: list[Symbols], output: Symbols, path) -> list[PairStep]:
    """The pairwise steps of `path`; each intermediate is laid out as a
    matrix product leaves it: shared axes, the left's, then the right's."""
    operands = list(operands)
    # The smallest original index behind each operand: keeps the user's
    # operand order on both sides of every pairwise step.
    origins = list(range(len(operands)))
    steps = []
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
    return steps


def _all_paths(n: int):
    if n < 2:
        yield ()
        return
    for pair in itertools.combinations(range(n), 2):
        for rest in _all_paths(n - 1):
            yield (pair,) + rest


@functools.lru_cache(maxsize=1024)
def _path_terms(operands: tuple[Symbols, ...], output: Symbols) -> tuple:
    """Every pairwise order, with the words whose sizes give its cost:
    (path, the letters of each step, the operands and results it copies)."""
    terms = []
    for path in _all_paths(len(operands)):
        steps = _pair_steps(list(operands), output, path)
        work = tuple(step.left_symbols + step.right_symbols for step in steps)
        copies = tuple(
            word for step in steps for word in copied_words(step.left_symbols, step.right_symbols, step.output)
        )
        terms.append((path, work, copies))
    return tuple(terms)


def _cheapest_path(operands: list[Symbols], output: Symbols, size_of) -> tuple:
    """The order with the least multiply-adds plus COPY_COST per copied element."""

    def numel(word) -> int:
        return _numel(tuple(size_of(s) for s in dict.fromkeys(word)))

    best = None
    for path, work, copies in _path_terms(tuple(operands), output):
        cost = sum(map(numel, work)) + COPY_COST * sum(map(numel, copies))
        if best is None or cost < best[0]:
            best = (cost, path)
    return best[1]


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _search_path(eq: str, shapes: list[tuple[int, ...]]) -> tuple[tuple, str]:
    """A pairwise order for `eq` and the strategy that found it (a key of STRATEGY_TEXT).

    Every search here is bounded; the orders are compared by FLOPs, the
    earlier strategy winning ties.
    """
    inputs_text, output_text = eq.split("->")
    words = inputs_text.split(",")
    # Letters as integers: sets of strings iterate in an order that changes
    # with PYTHONHASHSEED, and greedy's tie-breaking follows that order.
    index = {c: k for k, c in enumerate(dict.fromkeys("".join(words) + output_text))}
    inputs = [frozenset(index[c] for c in word) for word in words]
    output = frozenset(index[c] for c in output_text)
    size_dict = {index[c]: n for word, shape in zip(words, shapes) for c, n in zip(word, shape)}
    if len(inputs) <= OPTIMAL_MAX_OPERANDS:
        return tuple(opt_einsum.paths.optimal(inputs, output, size_dict)), "optimal"
    found = []
    degrees = _degrees(inputs, output)
    dp_path = _connected_dp(inputs, output, size_dict, DP_MAX_PAIRS)
    if dp_path is None and len(inputs) <= CAPPED_DP_MAX_OPERANDS and max(degrees) <= CAPPED_DP_MAX_DEGREE:
        dp_path = _capped_dp(inputs, output, size_dict, CAPPED_DP_MAX_CALLS)
    if dp_path is not None:
        found.append((dp_path, "dp"))
    found.append((opt_einsum.paths.greedy(inputs, output, size_dict), "greedy"))
    if dp_path is None:
        state = random.getstate()  # random-greedy seeds the global generator
        try:
            low, high = RANDOM_GREEDY_TRIALS
            count = max(low, min(high, RANDOM_GREEDY_WORK // max(1, sum(d * d for d in degrees))))
            trials = opt_einsum.RandomGreedy(max_repeats=count, parallel=False)
            found.append((trials(inputs, output, size_dict), "random-greedy"))
        finally:
            random.setstate(state)

    def flops(path) -> int:
        return int(opt_einsum.contract_path(eq, *shapes, shapes=True, optimize=list(path))[1].opt_cost)

    path, strategy = min(found, key=lambda item: flops(item[0]))
    return tuple(tuple(pair) for pair in path), strategy


class _TooMany(Exception):
    pass


def _degrees(inputs, output) -> list[int]:
    """How many operands each operand shares a summed letter with."""
    return [
        sum(1 for j, other in enumerate(inputs) if j != i and (word & other) - output)
        for i, word in enumerate(inputs)
    ]


def _capped_dp(inputs, output, size_dict, max_calls: int):
    """opt_einsum's dp path, or None once it has costed `max_calls` pairs."""
    calls = [0]

    def counted(*args):
        calls[0] += 1
        if calls[0] > max_calls:
            raise _TooMany
        return opt_einsum.paths._dp_compare_flops(*args)

    try:
        return opt_einsum.paths.DynamicProgramming(minimize=counted)(inputs, output, size_dict)
    except _TooMany:
        return None


def _connected_dp(inputs, output, size_dict, max_pairs: int):
    """The order of least FLOPs among those without outer products, or None past `max_pairs`.

    Dynamic programming over connected sets of operands (DPccp, Moerkotte
    and Neumann 2006): every split of a connected set into two connected
    ones is costed once, so a chain of n costs n^3/6 splits, not 2^n.
    The same search space as opt_einsum's "dp"; disconnected parts are
    joined at the end, smallest first, as there.
    """
    n = len(inputs)
    letters = sorted(set().union(*inputs))
    bit = {c: 1 << k for k, c in enumerate(letters)}
    sizes = [size_dict[c] for c in letters]
    words = [sum(bit[c] for c in word) for word in inputs]
    out = sum(bit[c] for c in output if c in bit)
    holders = [sum(1 << v for v, word in enumerate(words) if word >> k & 1) for k in range(len(letters))]
    neighbours = [0] * n
    for k, who in enumerate(holders):
        if not out >> k & 1:
            for v in range(n):
                if who >> v & 1:
                    neighbours[v] |= who & ~(1 << v)
    pairs = _ccp_pairs(neighbours, max_pairs)
    if pairs is None:
        return None

    def numel(mask: int) -> int:
        total = 1
        while mask:
            low = mask & -mask
            total *= sizes[low.bit_length() - 1]
            mask ^= low
        return total

    def legs(group: int, union: int) -> int:
        kept, rest = 0, union & ~out
        while rest:
            low = rest & -rest
            if holders[low.bit_length() - 1] & ~group:
                kept |= low
            rest ^= low
        return kept | (union & out)

    best = {1 << v: (0, None, words[v]) for v in range(n)}
    for left, right in sorted(pairs, key=lambda p: (p[0] | p[1]).bit_count()):
        group = left | right
        cost_l, _, legs_l = best[left]
        cost_r, _, legs_r = best[right]
        union = legs_l | legs_r
        kept = best[group][2] if group in best else legs(group, union)
        cost = cost_l + cost_r + numel(union) * (2 if union != kept else 1)
        if group not in best or cost < best[group][0]:
            best[group] = (cost, (left, right), kept)
    return _linear_path(best, _components(neighbours), numel, n)


def _ccp_pairs(neighbours: list[int], limit: int):
    """Every (connected set, connected neighbour set) pair once, or None past `limit` of them.

    The connected sets themselves count against `limit` too: a set may
    have no pair, and the search must stop all the same.
    """
    pairs: list[tuple[int, int]] = []
    spent = [0]

    def spend() -> None:
        spent[0] += 1
        if spent[0] > limit:
            raise _TooMany

    def around(group: int) -> int:
        found, rest = 0, group
        while rest:
            low = rest & -rest
            found |= neighbours[low.bit_length() - 1]
            rest ^= low
        return found & ~group

    def subsets(mask: int):
        sub = mask
        while sub:
            yield sub
            sub = (sub - 1) & mask

    def add(pair) -> None:
        pairs.append(pair)
        spend()

    def complements(first: int, second: int, excluded: int) -> None:
        grow = around(second) & ~excluded
        for sub in subsets(grow):
            add((first, second | sub))
        for sub in subsets(grow):
            complements(first, second | sub, excluded | grow)

    def emit(first: int) -> None:
        spend()
        low = first & -first
        excluded = first | (low << 1) - 1
        grow = around(first) & ~excluded
        for v in reversed(range(grow.bit_length())):
            if grow >> v & 1:
                add((first, 1 << v))
                complements(first, 1 << v, excluded | (grow & ((2 << v) - 1)))

    def connected(first: int, excluded: int) -> None:
        grow = around(first) & ~excluded
        for sub in subsets(grow):
            emit(first | sub)
        for sub in subsets(grow):
            connected(first | sub, excluded | grow)

    try:
        for v in reversed(range(len(neighbours))):
            emit(1 << v)
            connected(1 << v, (2 << v) - 1)
    except _TooMany:
        return None
    return pairs


def _components(neighbours: list[int]) -> list[int]:
    seen, parts = 0, []
    for v in range(len(neighbours)):
        if not seen >> v & 1:
            part, frontier = 1 << v, 1 << v
            while frontier:
                low = frontier & -frontier
                frontier ^= low
                new = neighbours[low.bit_length() - 1] & ~part
                part |= new
                frontier |= new
            seen |= part
            parts.append(part)
    return parts


def _linear_path(best: dict, parts: list[int], numel, n: int) -> list[tuple[int, int]]:
    """opt_einsum's path (positions in the shrinking operand list) for the best splits."""
    ssa: list[tuple[int, int]] = []

    def build(group: int) -> int:
        if group & (group - 1) == 0:
            return group.bit_length() - 1
        left, right = best[group][1]
        ssa.append((build(left), build(right)))
        return n + len(ssa) - 1

    ids = [build(part) for part in sorted(parts, key=lambda p: (numel(best[p][2]), p))]
    for other in ids[1:]:
        ssa.append((ids[0], other))
        ids[0] = n + len(ssa) - 1
    return opt_einsum.paths.ssa_to_linear(ssa)
