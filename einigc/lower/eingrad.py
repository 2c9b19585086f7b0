"""Lowering of eingrad: picks the cheapest tape program that computes the spec.

For a pair `a%b` the spec contracts J[a, b] = d a / d b with the other
operands. Three lowerings never build more of J than the spec needs:

- VJP: every letter of `a` is contracted away (and not shared with `b`):
  one reverse pass, `tape.gradient(y, x, output_gradients=cotangent)`;
- JVP: every letter of `b` is contracted away: one forward-mode product, by
  the double-backward trick (two reverse passes, measured faster on TF CPU
  than ForwardAccumulator), or by one reverse pass when J is a Hessian;
- Jacobian: otherwise, the full Jacobian (`_jacobian`), then the einsum.

A letter shared by `a` and `b` is the diagonal of J. By default that is exact
(the full Jacobian, then its diagonal); `where b independent` says entries
along b do not interact, so one pass serves the whole batch.

That is TensorFlow's lowering, with tapes; on PyTorch and JAX the same
choice becomes function transforms (torch.func, jax) of a local function of
the variable: see lower/eingrad_functional.py.

Every operand is checked against the spec: the variable and the other
operands before the tape, the value of `a` (named `y(x)` after the user's
names) as soon as it is computed. For complex dtypes every form computes the
holomorphic J (the runtime `_gradient` and `_jacobian` conjugate TensorFlow's
J^H), so that the JVP is J v and the VJP z^T J for the J the Jacobian returns.

Eager Jacobians (8x8 of tanh(W x), on the 2-core development machine):
tape.jacobian's pfor re-traces its loop on every eager call, 62 ms; with
experimental_use_pfor=False, 10 ms; ForwardAccumulator per column, 22 ms; a
loop of reverse passes with basis cotangents, 4 ms (64x64: 31 ms against 64
ms for pfor; about even near 128 rows), so `_jacobian` loops eagerly up to
128 entries. `make bench` (64x64, a loaded machine): jacobian 52 ms against
200 ms for tape.jacobian, batched_jacobian 32 against 122 ms. A tf.function
traced once per callable was 0.3-0.5 ms, but stale: it keeps the state
(globals, closures) the callable read when traced, so only functions that
take no callable are traced when called eagerly (expression_jacobian: 0.5 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from einigc import ein_ast as A
from einigc import ir
from einigc import model as M
from einigc.checks.layout import plain_layout
from einigc.checks.specs import plain_operand, runs_and_letters, walk_terms
from einigc.lower.builder import Block

if TYPE_CHECKING:  # function imports this module
    from einigc.lower.function import FunctionLowering


# Targets whose frameworks differentiate functions (torch.func, jax): see eingrad_functional.
FUNCTIONAL_TARGETS = ("torch", "jax")


@dataclass(frozen=True)
class _Pair:
    a: A.Operand
    b: A.Operand
    a_letters: tuple[str, ...]
    b_letters: tuple[str, ...]
    plain: bool  # both sides are single lowercase axes only


def _letters(operand: A.Operand) -> tuple[str, ...]:
    out = []

    def walk(terms):
        for t in terms:
            if isinstance(t, (A.Axis, A.Composite)):
                out.append(t.letter)
            elif isinstance(t, A.Group):
                walk(t.terms)

    walk(operand.terms)
    return tuple(out)


def uses(value: M.Value, name: str) -> bool:
    """Whether `value` reads the parameter `name`."""
    if isinstance(value, M.ParamValue):
        return value.name == name
    return any(uses(arg, name) for arg in value.args)


def is_scalar_gradient(value: M.Value, variable: str) -> bool:
    """True for `eingrad(",%j->j", f, x)`-like values: the gradient of a scalar wrt `variable`."""
    if not isinstance(value, M.BuiltinCall) or value.func != "eingrad":
        return False
    if len(value.inputs) != 2 or value.grad_pairs != ((0, 1),):
        return False
    a, b = value.inputs
    x = value.args[1]
    return (
        not a.terms
        and isinstance(x, M.ParamValue)
        and x.name == variable
        and plain_operand(b)
        and _letters(b) == _letters(value.output)
        and all(isinstance(t, A.Axis) for t in value.output.terms)
    )


def closed_form(call: M.BuiltinCall):
    """The derivative as one einsum, when `a` is an einsum linear in the variable.

    d/dx einsum(..., x, ...) replaces x by Kronecker deltas between x's
    letters and the variable's: unifying those letters turns the whole
    eingrad into an einsum of the remaining operands, with no tape at all.
    Returns (inputs, output, args, the variable's letters), each a tuple of letters,
    or None where this does not apply.
    """
    ((p, q),) = call.grad_pairs
    inner, variable = call.args[p], call.args[q]
    if not (isinstance(inner, M.BuiltinCall) and inner.func == "einsum"):
        return None
    readers = [k for k, arg in enumerate(inner.args) if uses(arg, variable.name)]
    if len(readers) != 1 or inner.args[readers[0]] != variable:
        return None
    m = readers[0]
    operands = list(inner.inputs) + [inner.output] + list(call.inputs) + [call.output]
    if not all(_plain_letters(op) for op in operands):
        return None
    x_letters = _letters(inner.inputs[m])
    a_letters, b_letters = _letters(call.inputs[p]), _letters(call.inputs[q])
    out_inner = _letters(inner.output)
    if len(set(x_letters)) != len(x_letters) or len(set(out_inner)) != len(out_inner):
        return None
    if len(a_letters) != len(out_inner) or len(b_letters) != len(x_letters):
        return None
    others_inner = [k for k in range(len(inner.inputs)) if k != m]
    inner_elsewhere = set(out_inner).union(*(_letters(inner.inputs[k]) for k in others_inner))
    if set(x_letters) - inner_elsewhere:
        return None  # a letter summed only over x: its derivative is a broadcast of ones
    outer_used = set().union(*(_letters(op) for op in (*call.inputs, call.output)))
    spare = [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in outer_used]
    inner_letters = sorted(set().union(*(_letters(op) for op in inner.inputs)))
    if len(spare) < len(inner_letters):
        return None
    rename = {c: "#" + c for c in inner_letters}  # inner letters live in their own namespace
    deltas = [(rename[i], o) for i, o in (*zip(out_inner, a_letters), *zip(x_letters, b_letters))]
    letter = _unified(deltas, [rename[c] for c in inner_letters], spare)

    def renamed(op: A.Operand, inner_side: bool) -> tuple[str, ...]:
        return tuple(letter(rename[t.letter] if inner_side else t.letter) for t in op.terms)

    outer_others = [k for k in range(len(call.inputs)) if k not in (p, q)]
    inputs = [renamed(call.inputs[k], False) for k in outer_others]
    inputs += [renamed(inner.inputs[k], True) for k in others_inner]
    args = [call.args[k] for k in outer_others] + [inner.args[k] for k in others_inner]
    output = renamed(call.output, False)
    if not inputs or set(output) - set().union(*inputs):
        return None
    return inputs, output, args, renamed(inner.inputs[m], True)


def _unified(deltas, inner_letters, spare: list[str]):
    """The letter each letter becomes once the pairs in `deltas` (Kronecker deltas) are one letter.

    The user's outer letters name what they join; an inner letter (`#i`) that
    joins none keeps its own name where that is spare, else takes a spare one.
    """
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    def union(c: str, d: str) -> None:
        c, d = find(c), find(d)
        if c != d:
            # The user's outer letters name the result; inner ones yield.
            keep, drop = sorted((c, d), key=lambda e: (e.startswith("#"), e))
            parent[drop] = keep

    for inner_letter, outer_letter in deltas:
        union(inner_letter, outer_letter)
    spare = list(spare)
    spare_for: dict[str, str] = {}
    for root in sorted({find(c) for c in inner_letters if find(c).startswith("#")}):
        own = root[1:]
        spare_for[root] = own if own in spare else next(c for c in spare if c not in spare_for.values() and c != own)
        if own in spare:
            spare.remove(own)
        else:
            spare.remove(spare_for[root])

    def letter(c: str) -> str:
        root = find(c)
        return spare_for.get(root, root)

    return letter


def _plain_letters(operand: A.Operand) -> bool:
    return all(isinstance(t, A.Axis) for t in operand.terms)


def lower_eingrad(lowering: FunctionLowering, block: Block, call: M.BuiltinCall) -> str:
    result = _lower_eingrad(lowering, block, call)
    letter = call.layout.ellipsis_letter
    written = any(isinstance(t, A.Composite) and t.written for op in call.inputs for t in walk_terms(op.terms))
    if written and "..." in call.spec_text:  # the user's spec, not a pair's own (`Zi%Zj->Zij`)
        # After the lowering's own notes, under the same heading (the pairs' notes come before it).
        note = ir.LoweringChoice(
            f"'...' beside '%' is the same axes in every operand, like shared letters: the composite '{letter}'"
            " above and in run-time messages"
        )
        lowering.add_plan_note(f'eingrad("{call.spec_text}")', [note])
    return result


def _lower_eingrad(lowering: FunctionLowering, block: Block, call: M.BuiltinCall) -> str:
    if len(call.grad_pairs) > 1:
        # Imported here: the pairs' lowering lowers each pair with this module.
        from einigc.lower.eingrad_pairs import lower_pairs

        return lower_pairs(lowering, block, call)
    closed = closed_form(call)
    if closed is not None:
        return _lower_closed_form(lowering, block, call, *closed)
    (p, q), = call.grad_pairs
    a_op, b_op = call.inputs[p], call.inputs[q]
    left, right = call.args[p], call.args[q]
    pair = _Pair(a_op, b_op, _letters(a_op), _letters(b_op), plain_operand(a_op) and plain_operand(b_op))
    others = [k for k in range(len(call.inputs)) if k not in (p, q)]
    x = right.name
    names = {k: _tensor_value(lowering, block, call.args[k]) for k in others}
    names.update(_check_operands(lowering, block, call, x, names))
    out_letters = set(_letters(call.output))
    shared = set(pair.a_letters) & set(pair.b_letters)
    independent = shared & set(lowering.function.independent)
    exact = shared - independent
    label = f'eingrad("{call.spec_text}")'

    def letters_of(ks):
        found = set()
        for k in ks:
            found.update(_letters(call.inputs[k]))
        return found

    def split(free: set[str], side: set[str]):
        """Operands touching `free` letters, if they can be folded into one pass."""
        if not (runs_and_letters(pair.a) and runs_and_letters(pair.b)) or exact or free & out_letters:
            return None
        touching = [k for k in others if set(_letters(call.inputs[k])) & free]
        rest = [k for k in others if k not in touching]
        extra = letters_of(touching) - free - shared
        if extra & (out_letters | letters_of(rest) | side):
            return None
        if not all(runs_and_letters(call.inputs[k]) for k in touching):
            return None
        return touching, rest

    a_free = set(pair.a_letters) - shared
    b_free = set(pair.b_letters) - shared
    vjp = split(a_free, set(pair.b_letters))
    jvp = None if vjp else split(b_free, set(pair.a_letters))
    if exact and pair.plain:
        _note_independent(lowering, call, b_op, exact)
    if independent and not pair.plain:
        letters = ", ".join(sorted(independent))
        lowering.notes.append(
            (
                call.spec_pos,
                f"'{letters} independent' is not used here: beside a composite, '...' or a group the"
                " lowering builds the full Jacobian (exact, one pass per entry)",
                "write single letters on both sides of '%' for the one-pass lowering",
            )
        )

    lower_vjp, lower_jvp, lower_jacobian = _forms(lowering.target)
    if vjp is not None:
        touching, rest = vjp
        return lower_vjp(lowering, block, call, pair, left, x, touching, rest, names, label)
    if jvp is not None:
        touching, rest = jvp
        return lower_jvp(lowering, block, call, pair, left, x, touching, rest, names, label)
    return lower_jacobian(lowering, block, call, pair, left, x, others, names, independent, label)


def _forms(target: str):
    """The lowerings of the VJP, the JVP and the Jacobian for `target`: tapes, or function transforms."""
    if target in FUNCTIONAL_TARGETS:
        # Imported here: the functional lowering builds on this module's helpers.
        from einigc.lower import eingrad_functional as functional

        return functional.lower_vjp, functional.lower_jvp, functional.lower_jacobian
    return _lower_vjp, _lower_jvp, _lower_jacobian


def _tensor_value(lowering: FunctionLowering, block: Block, value: M.Value) -> str:
    # A parameter stays as given: _check_axes converts numpy arrays and lists
    # (before any tape watches them, since the variable is checked first).
    if isinstance(value, M.ParamValue):
        return value.name
    return lowering.lower_value(block, value)


def _check_operands(
    lowering: FunctionLowering, block: Block, call: M.BuiltinCall, x: str, names: dict[int, str]
) -> dict[int, str]:
    """Checks the variable and the other operands before the tape; returns their checked names."""
    (p, q), = call.grad_pairs
    a_letters = set(_letters(call.inputs[p]))
    # An operand with only letters of `a` (a cotangent) is checked with the value of `a`.
    ks = [k for k in sorted(names) if not set(_letters(call.inputs[k])) <= a_letters or not _letters(call.inputs[k])]
    b = call.inputs[q]
    operands = [call.inputs[k] for k in ks]
    tensors = [names[k] for k in ks]
    labels = [M.source_text(call.args[k]) for k in ks]
    related = set().union(*(_letters(op) for op in operands)) & set(_letters(b))
    if lowering.variable_ranks.get(x) != len(b.terms) or not plain_operand(b) or related:
        operands.insert(0, b)
        tensors.insert(0, x)
        labels.insert(0, x)
    if plain_operand(b):
        lowering.variable_ranks[x] = len(b.terms)
    if not operands:
        return {}  # the variable of an enclosing eingrad, checked there at this rank
    # A variable an enclosing tape watches keeps its name: checked only; so
    # does one a local function reads from around it (the inner function takes it).
    discard = (0,) if tensors[0] == x and (x in block.watched() or block.closes_over(x)) else ()
    checked = lowering.check_axes(block, operands, tensors, labels, discard)
    return dict(zip(ks, checked[-len(ks):] if ks else ()))


def _check_value(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    value: str,
    names: dict[int, str],
    rebind: bool = True,
) -> None:
    """Checks the value of the operand left of `%` against its letters (inside the tape).

    `rebind`: the other operands are rebound to their checked selves; a
    closure's body checks them only (it may not rebind its enclosing names).
    """
    (p, q), = call.grad_pairs
    left, right = call.args[p], call.args[q]
    a_letters = set(_letters(call.inputs[p]))
    related = [k for k in sorted(names) if a_letters & set(_letters(call.inputs[k]))]
    shares_variable = bool(a_letters & set(_letters(call.inputs[q])))
    where = {letter for letter, (_, source) in lowering.sizes.items() if source == "where ="}
    if isinstance(left, M.BuiltinCall) and not related and not shares_variable and not a_letters & where:
        if all(isinstance(t, A.Axis) for t in left.output.terms + call.inputs[p].terms):
            if len(left.output.terms) == len(call.inputs[p].terms):
                return  # our own result, of the right rank by construction, relates to nothing
    label = f"{left.name}({right.name})" if isinstance(left, M.ParamValue) else M.source_text(left)
    operands = [call.inputs[p]] + [call.inputs[k] for k in related]
    tensors = [value] + [names[k] for k in related]
    labels = [label] + [M.source_text(call.args[k]) for k in related]
    if shares_variable:
        operands.append(call.inputs[q])
        tensors.append(right.name)
        labels.append(right.name)
    # The others are rebound (the reverse pass then waits for the checks); the variable keeps its name.
    discard = tuple(range(1, len(tensors))) if not rebind else (len(tensors) - 1,) if shares_variable else ()
    lowering.check_axes(block, operands, tensors, labels, discard=discard)


def _lower_closed_form(
    lowering: FunctionLowering, block: Block, call: M.BuiltinCall, inputs, output, args, x_operand
) -> str:
    (p, q), = call.grad_pairs
    x = call.args[q].name
    labels = [M.source_text(a) for a in args] + [x]
    tensors = [lowering.lower_value(block, a) for a in args] + [x]
    # x is checked against its letters in the einsum, though the result does not read it.
    words = ["".join(letters) for letters in (*inputs, x_operand)]
    names = lowering.check_axes(block, words, tensors, labels, discard=(len(tensors) - 1,))[:-1]
    spec = ",".join(map("".join, inputs)) + "->" + "".join(output)
    label = f'eingrad("{call.spec_text}")'
    unused = "no transform" if lowering.target in FUNCTIONAL_TARGETS else "no tape"
    _describe(lowering, label, f"closed form: the einsum is linear in the variable, so its derivative is einsum(\"{spec}\"); {unused}")
    layout = plain_layout(tuple(inputs), output)
    return lowering.lower_contraction(block, layout, names, f'{label} in closed form: "{spec}"')


def _note_independent(lowering: FunctionLowering, call: M.BuiltinCall, b_op: A.Operand, exact: set[str]) -> None:
    letters = ", ".join(sorted(exact))
    pos = next((t.pos for t in b_op.terms if isinstance(t, A.Axis) and t.letter in exact), call.pos)
    lowering.notes.append(
        (
            pos,
            f"'{letters}' is shared across '%': computed exactly, through the full Jacobian",
            f"if entries along it do not interact, `where {sorted(exact)[0]} independent`"
            " computes it in one pass",
        )
    )


def _evaluate(lowering: FunctionLowering, block: Block, left: M.Value, x: str) -> str:
    if isinstance(left, M.ParamValue):
        return block.emit(f"{left.name}_value", ir.CallFunction(left.name, (x,)))
    return lowering.lower_value(block, left)


def subject(value: M.Value) -> str:
    """The operand left of `%` in the user's words, for comments and the docstring."""
    if isinstance(value, M.ParamValue):
        return value.name
    if isinstance(value, M.BuiltinCall) and value.func == "eingrad" and not value.inputs[0].terms:
        return f"the gradient of {subject(value.args[0])}"
    text = M.source_text(value)
    return text if len(text) <= 40 else f"the {getattr(value, 'func', None) or value.callee} call"


def _tape(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    names: dict[int, str],
    comment: str,
    extra: Callable[[Block, str], str] | None = None,
    persistent: bool = False,
) -> tuple[str, str, str | None]:
    """Emits a tape block evaluating (and checking) the operand left of `%`; returns (tape, value, extra result).

    `comment` may name the operand left of `%` as `{y}`.
    """
    (p, q), = call.grad_pairs
    comment = comment.format(y=subject(call.args[p]))
    left, x = call.args[p], call.args[q].name
    tape = block.fresh("tape")
    body = block.tape(x)
    value = _evaluate(lowering, body, left, x)
    _check_value(lowering, body, call, value, names)
    extra_result = extra(body, value) if extra else None
    block.add(ir.Tape(tape, x, tuple(body.statements), comment, persistent))
    return tape, value, extra_result


def scalar_layout(lowering: FunctionLowering, ops):
    """The layout that contracts `ops` (letters and composites, see `split`) to a scalar."""
    if all(plain_operand(op) for op in ops):
        return plain_layout(tuple(_letters(op) for op in ops), ())
    return lowering.derived_layout(ops)


def _describe(lowering: FunctionLowering, label: str, how: str) -> None:
    lowering.add_plan_note(label, [ir.LoweringChoice(how)])


def _lower_vjp(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    pair: _Pair,
    left: M.Value,
    x: str,
    touching: list[int],
    rest: list[int],
    names: dict[int, str],
    label: str,
) -> str:
    independent = set(pair.a_letters) & set(pair.b_letters)
    single = len(touching) == 1 and _letters(call.inputs[touching[0]]) == pair.a_letters
    if not touching:
        how = f"one reverse pass of {subject(left)}" + (", summed over its letters" if pair.a_letters else "")
        tape, value, _ = _tape(lowering, block, call, names, "record {y} for one reverse pass")
        grad = block.emit(f"d{ _short(value)}_d{x}", ir.Gradient(tape, value, x))
    elif single:
        cot = names[touching[0]]
        how = f"one reverse pass of {subject(left)} with the cotangent {M.source_text(call.args[touching[0]])} (a VJP)"
        tape, value, _ = _tape(lowering, block, call, names, "record {y} for one reverse pass (a VJP)")
        grad = block.emit(f"{cot}_vjp", ir.Gradient(tape, value, x, cot))
    else:
        how = f"one reverse pass of the scalar that contracts {subject(left)} with its cotangent operands"
        ops = [call.inputs[k] for k in touching] + [pair.a]
        tensors = [names[k] for k in touching]

        def contract(body: Block, value: str) -> str:
            # Letters and composites only (see `split`): contracted to a scalar.
            return lowering.lower_contraction(body, scalar_layout(lowering, ops), tensors + [value], label)

        tape, value, scalar = _tape(lowering, block, call, names, "record {y} and its contraction for one reverse pass", contract)
        grad = block.emit(f"{scalar}_grad", ir.Gradient(tape, scalar, x))
    if independent:
        how += f"; '{''.join(sorted(independent))}' independent, so one pass serves the whole batch"
    _describe(lowering, label, how + "; the Jacobian is never built")
    layout = lowering.derived_layout([pair.b] + [call.inputs[k] for k in rest], call.output)
    return lowering.lower_contraction(block, layout, [grad] + [names[k] for k in rest], label)


def jvp_tangent(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    pair: _Pair,
    x: str,
    touching: list[int],
    names: dict[int, str],
    label: str,
) -> str:
    """The tangent a JVP pushes forward: the operands `touching` contracted to x's letters
    (ones where they leave some of them out), the one operand as it is, or all ones."""
    single = len(touching) == 1 and _letters(call.inputs[touching[0]]) == pair.b_letters
    if not touching:
        tangent = block.emit(f"ones_{x}", ir.OnesLike(x), "summing over x's letters: the tangent is all ones")
    elif single:
        tangent = names[touching[0]]
    else:
        ops = [call.inputs[k] for k in touching]
        tensors = [names[k] for k in touching]
        if set(pair.b_letters) - set().union(*(_letters(o) for o in ops)):
            ones = block.emit(f"ones_{x}", ir.OnesLike(x))
            ops.append(pair.b)
            tensors.append(ones)
        tangent = lowering.lower_contraction(block, lowering.derived_layout(ops, pair.b), tensors, label)
    return tangent


def _lower_jvp(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    pair: _Pair,
    left: M.Value,
    x: str,
    touching: list[int],
    rest: list[int],
    names: dict[int, str],
    label: str,
) -> str:
    independent = set(pair.a_letters) & set(pair.b_letters)
    tangent = jvp_tangent(lowering, block, call, pair, x, touching, names, label)
    if is_scalar_gradient(left, x):
        # d(grad f)/dx is a Hessian, which is symmetric: H v is the reverse
        # pass of the gradient with cotangent v (reverse-over-reverse, the
        # fastest Hessian-vector product measured on TF CPU).
        tape, value, _ = _tape(lowering, block, call, names, "record {y} for a second reverse pass")
        result = block.emit(f"hvp_{tangent}", ir.Gradient(tape, value, x, tangent))
        how = "Hessian-vector product by reverse-over-reverse (the Hessian is symmetric); never built"
    else:
        tape, value, _ = _tape(lowering, block, call, names, "record {y} for the double-backward JVP")
        # J v = d/du (J^T u . v): u is a dummy cotangent, the VJP is linear in u.
        dummy = block.emit(f"u_{_short(value)}", ir.ZerosLike(value), "a dummy cotangent for the double-backward JVP")
        dual = block.fresh("dual")
        body = block.tape(dummy)
        vjp = body.emit(f"vjp_{_short(value)}", ir.Gradient(tape, value, x, dummy))
        block.add(ir.Tape(dual, dummy, tuple(body.statements), "the VJP as a function of the dummy cotangent"))
        result = block.emit(f"jvp_{tangent}", ir.Gradient(dual, vjp, dummy, tangent))
        how = "a JVP by the double-backward trick (two reverse passes); the Jacobian is never built"
    if independent:
        how += f"; '{''.join(sorted(independent))}' independent, so one pass serves the whole batch"
    _describe(lowering, label, how)
    layout = lowering.derived_layout([pair.a] + [call.inputs[k] for k in rest], call.output)
    return lowering.lower_contraction(block, layout, [result] + [names[k] for k in rest], label)


def _lower_jacobian(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    pair: _Pair,
    left: M.Value,
    x: str,
    others: list[int],
    names,
    independent: set[str],
    label,
) -> str:
    a_terms = pair.a.terms
    batch_axes = ()
    if independent and pair.plain:
        batch_axes = tuple(i for i, t in enumerate(a_terms) if t.letter in independent)
    if batch_axes:

        def summed(body: Block, value: str) -> str:
            return body.emit(
                f"{_short(value)}_sum",
                ir.ReduceSum(value, batch_axes),
                "independent entries: the sum over the batch has the same derivative per entry",
            )

        tape, value, target = _tape(lowering, block, call, names, "record {y}, summed over the batch, for one Jacobian", summed, persistent=True)
        how = (
            f"the Jacobian of {subject(left)} summed over the independent letters"
            f" '{''.join(sorted(independent))}' (one pass for the whole batch, like batch_jacobian)"
        )
    else:
        tape, value, _ = _tape(lowering, block, call, names, "record {y} for the full Jacobian", persistent=True)
        target = value
        shared = set(pair.a_letters) & set(pair.b_letters)
        how = "the full Jacobian, then the einsum"
        if shared:
            how += f"; exact diagonal along '{''.join(sorted(shared))}' from the full Jacobian"
    jac = block.emit(f"d{_short(value)}_d{x}", ir.Jacobian(tape, target, x))
    _describe(lowering, label, how)
    # J[a, b] (the batch letters summed out of a), then the others: resolved by checks.
    return lowering.lower_contraction(block, call.jacobian_layout, [jac] + [names[k] for k in others], label)


def _word(operand: A.Operand) -> str:
    return "".join(t.letter for t in operand.terms)


def _short(name: str) -> str:
    return name[:-6] if name.endswith("_value") else name
