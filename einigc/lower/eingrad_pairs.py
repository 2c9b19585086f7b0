"""Lowering of eingrad with several `%` pairs: Jacobians then one einsum, a JVP then a VJP, or one Jacobian and
the other pair's vectorized JVPs or VJPs, by cost.

Each pair `a%b` is the operand J[a, b] of the einsum. Three strategies:

- Jacobians (always correct): each pair lowered alone as its own eingrad
  `a%b->J` (the single-pair machinery: closed forms, exact diagonals along
  shared letters, `independent` batches), then one einsum of the Js and the
  other operands, planned as usual. A pair that repeats another with the
  same function and variable (`bi%p,bi%q`: JᵀJ) reuses its Jacobian.
- A chain, where the other operands contract all of one pair's `b` (a JVP,
  J_k t) and that result then contracts all of another pair's `a` (a VJP,
  J_jᵀ u): `bi%p,bi%q,q->p` is Jᵀ(J v), memory proportional to the sizes
  of the value and the variable, never their product. On TensorFlow the
  same function of the same variable is recorded once, on one persistent
  tape, for both passes; on PyTorch once too (one vjp, its pullback
  differentiated again for the JVP); JAX evaluates it twice, jvp then vjp,
  measured faster (see `_chain_once`, `_chain_functional`).
- One Jacobian and vectorized JVPs or VJPs (two plain pairs of different
  functions or variables, no other operands; lower/eingrad_pairs_mixed.py):
  the NTK of two functions, J_f J_gᵀ, J_fᵀ J_g, the other Jacobian never built.

The passes and built entries of each (lower/eingrad_pairs_cost.py), with
the sizes from `where` or the default 64, choose; the docstring states the
choice and the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from einigc import ein_ast as A
from einigc import ir
from einigc import model as M
from einigc.checks.specs import plain_operand, runs_and_letters
from einigc.lower.builder import Block
from einigc.lower.eingrad import _describe, _letters, _Pair, _short, _tape, _tensor_value, jvp_tangent, subject
from einigc.lower.eingrad_pairs_cost import cheapest_mixed, jacobian_elements, jacobian_passes, pair_key
from einigc.lower.eingrad_pairs_mixed import lower_mixed

if TYPE_CHECKING:
    from einigc.lower.function import FunctionLowering


@dataclass(frozen=True)
class _Chain:
    """J_jᵀ (J_k t): the JVP pair k, the VJP pair j, the operands making t, the rest."""

    jvp: int
    vjp: int
    touching: tuple[int, ...]
    rest: tuple[int, ...]


def lower_pairs(lowering: FunctionLowering, block: Block, call: M.BuiltinCall) -> str:
    label = f'eingrad("{call.spec_text}")'
    paired = {k for pair in call.grad_pairs for k in pair}
    others = [k for k in range(len(call.inputs)) if k not in paired]
    names = {k: _tensor_value(lowering, block, call.args[k]) for k in others}
    names.update(_check_operands(lowering, block, call, others, names))
    chain = _find_chain(call, others)
    jacobians = jacobian_passes(lowering, call)
    chain_passes = 2 if lowering.target in ("torch", "jax") else 3
    mixed = cheapest_mixed(lowering, call, others)
    if chain is not None and chain_passes <= jacobians and (mixed is None or chain_passes <= mixed.passes):
        why = (
            f"chosen over the Jacobians: {chain_passes} passes against {jacobians},"
            " and memory of the value and the variable, not their product"
        )
        return _lower_chain(lowering, block, call, chain, names, label, why)
    built = jacobian_elements(lowering, call)
    if mixed is not None and (mixed.passes, mixed.elements) < (jacobians, built):
        why = f"chosen by cost: {mixed.passes} passes against {jacobians} for the Jacobians"
        if chain is not None:
            why += f" and {chain_passes} for a JVP then a VJP"
        why += f", {mixed.elements} Jacobian entries built against {built}"
        return lower_mixed(lowering, block, call, mixed, label, why)
    plain = all(runs_and_letters(op) for op in call.inputs)
    why = (
        f"chosen over a JVP then a VJP: {jacobians} passes against {chain_passes}"
        if chain is not None
        else "no JVP-then-VJP chain (as in bi%p,bi%q,q->p) computes this spec"
        if plain
        else "a JVP-then-VJP chain (as in bi%p,bi%q,q->p) is lowered for letters and composites only"
    )
    return _lower_jacobians(lowering, block, call, others, names, label, why)


def _check_operands(lowering, block: Block, call: M.BuiltinCall, others: list[int], names) -> dict[int, str]:
    """Checks the other operands with the variables they relate to, before any pair; returns their checked names.

    A variable is checked against each of its pairs' letters that an other
    operand holds (w as q in `bi%p,bi%q,q->p`: v meets q); a variable that
    relates to none is checked by its first pair's lowering.
    """
    if not others:
        return {}
    held = set().union(*(_letters(call.inputs[k]) for k in others))
    variables: dict[tuple[str, str], A.Operand] = {}
    for pair in call.pairs:
        x, b = pair.args[1].name, pair.inputs[1]
        if set(_letters(b)) & held:
            variables.setdefault((x, A.terms_text(b.terms)), b)
            if plain_operand(b):
                lowering.variable_ranks[x] = len(b.terms)  # each pair's lowering then checks it no more
    operands = list(variables.values()) + [call.inputs[k] for k in others]
    tensors = [x for x, _ in variables] + [names[k] for k in others]
    labels = [x for x, _ in variables] + [M.source_text(call.args[k]) for k in others]
    # A variable is rebound to its checked self (numpy arrays become tensors before any tape watches them),
    # except one an enclosing tape watches or a local function reads: checked only, as for one pair.
    kept = tuple(k for k, (x, _) in enumerate(variables) if x in block.watched() or block.closes_over(x))
    checked = lowering.check_axes(block, operands, tensors, labels, discard=kept)
    return dict(zip(others, checked[len(variables) :]))


def _find_chain(call: M.BuiltinCall, others: list[int]) -> _Chain | None:
    """A JVP pair whose `b` the others contract whole, whose result contracts a VJP pair's `a` whole."""
    if len(call.pairs) != 2 or not all(runs_and_letters(op) for pair in call.pairs for op in pair.inputs):
        return None
    if not all(runs_and_letters(call.inputs[k]) for k in others):
        return None
    out = set(_letters(call.output))
    for k, j in ((1, 0), (0, 1)):
        a_k, b_k = set(_letters(call.pairs[k].inputs[0])), set(_letters(call.pairs[k].inputs[1]))
        a_j, b_j = set(_letters(call.pairs[j].inputs[0])), set(_letters(call.pairs[j].inputs[1]))
        if a_k & b_k or a_j & b_j or a_k != a_j or a_k & out:
            continue
        touching = tuple(i for i in others if set(_letters(call.inputs[i])) & b_k)
        rest = tuple(i for i in others if i not in touching)
        rest_letters = set().union(*(_letters(call.inputs[i]) for i in rest))
        tangent_letters = set().union(b_k, *(_letters(call.inputs[i]) for i in touching))
        if tangent_letters & (out | rest_letters | a_k | a_j | b_j) or a_j & rest_letters:
            continue
        return _Chain(k, j, touching, rest)
    return None


def _lower_jacobians(lowering, block: Block, call: M.BuiltinCall, others, names, label: str, why: str) -> str:
    jacobians: dict[object, str] = {}
    tensors = []
    for pair in call.pairs:
        key = pair_key(lowering, pair)
        if key not in jacobians:
            jacobians[key] = lowering.lower_value(block, pair)
        tensors.append(jacobians[key])
    reused = len(call.pairs) - len(jacobians)
    how = "each pair's Jacobian (above), then one einsum of the Jacobians and the other operands"
    if reused:
        how += "; the same function and variable in two pairs: one Jacobian for both"
    _describe(lowering, label, f"{how}; {why}")
    tensors = _check_jacobians(lowering, block, call, others, names, tensors)
    return lowering.lower_contraction(block, call.jacobian_layout, tensors + [names[k] for k in others], label)


def _check_jacobians(lowering, block: Block, call: M.BuiltinCall, others, names, tensors) -> list[str]:
    """Checks the Jacobians against each other where they share a letter two places give.

    A letter of `b` at the same axis of the same variable in every pair has
    one size already (the variable's); any other sharing (two values, a value
    and a variable, two variables: `i%...,...%j`, `i%a,j%a` with two
    variables) meets only here. The others holding a value's letter too.
    """
    pairs = range(len(call.pairs))
    places: dict[str, set] = {}  # letter -> (Jacobian, the place that gives its size)
    for k in pairs:
        a, b = call.pairs[k].inputs
        x = call.pairs[k].args[1].name
        for n, c in enumerate(_letters(a)):
            places.setdefault(c, set()).add((tensors[k], ("value", tensors[k], n)))
        for n, c in enumerate(_letters(b)):
            places.setdefault(c, set()).add((tensors[k], ("variable", x, n)))
    # A pair that reuses another's Jacobian names its value's axes anew (`i%j,k%j`: k is f(x)'s axis too).
    a_letters = set().union(*(_letters(call.pairs[k].inputs[0]) for k in pairs))
    related = [i for i in others if set(_letters(call.inputs[i])) & a_letters]
    shared = any(
        len({t for t, _ in where}) > 1 and len({place for _, place in where}) > 1 for where in places.values()
    )
    if not (shared or related):
        return tensors
    operands = [call.pairs[k].output for k in pairs] + [call.inputs[i] for i in related]
    checked = lowering.check_axes(
        block,
        operands,
        list(tensors) + [names[i] for i in related],
        [f"the Jacobian of {subject(call.pairs[k].args[0])}" for k in pairs]
        + [M.source_text(call.args[i]) for i in related],
    )
    names.update(zip(related, checked[len(tensors) :]))
    return checked[: len(tensors)]


def _tangent(lowering, block: Block, call: M.BuiltinCall, chain: _Chain, names, label: str) -> str:
    """The others that contract the JVP pair's `b`, contracted to its letters: eingrad's `jvp_tangent`."""
    a, b = call.pairs[chain.jvp].inputs
    x = call.pairs[chain.jvp].args[1].name
    pair = _Pair(a, b, _letters(a), _letters(b), plain_operand(a) and plain_operand(b))
    return jvp_tangent(lowering, block, call, pair, x, list(chain.touching), names, label)


def _lower_chain(lowering, block: Block, call: M.BuiltinCall, chain: _Chain, names, label: str, why: str) -> str:
    first, second = call.pairs[chain.jvp], call.pairs[chain.vjp]
    tangent = _tangent(lowering, block, call, chain, names, label)
    same = first.args == second.args
    a_k, a_j = first.inputs[0], second.inputs[0]
    once = ""
    if same and lowering.target == "torch" and _letters(a_k) == _letters(a_j):
        result = _chain_once(lowering, block, first, tangent)
        once = (
            f"{subject(first.args[0])} evaluated once for both passes under torch.compile (its pullback"
            " differentiated again); eagerly a jvp then a vjp, measured faster"
        )
    else:
        if lowering.target in ("torch", "jax"):
            u, cotangent_of = _chain_functional(lowering, block, first, second, tangent, same)
        else:
            u, cotangent_of = _chain_tapes(lowering, block, first, second, tangent, same)
            once = f"{subject(first.args[0])} recorded once for both passes" if same else ""
        if _letters(a_k) != _letters(a_j):
            u = lowering.lower_contraction(block, lowering.derived_layout([a_k], a_j), [u], label)
        result = cotangent_of(u)
    how = (
        f"a JVP of {subject(first.args[0])} (the pair '{first.spec_text.split('->')[0]}'),"
        f" then a VJP of {subject(second.args[0])} with it as the cotangent;"
        " no Jacobian is built" + (f"; {once}" if once else "")
    )
    _describe(lowering, label, f"{how}; {why}")
    b_j = second.inputs[1]
    layout = lowering.derived_layout([b_j] + [call.inputs[i] for i in chain.rest], call.output)
    return lowering.lower_contraction(block, layout, [result] + [names[i] for i in chain.rest], label)


def _chain_tapes(lowering, block: Block, first: M.BuiltinCall, second: M.BuiltinCall, tangent: str, same: bool):
    """J_k t by the double-backward trick on a tape; the VJP on the same tape (persistent) or its own."""
    x = first.args[1].name
    comment = "record {y} for a JVP and then a VJP" if same else "record {y} for the double-backward JVP"
    tape, value, _ = _tape(lowering, block, first, {}, comment, persistent=same)
    # J t = d/du (J^T u . t): u is a dummy cotangent, the VJP is linear in u.
    dummy = block.emit(f"u_{_short(value)}", ir.ZerosLike(value), "a dummy cotangent for the double-backward JVP")
    dual = block.fresh("dual")
    body = block.tape(dummy)
    vjp = body.emit(f"vjp_{_short(value)}", ir.Gradient(tape, value, x, dummy))
    block.add(ir.Tape(dual, dummy, tuple(body.statements), "the VJP as a function of the dummy cotangent"))
    u = block.emit(f"jvp_{tangent}", ir.Gradient(dual, vjp, dummy, tangent))

    def cotangent_of(cotangent: str) -> str:
        if same:
            return block.emit(f"{cotangent}_vjp", ir.Gradient(tape, value, x, cotangent))
        check = _against(lowering, first, second, cotangent)
        tape_j, value_j, _ = _tape(lowering, block, second, {}, "record {y} for one reverse pass (a VJP)", check)
        return block.emit(f"{cotangent}_vjp", ir.Gradient(tape_j, value_j, second.args[1].name, cotangent))

    return u, cotangent_of


def _against(lowering, first: M.BuiltinCall, second: M.BuiltinCall, cotangent: str):
    """Checks the VJP's function value against the JVP's result, its cotangent: two functions, one shape.

    An `extra` of the tape or local function that evaluates the second
    function: the value is rebound to its checked self, the cotangent checked only.
    """
    a_j = second.inputs[0]
    g, y = second.args
    label = f"{g.name}({y.name})" if isinstance(g, M.ParamValue) else M.source_text(g)

    def check(body: Block, value: str) -> str:
        last = body.statements[-1] if body.statements else None
        if isinstance(last, ir.CheckAxes) and last.operands == (value,):
            body.statements.pop()  # the value's own check: this one checks it too
        labels = [label, f"the JVP of {subject(first.args[0])}"]
        return lowering.check_axes(body, [a_j, a_j], [value, cotangent], labels, discard=(1,))[0]

    return check


def _chain_once(lowering, block: Block, first: M.BuiltinCall, tangent: str) -> str:
    """Jᵀ(J t) of one local function on PyTorch, evaluated once under torch.compile (the runtime's _vjp_of_jvp).

    Against a jvp and then a vjp (two evaluations), Jᵀ(J v) of tanh(X W -
    mean) with X 64x64 and W 64x64 (4,096 weights), float32, the minimum of 25
    calls, the median of 15 interleaved rounds in one process, ms: eagerly
    0.62 against 0.54 (1.17x slower), under torch.compile (inductor) 0.081
    against 0.146 (0.64x); with X 512x64, eagerly 0.92 against 0.84 (about
    even, rounds 0.91-1.13x), compiled 0.18 against 0.30 (0.60x).
    torch.func.linearize then a vjp: 39-137 ms eagerly (its make_fx trace).
    So the helper takes the double vjp under torch.compile and the jvp then
    the vjp eagerly (bench/results/eingrad_pairs.md: ggn_vp 1.26x eagerly
    with the double vjp).
    """
    from einigc.lower.eingrad_functional import _function_of

    x = first.args[1].name
    function, _, _ = _function_of(lowering, block, first, {}, "{y} as a function of " + x + "{checked}")
    return block.emit(f"vjp_of_jvp_{tangent}", ir.VjpOfJvp(function, x, tangent))


def _chain_functional(lowering, block: Block, first: M.BuiltinCall, second: M.BuiltinCall, tangent: str, same: bool):
    """J_k t by one forward-mode pass of a local function; the VJP a reverse pass of it (or of the other's).

    On JAX the same function is evaluated twice (jvp, then vjp), measured
    faster than evaluating it once: Jᵀ(J v) as in `_chain_once`, X 64x64,
    ms eagerly / under jax.jit (minimum of 15 calls, median of 9 interleaved
    rounds): jvp then vjp 4.19 / 0.065; jax.linearize then
    jax.linear_transpose of it 5.37 / 0.069 (1.29x / 1.36x per round);
    jax.vjp then the transposed pullback for the JVP 7.97 / 0.071 (1.85x / 1.12x).
    """
    from einigc.lower.eingrad_functional import _function_of

    x = first.args[1].name
    function, _, _ = _function_of(lowering, block, first, {}, "{y} as a function of " + x + "{checked}")
    u = block.emit(f"jvp_{tangent}", ir.JvpOf(function, x, tangent))

    def cotangent_of(cotangent: str) -> str:
        other = function
        if not same:
            x_j = second.args[1].name
            comment = "{y} as a function of " + x_j + "{checked}"
            check = _against(lowering, first, second, cotangent)
            other, _, _ = _function_of(lowering, block, second, {}, comment, check)
        return block.emit(f"{cotangent}_vjp", ir.VjpOf(other, second.args[1].name, cotangent))

    return u, cotangent_of
