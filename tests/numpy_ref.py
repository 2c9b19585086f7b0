"""An independent numpy reference for the einig spec dialect.

Written from the language contract (/work/shared/LANGUAGE.md), not from the
compiler: this is the oracle the numeric and property tests compare against.

    evaluate(spec, *operands, func="einsum", sizes=None) -> numpy array

`func` is "einsum", "eincount" (booleans summed as integers) or "einany" (OR of
ANDs). `sizes` maps letters to the exact sizes of a `where j = 4` clause.
Typical sizes (`where j ~ 4`) only steer planning and do not concern it.

    eingrad(spec, *operands, sizes=None) -> numpy array

is the einsum in which each pair `a%b` is replaced by one operand, the
Jacobian J[a-axes, b-axes] = d a / d b; the operand left of `%` is either that
Jacobian already (an array) or a numpy callable of the operand right of `%`,
differentiated by central differences in float64. A letter shared across `%`
becomes a repeated letter of J's operand, hence its diagonal, as the contract
says (`b%bj->bj` is J[b, b, j]). `where b independent` changes only how the
compiler lowers the spec, never its value, so the reference ignores it.

Method: every spec is reduced to a plain einsum over *atomic* axes, whatever
the spec's sugar:

1. parse the spec into terms: Axis (a-z), Composite (A-Z), Ellipsis (...),
   Unit (_) and Group (( ... ));
2. resolve the rank of every named composite and of `...` in each operand
   (an operand with a single unresolved composite fixes it);
3. expand each operand to a list of tensor axes, each a list of atomic labels
   (a group is one tensor axis holding several labels, `()` holds none);
4. solve the sizes of all atomic labels (group members from their group's size
   and `where =` sizes), checking that named axes agree exactly while `...`
   axes broadcast numpy-style (size 1 against anything);
5. reshape every input into its atomic axes, drop `_` axes and broadcast size-1
   `...` axes, run numpy.einsum with unique output labels, then write induced
   diagonals (repeated output labels) and reshape to the output's tensor axes
   (row-major flattening for groups, size-1 axes for `_` and `()`).

Sums are done in float64 / complex128 / int64 whatever the input dtype, so the
reference is the exact-as-possible value of the inputs it is given.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from math import prod

import numpy as np

__all__ = [
    "Axis",
    "Composite",
    "Ellipsis_",
    "Unit",
    "Group",
    "Spec",
    "RefError",
    "parse_spec",
    "implicit_output",
    "evaluate",
    "einsum",
    "eincount",
    "einany",
    "eingrad",
    "numeric_jacobian",
]


class RefError(ValueError):
    """The spec is invalid, or the operands do not fit it."""


# --- terms ---------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    letter: str


@dataclass(frozen=True)
class Composite:
    letter: str


@dataclass(frozen=True)
class Ellipsis_:
    pass


@dataclass(frozen=True)
class Unit:
    pass


@dataclass(frozen=True)
class Group:
    terms: tuple


@dataclass(frozen=True)
class Spec:
    inputs: tuple  # tuple of tuples of terms
    output: tuple | None  # None: implicit mode
    grad_after: tuple  # grad_after[k]: '%' separates operand k from k+1

    @property
    def implicit(self) -> bool:
        return self.output is None


def _walk(terms):
    for term in terms:
        yield term
        if isinstance(term, Group):
            yield from _walk(term.terms)


# --- parsing -------------------------------------------------------------


def _parse_operand(text: str) -> tuple:
    stack: list[list] = [[]]
    i = 0
    while i < len(text):
        ch = text[i]
        if text.startswith("...", i):
            stack[-1].append(Ellipsis_())
            i += 3
            continue
        if ch in string.ascii_lowercase:
            stack[-1].append(Axis(ch))
        elif ch in string.ascii_uppercase:
            stack[-1].append(Composite(ch))
        elif ch == "_":
            stack[-1].append(Unit())
        elif ch == "(":
            stack.append([])
        elif ch == ")":
            if len(stack) == 1:
                raise RefError(f"unbalanced ')' in {text!r}")
            inner = stack.pop()
            stack[-1].append(Group(tuple(inner)))
        else:
            raise RefError(f"unexpected character {ch!r} in operand {text!r}")
        i += 1
    if len(stack) != 1:
        raise RefError(f"unbalanced '(' in {text!r}")
    return tuple(stack[0])


def parse_spec(text: str) -> Spec:
    """Parses a spec string; whitespace is ignored and `,%` reads as `%`."""
    text = "".join(text.split())
    if text.count("->") > 1:
        raise RefError(f"more than one '->' in {text!r}")
    if "->" in text:
        lhs, rhs = text.split("->")
    else:
        lhs, rhs = text, None
    lhs = lhs.replace(",%", "%")
    pieces: list[str] = []
    grad_after: list[bool] = []
    current = ""
    for ch in lhs:
        if ch in ",%":
            pieces.append(current)
            grad_after.append(ch == "%")
            current = ""
        else:
            current += ch
    pieces.append(current)
    inputs = tuple(_parse_operand(p) for p in pieces)
    output = None if rhs is None else _parse_operand(rhs)
    for k, op in enumerate(inputs + (() if output is None else (output,))):
        if sum(isinstance(t, Ellipsis_) for t in _walk(op)) > 1:
            raise RefError("an operand may hold '...' only once")
    return Spec(inputs, output, tuple(grad_after))


def implicit_output(inputs) -> tuple:
    """numpy's implicit mode: `...` first (if any input has it), then the
    letters that appear exactly once over all inputs, sorted (ASCII order, so
    composites, being uppercase, come before axes, as in numpy)."""
    counts: dict[str, int] = {}
    kinds: dict[str, type] = {}
    has_ellipsis = False
    for op in inputs:
        for term in _walk(op):
            if isinstance(term, (Axis, Composite)):
                counts[term.letter] = counts.get(term.letter, 0) + 1
                kinds[term.letter] = type(term)
            elif isinstance(term, Ellipsis_):
                has_ellipsis = True
    out: list = [Ellipsis_()] if has_ellipsis else []
    out += [kinds[letter](letter) for letter in sorted(counts) if counts[letter] == 1]
    return tuple(out)


# --- ranks of composites ---------------------------------------------------


def _resolve_ranks(inputs, ndims):
    """Returns (composite ranks, per-input rank of its top-level `...`)."""
    ranks: dict[str, int] = {}
    ell_rank: list[int | None] = [None] * len(inputs)
    done = [False] * len(inputs)
    progress = True
    while progress:
        progress = False
        for k, op in enumerate(inputs):
            if done[k]:
                continue
            fixed = 0
            unknown: list[str] = []
            for term in op:
                if isinstance(term, (Axis, Unit, Group)):
                    fixed += 1
                elif isinstance(term, Composite):
                    if term.letter in ranks:
                        fixed += ranks[term.letter]
                    else:
                        unknown.append(term.letter)
                elif isinstance(term, Ellipsis_):
                    if ell_rank[k] is not None:
                        fixed += ell_rank[k]
                    else:
                        unknown.append("...")
            remaining = ndims[k] - fixed
            if not unknown:
                if remaining != 0:
                    raise RefError(f"operand {k} has rank {ndims[k]} but its spec needs {fixed} axes")
                done[k] = True
                progress = True
            elif len(set(unknown)) == 1:
                mult = len(unknown)
                if remaining < 0 or remaining % mult:
                    raise RefError(
                        f"operand {k} has rank {ndims[k]}: no rank of " f"{unknown[0]!r} fits its spec"
                    )
                if unknown[0] == "...":
                    ell_rank[k] = remaining // mult
                else:
                    ranks[unknown[0]] = remaining // mult
                done[k] = True
                progress = True
    if not all(done):
        k = done.index(False)
        raise RefError(f"ambiguous: the ranks of the composites of operand {k} are not determined")
    return ranks, ell_rank


# --- expansion into atomic labels --------------------------------------------

# Atomic labels: ("a",) a single axis; ("A", i) axis i of composite A;
# ("...", i) axis i of the (right-aligned, broadcast) `...`; ("_", k, j) an
# input unit axis (size 1, dropped).


def _expand(terms, ranks, ell_rank_here, ell_total, unit_tag, top=True):
    """Expands terms into tensor axes, each a list of atomic labels.

    At top level each tensor axis is returned separately; inside a group the
    labels are concatenated by the caller.
    """
    axes: list[list] = []
    for j, term in enumerate(terms):
        if isinstance(term, Axis):
            axes.append([(term.letter,)])
        elif isinstance(term, Composite):
            if term.letter not in ranks:
                raise RefError(f"the rank of composite {term.letter!r} is not determined")
            axes.extend([[(term.letter, i)] for i in range(ranks[term.letter])])
        elif isinstance(term, Ellipsis_):
            if ell_total is None:
                raise RefError("the rank of '...' is not determined by any operand")
            r = ell_rank_here if (top and ell_rank_here is not None) else ell_total
            axes.extend([[("...", i)] for i in range(ell_total - r, ell_total)])
        elif isinstance(term, Unit):
            axes.append([] if unit_tag is None else [("_",) + unit_tag + (j, len(axes))])
        elif isinstance(term, Group):
            inner = _expand(term.terms, ranks, None, ell_total, unit_tag, top=False)
            axes.append([label for axis in inner for label in axis])
    return axes


def _label_name(label) -> str:
    if label[0] == "...":
        return "..." if label[1:] == () else f"...[{label[1]}]"
    if len(label) == 1:
        return label[0]
    if label[0] == "_":
        return "_"
    return f"{label[0]}[{label[1]}]"


# --- evaluation -------------------------------------------------------------


def _wide_dtype(arrays, func):
    if func in ("eincount", "einany"):
        return np.dtype(np.int64)
    kinds = set()
    for a in arrays:
        if np.issubdtype(a.dtype, np.complexfloating):
            kinds.add("c")
        elif np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
            kinds.add("i")
        else:
            kinds.add("f")  # floats, and extension floats such as bfloat16
    if "c" in kinds:
        return np.dtype(np.complex128)
    if "f" in kinds:
        return np.dtype(np.float64)
    return np.dtype(np.int64)


def evaluate(spec, *operands, func: str = "einsum", sizes: dict | None = None) -> np.ndarray:
    """The value of `func(spec, *operands)` in the einig dialect."""
    if func not in ("einsum", "eincount", "einany", *SEMIRING_ZERO):
        raise RefError(f"unknown function {func!r} (eingrad is not covered by the reference)")
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if any(parsed.grad_after):
        raise RefError("'%' is only meaningful in eingrad")
    inputs = parsed.inputs
    if len(inputs) != len(operands):
        raise RefError(f"spec has {len(inputs)} operand(s) but {len(operands)} were given")
    arrays = [np.asarray(op) for op in operands]
    if func in ("eincount", "einany"):
        for k, a in enumerate(arrays):
            if a.dtype != np.bool_:
                raise TypeError(f"{func}: operand {k} must be boolean, got {a.dtype}")
    sizes = dict(sizes or {})

    # Output terms, and checks that do not depend on shapes.
    output = implicit_output(inputs) if parsed.implicit else parsed.output
    input_letters = {t.letter for op in inputs for t in _walk(op) if isinstance(t, (Axis, Composite))}
    input_has_ellipsis = any(isinstance(t, Ellipsis_) for op in inputs for t in _walk(op))
    for term in _walk(output):
        if isinstance(term, (Axis, Composite)) and term.letter not in input_letters:
            raise RefError(f"output letter {term.letter!r} appears in no input")
        if isinstance(term, Ellipsis_) and not input_has_ellipsis:
            raise RefError("output has '...' but no input has")

    # 2. ranks.
    ranks, ell_rank = _resolve_ranks(inputs, [a.ndim for a in arrays])
    top_ell = [r for r in ell_rank if r is not None]
    ell_total = max(top_ell) if top_ell else None
    for op in list(inputs) + [output]:
        for term in _walk(op):
            if isinstance(term, Composite) and term.letter not in ranks:
                raise RefError(f"the rank of composite {term.letter!r} is not determined")

    # 3. expansion.
    in_axes = [_expand(op, ranks, ell_rank[k], ell_total, unit_tag=(k,)) for k, op in enumerate(inputs)]
    out_axes = _expand(output, ranks, None, ell_total, unit_tag=None)

    # 4. sizes.
    known: dict = {}
    ell_sizes: dict = {}

    def learn(label, size, where):
        if label[0] == "...":
            if size == 1:
                return
            prev = ell_sizes.get(label)
            if prev is not None and prev != size:
                raise RefError(f"'...' axes do not broadcast: sizes {prev} and {size} ({where})")
            ell_sizes[label] = size
            return
        if label[0] == "_":
            if size != 1:
                raise RefError(f"'_' stands for an axis of size 1, got {size} ({where})")
            return
        prev = known.get(label)
        if prev is not None and prev != size:
            raise RefError(
                f"axis {_label_name(label)!r} has size {prev} and {size} ({where}); "
                "named axes must agree exactly"
            )
        known[label] = size

    for letter, size in sizes.items():
        learn((letter,), int(size), f"where {letter} = {size}")
    for k, axes in enumerate(in_axes):
        for dim, labels in zip(arrays[k].shape, axes):
            if len(labels) == 1:
                learn(labels[0], dim, f"operand {k}")
            elif not labels and dim != 1:
                raise RefError(f"'()' stands for an axis of size 1, got {dim} (operand {k})")

    def size_of(label):
        if label[0] == "...":
            return ell_sizes.get(label, 1)
        if label[0] == "_":
            return 1
        return known.get(label)

    # Groups: solve a member whose size is the only one unknown.
    progress = True
    while progress:
        progress = False
        for k, axes in enumerate(in_axes):
            for dim, labels in zip(arrays[k].shape, axes):
                if len(labels) < 2:
                    continue
                unknown = {lab for lab in labels if size_of(lab) is None}
                if len(unknown) == 1:
                    (lab,) = unknown
                    mult = labels.count(lab)
                    rest = prod(size_of(x) for x in labels if x != lab)
                    # A group of size 0 tells its member (0) unless another member is 0 too.
                    root = round((dim / rest) ** (1.0 / mult)) if rest and dim % rest == 0 else -1
                    if root < 0 or rest * root**mult != dim:
                        raise RefError(
                            f"a group of size {dim} cannot split with axis {_label_name(lab)!r}"
                            f" (operand {k})"
                        )
                    learn(lab, root, f"group of operand {k}")
                    progress = True
    all_labels = {lab for axes in in_axes + [out_axes] for axis in axes for lab in axis}
    for lab in sorted(all_labels, key=repr):
        if size_of(lab) is None:
            raise RefError(f"the size of axis {_label_name(lab)!r} is not determined")
    for k, axes in enumerate(in_axes):
        for dim, labels in zip(arrays[k].shape, axes):
            if len(labels) > 1 and prod(size_of(x) for x in labels) != dim:
                raise RefError(f"operand {k}: a group of size {dim} does not fit its members")
            if len(labels) == 1 and labels[0][0] == "..." and dim not in (1, size_of(labels[0])):
                raise RefError(f"operand {k}: a '...' axis of size {dim} does not broadcast")

    # 5. the atomic einsum.
    wide = _wide_dtype(arrays, func)
    atomic_arrays = []
    atomic_labels = []
    for k, axes in enumerate(in_axes):
        shape: list[int] = []
        labels: list = []
        for dim, axis_labels in zip(arrays[k].shape, axes):
            if len(axis_labels) == 1:
                shape.append(dim)  # a '...' axis keeps its size 1 for broadcasting
            else:
                shape.extend(size_of(x) for x in axis_labels)
            labels.extend(axis_labels)
        a = arrays[k].astype(wide).reshape(shape)
        # Drop `_` axes (size 1) and `...` axes of size 1 that broadcast.
        keep = [
            i
            for i, lab in enumerate(labels)
            if not (lab[0] == "_" or (lab[0] == "..." and shape[i] == 1 and size_of(lab) != 1))
        ]
        a = a.reshape([shape[i] for i in keep])
        atomic_arrays.append(a)
        atomic_labels.append([labels[i] for i in keep])

    out_labels = [lab for axis in out_axes for lab in axis]
    unique_out: list = []
    for lab in out_labels:
        if lab not in unique_out:
            unique_out.append(lab)
    present = {lab for labels in atomic_labels for lab in labels}
    for lab in unique_out:
        if lab not in present:
            # Only possible for a '...' axis that every operand broadcasts: size 1.
            assert lab[0] == "..." and size_of(lab) == 1, lab
    letters = {}
    for lab in [lab for labels in atomic_labels for lab in labels] + unique_out:
        if lab not in letters:
            if len(letters) == 52:
                raise RefError("more than 52 atomic axes")
            letters[lab] = string.ascii_letters[len(letters)]
    # Output labels no operand holds (broadcast '...' of size 1) are added at the end.
    computed_out = [lab for lab in unique_out if lab in present]
    eq = (
        ",".join("".join(letters[lab] for lab in labels) for labels in atomic_labels)
        + "->"
        + "".join(letters[lab] for lab in computed_out)
    )
    if func in SEMIRING_ZERO:
        core = broadcast_reduce(eq, atomic_arrays, func)
    else:
        core = np.asarray(np.einsum(eq, *atomic_arrays, optimize=len(atomic_arrays) > 2))
    core = core.reshape([size_of(lab) for lab in unique_out])

    # Induced diagonals: out[..., i, ..., i, ...] = core[..., i, ...], zeros elsewhere.
    full_shape = [size_of(lab) for lab in out_labels]
    if len(out_labels) != len(unique_out):
        full = np.full(full_shape, SEMIRING_ZERO.get(func, 0), dtype=core.dtype)
        grids = np.indices(core.shape, sparse=False) if core.ndim else np.zeros((0,), int)
        index = tuple(grids[unique_out.index(lab)] for lab in out_labels)
        full[index] = core
        core = full

    result = core.reshape([prod(size_of(lab) for lab in axis) for axis in out_axes])
    if func == "einany":
        return result > 0
    return result


# --- other semirings: einmax, einmin, einlogsumexp ------------------------------
#
# The operands are added, broadcast over every letter of the atomic einsum,
# and the letters the output drops are reduced by max, min or log-sum-exp
# (in float64): the definition, with none of the compiler's blocks or shifts.

SEMIRING_ZERO = {"einmax": -np.inf, "einmin": np.inf, "einlogsumexp": -np.inf}


def broadcast_reduce(eq: str, arrays, func: str) -> np.ndarray:
    """`eq` (atomic letters, diagonals allowed) in the semiring of `func`: broadcast, add, reduce."""
    inputs, output = eq.split("->")
    words = inputs.split(",")
    order = list(dict.fromkeys(output + "".join(words)))
    total = np.zeros([1] * len(order))
    for word, array in zip(words, arrays):
        distinct = "".join(dict.fromkeys(word))
        aligned = np.einsum(f"{word}->{distinct}", array)  # a diagonal, nothing summed
        shape = [aligned.shape[distinct.index(letter)] if letter in distinct else 1 for letter in order]
        moved = np.transpose(aligned, [distinct.index(letter) for letter in order if letter in distinct])
        total = total + moved.reshape(shape)
    dropped = tuple(range(len(output), len(order)))
    if not dropped:
        return total
    if func == "einmax":
        return np.max(total, axis=dropped, initial=-np.inf)
    if func == "einmin":
        return np.min(total, axis=dropped, initial=np.inf)
    shift = np.max(total, axis=dropped, keepdims=True, initial=-np.inf)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(np.log(np.sum(np.exp(total - shift), axis=dropped, keepdims=True)) + shift, dropped)


def einsum(spec, *operands, sizes=None):
    return evaluate(spec, *operands, func="einsum", sizes=sizes)


def eincount(spec, *operands, sizes=None):
    return evaluate(spec, *operands, func="eincount", sizes=sizes)


def einany(spec, *operands, sizes=None):
    return evaluate(spec, *operands, func="einany", sizes=sizes)


# --- eingrad ------------------------------------------------------------------


def numeric_jacobian(fn, x, h: float = 1e-5) -> np.ndarray:
    """d fn(x) / d x by central differences: shape fn(x).shape + x.shape."""
    x = np.array(x, dtype=np.float64)
    y0 = np.asarray(fn(x.copy()))
    jac = np.zeros(y0.shape + x.shape, dtype=np.result_type(y0.dtype, np.float64))
    for idx in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[idx]))
        plus, minus = x.copy(), x.copy()
        plus[idx] += step
        minus[idx] -= step
        jac[(Ellipsis,) + idx] = (np.asarray(fn(plus)) - np.asarray(fn(minus))) / (2 * step)
    return jac


def eingrad(spec, *operands, sizes=None, h: float = 1e-5) -> np.ndarray:
    """The value of `eingrad(spec, *operands)`; see the module docstring."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if not any(parsed.grad_after):
        raise RefError("an eingrad spec needs a '%'")
    if len(parsed.inputs) != len(operands):
        raise RefError(f"spec has {len(parsed.inputs)} operand(s) but {len(operands)} were given")
    inputs: list = []
    arrays: list = []
    k = 0
    n = len(operands)
    while k < n:
        if k < n - 1 and parsed.grad_after[k]:
            if k + 1 < n - 1 and parsed.grad_after[k + 1]:
                raise RefError("'a%b%c' is not a derivative pair")
            fn, x = operands[k], np.asarray(operands[k + 1])
            jac = numeric_jacobian(fn, x, h) if callable(fn) else np.asarray(fn)
            a_terms, b_terms = parsed.inputs[k], parsed.inputs[k + 1]
            inputs.append(a_terms + b_terms)
            arrays.append(jac)
            k += 2
        else:
            inputs.append(parsed.inputs[k])
            arrays.append(operands[k])
            k += 1
    replaced = Spec(tuple(inputs), parsed.output, (False,) * (len(inputs) - 1))
    if replaced.output is None:
        # Implicit mode on the spec as written: J's letters count as a's and b's.
        replaced = Spec(replaced.inputs, implicit_output(replaced.inputs), replaced.grad_after)
    return evaluate(replaced, *arrays, sizes=sizes)
