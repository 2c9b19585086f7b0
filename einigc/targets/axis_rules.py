"""The numpy, torch and jax runtimes' axis checks and sizes on plain Python shapes; copied with them, by source.

The rules and messages are those of the TensorFlow runtime's _AxisCheck, for
frameworks whose shapes are known when the checks run: numpy and eager torch
(ints), `jax.jit` at trace time (ints), `torch.compile` (SymInts, whose
comparisons become guards). A runtime module imports what it uses from here
(`from einigc.targets.axis_rules import _check_shapes`); einigc copies these
definitions into the generated module in place of that import, so each must
read well there: no names but this module's definitions and `math`.
"""

import math


def _check_shapes(
    function, spec, names, shapes, sizes=None, remember=True, _passed=set()
):
    # Every operand's shape is checked against its part of `spec`
    # ("bij,(ij)k"): its rank; each named axis, composite and whole group
    # across operands and against the `where` sizes; `_` against 1; `...`
    # for broadcasting; each group against its members. Shapes that passed
    # are remembered (at most 1,024), so a call with them only looks them up.
    # The `sizes` are not in the key: a generated function passes the same
    # ones every call. Not `remember`: symbolic sizes, as a tracing
    # compiler passes them, do not hash.
    key = (function, spec) + tuple(shapes)
    if remember and key in _passed:
        return
    check = _AxisCheck(function, spec.split(","), sizes)
    check.operands(names, shapes)
    check.groups()
    if not remember:
        return
    if len(_passed) >= 1024:
        _passed.clear()
    _passed.add(key)


def _static_sizes(spec, *operands, assumed=None):
    # The sizes of the letters after '->' in `spec` from the operands' shapes
    # (anything with a .shape), to choose a contraction order when called;
    # a letter no operand has counts as its `where ~` size in `assumed`,
    # else 64, as the compile-time plan did. So does a size that is not an
    # int: symbolic, while a compiler traces or exports for any size, where
    # branching on it would fix it (torch.export refuses that).
    words, letters = spec.split("->")
    known = {}
    for word, operand in zip(words.split(","), operands):
        for letter, size in zip(word, operand.shape):
            if isinstance(size, int):
                known.setdefault(letter, size)
    assumed = assumed or {}
    return [known.get(letter, assumed.get(letter, 64)) for letter in letters]


def _is_run(term):
    # A run of axes whose number the operand's rank gives: `...` or a
    # composite (a capital letter). A group is one axis.
    return term == "..." or "A" <= term <= "Z"


def _mismatch(what, known, where, size, name):
    # Two sizes of one letter; within one operand (`ii`, or a tensor given
    # twice) the message names its two places, not two operands.
    if where == f"'{name}'":
        return f"{what} is {known} and also {size} in '{name}', which holds it twice: the two must be equal"
    return f"{what} is {known} in {where} but {size} in '{name}'"


class _AxisCheck:
    # The sizes seen so far for each letter, composite, `...` and whole
    # group, with the operand they came from. In the order of a check: the
    # operands' ranks and the ranks of their runs, each term's size, then
    # the groups' members.

    def __init__(self, function, words, sizes):
        self.function = function
        self.words = words
        self.seen = {
            letter: (size, "`where`") for letter, size in (sizes or {}).items()
        }
        self.group_terms = []
        self.broadcast = None  # the `...` sizes so far, right-aligned
        # Inside a group `...` is flattened, so it cannot broadcast: then it
        # stands for the same axes everywhere, like a composite.
        self.exact_ellipsis = any(
            "..." in term
            for word in words
            for term in _spec_terms(word)
            if term.startswith("(")
        )

    def fail(self, message):
        raise ValueError(f"{self.function}: {message}")

    def same(self, known, size, message):
        # A plain comparison: a guard where a compiler traces symbolic
        # sizes. `message` makes the error's text, only on failure:
        # formatting a symbolic size into it would fix it, compiling again
        # for each size.
        if known != size:
            self.fail(message())

    # ---- ranks

    def operands(self, names, shapes):
        terms = [_spec_terms(word) for word in self.words]
        ranks = [len(shape) for shape in shapes]
        run_ranks = self.run_ranks(names, terms, ranks)
        for name, word, ts, shape, runs in zip(
            names, self.words, terms, shapes, run_ranks
        ):
            self.rank(f"operand '{name}' ({word})", ts, shape)
            for term, size in _term_sizes(ts, list(shape), runs):
                self.term(name, word, term, size)

    def rank(self, where, terms, shape):
        # Exactly one axis per term but runs, at least that many with runs.
        fixed = sum(not _is_run(term) for term in terms)
        has_runs = fixed < len(terms)
        if has_runs and len(shape) < fixed:
            self.fail(f"{where} needs rank >= {fixed}, got shape {shape}")
        if not has_runs and len(shape) != fixed:
            self.fail(f"{where} must have rank {fixed}, got shape {shape}")

    def run_ranks(self, names, terms, ranks):
        # The rank of each run of each operand: an operand whose runs but
        # one have known ranks fixes that one (a repeated composite, `II`,
        # splits its axes into equal parts), until nothing changes.
        composites = {}  # composite -> (rank, the operand that fixed it)
        found = [{} for _ in terms]
        changed = True
        while changed:
            changed = False
            for k, (name, word, ts, rank) in enumerate(
                zip(names, self.words, terms, ranks)
            ):
                if not any(_is_run(term) for term in ts):
                    continue
                found[k] = self.operand_run_ranks(name, word, ts, rank, composites)
                for run, run_rank in found[k].items():
                    if run not in composites and run != "...":  # `...` is local
                        composites[run] = (run_rank, name)
                        changed = True
        return found

    def operand_run_ranks(self, name, word, terms, rank, composites):
        # The ranks of one operand's runs that the composites fixed so far
        # give, with the one the axes `left` give if just one is unknown.
        where = f"operand '{name}' ({word})"
        runs = [term for term in terms if _is_run(term)]
        known = {run: composites[run][0] for run in runs if run in composites}
        unknown = set(runs) - set(known)
        in_runs = rank - (len(terms) - len(runs))
        if in_runs < 0:
            return known  # too few axes even for its letters: the rank check says so
        left = in_runs - sum(known[run] for run in runs if run in known)
        if len(unknown) == 1:
            (run,) = unknown
            count = runs.count(run)
            if left < 0:
                fixed_by = ", ".join(
                    f"'{r}' has {n} in '{composites[r][1]}'" for r, n in known.items()
                )
                self.fail(
                    f"{where} has rank {rank}, too small for its composites: {fixed_by}"
                )
            if left % count:
                self.fail(
                    f"{where} has {left} axes for composite '{run}', "
                    f"which do not split into {count} equal parts"
                )
            known[run] = left // count
        elif not unknown and left:
            run = runs[0]
            if set(runs) == {run} and left % runs.count(run) == 0:
                self.fail(
                    f"composite '{run}' has {known[run]} axes in '{composites[run][1]}' "
                    f"but {known[run] + left // runs.count(run)} in '{name}'"
                )
            self.fail(
                f"{where} has rank {rank}, which its composites' ranks do not make"
            )
        return known

    # ---- sizes

    def term(self, name, word, term, size):
        if term.startswith("("):
            self.group_terms.append((name, word, term, size))
            self.letter(term, size, name, f"group '{term}'")
        elif term == "_":
            message = f"operand '{name}' ({word}) needs size 1 at '_'"
            self.same(1, size, lambda: f"{message}, got {size}")
        elif term == "..." and not self.exact_ellipsis:
            self.broadcast_with(name, size)
        elif _is_run(term):
            self.composite(term, size, name)
        else:
            self.letter(term, size, name, f"axis '{term}'")

    def earlier(self, key, size, name):
        # The size of `key` and where it was seen first; None, and `size`
        # recorded, the first time.
        if key in self.seen:
            return self.seen[key]
        self.seen[key] = (size, f"'{name}'")
        return None

    def letter(self, letter, size, name, what):
        earlier = self.earlier(letter, size, name)
        if earlier is not None:
            known, where = earlier
            self.same(
                known,
                size,
                lambda: _mismatch(what, known, where, size, name),
            )

    def composite(self, letter, dims, name):
        earlier = self.earlier(letter, dims, name)
        if earlier is None:
            return
        known, where = earlier
        what = "'...'" if letter == "..." else f"composite '{letter}'"
        if len(known) != len(dims):
            self.fail(
                f"{what} has {len(known)} axes in {where} but {len(dims)} in '{name}'"
            )
        for a, b in zip(known, dims):
            self.same(
                a, b, lambda: _mismatch(what, known, where, dims, name)
            )

    def broadcast_with(self, name, dims):
        # numpy's rule for `...`: right-aligned sizes agree or one is 1.
        if self.broadcast is None:
            self.broadcast = (list(dims), f"'{name}'")
            return
        known, where = self.broadcast
        for k in range(1, min(len(known), len(dims)) + 1):
            a, b = known[-k], dims[-k]
            if a != b and a != 1 and b != 1:
                self.fail(
                    f"the '...' axes of {where} ({known}) and '{name}' "
                    f"({list(dims)}) do not broadcast"
                )
            known[-k] = a if b == 1 else b
        known[:0] = dims[: max(len(dims) - len(known), 0)]

    # ---- groups

    def size_of(self, member):
        # The size a group member stands for, or None while unknown.
        if member == "_":
            return 1
        if member not in self.seen:
            return None
        size = self.seen[member][0]
        return math.prod(size) if isinstance(size, list) else size

    def groups(self):
        # A group's size is the product of its members' sizes. A member that
        # is the only unknown one of its group takes the size the group
        # leaves for it, which may settle other groups, until nothing
        # changes. Groups left then need no member sizes (contracted whole).
        pending = self.group_terms
        while pending:
            unsolved = []
            for name, word, term, size in pending:
                members = _spec_terms(term.replace("(", "").replace(")", ""))
                sizes = {member: self.size_of(member) for member in members}
                unknown = [member for member in sizes if sizes[member] is None]
                where = f"group '{term}' of '{name}' ({word})"
                # A list, not a generator: what tracing compilers take math.prod of.
                known = [sizes[m] for m in members if sizes[m] is not None]
                product = math.prod(known)
                if not unknown:
                    self.same(
                        product,
                        size,
                        lambda: f"{where} has size {size}, but its members make {product}",
                    )
                elif len(unknown) == 1:
                    self.solve_member(unknown[0], where, size, product, term, name)
                else:
                    unsolved.append((name, word, term, size))
            if len(unsolved) == len(pending):
                return
            pending = unsolved

    def solve_member(self, member, where, size, product, term, name):
        # The size of the one unknown member of a group: the group's size
        # over the `product` of the others', which must divide it.
        if product == 0:
            self.fail(
                f"the size of '{member}' in group {term} of '{name}' is undetermined: "
                "the other members' sizes multiply to 0"
            )
        if size % product:
            self.fail(
                f"{where} has size {size}, no multiple of {product}, "
                "the size of its other members"
            )
        self.seen[member] = (size // product, f"'{name}'")


def _term_sizes(terms, dims, runs):
    # Each term of an operand with its size (a list of sizes for a run), from
    # the operand's `dims` and the ranks of its `runs`. Terms after the last
    # run of unknown rank count from the end; terms between two of them have
    # no fixed position: skipped, as are those runs.
    widths = [runs.get(term) if _is_run(term) else 1 for term in terms]
    unknown = [k for k, width in enumerate(widths) if width is None]
    start = 0
    for k, (term, width) in enumerate(zip(terms, widths)):
        if width is None or (unknown and unknown[0] < k < unknown[-1]):
            continue
        if unknown and k > unknown[-1]:
            start = -sum(widths[k:])
        end = start + width
        if start < 0 and end == 0:
            end = None  # to the last axis: dims[-2:0] would be empty
        yield term, dims[start:end] if _is_run(term) else dims[start]
        start += width


def _spec_terms(word):
    # "b(ij)_...K" -> ["b", "(ij)", "_", "...", "K"]: one entry per axis or run.
    # Parsed on each check, not cached: checks run only on shapes not seen
    # before, and a tracing compiler that guards on a cache's contents would
    # compile every function a second time, after its first trace fills it.
    terms, depth, k = [], 0, 0
    while k < len(word):
        char = word[k]
        if depth:
            terms[-1] += char
            depth += {"(": 1, ")": -1}.get(char, 0)
        elif char == "(":
            terms.append(char)
            depth = 1
        elif word.startswith("...", k):
            terms.append("...")
            k += 2
        else:
            terms.append(char)
        k += 1
    return terms
