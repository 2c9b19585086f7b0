"""Spec checks: operands against arguments, `%` and `...` rules, output letters; each spec's layout resolved."""

from __future__ import annotations

import re

from einigc import ein_ast as A
from einigc import model as M
from einigc.checks.layout import analyse
from einigc.errors import DiagnosticSink, EinAxisError, EinUnsupportedError, Pos


def walk_terms(terms):
    """Every term, and the terms inside groups."""
    for term in terms:
        yield term
        if isinstance(term, A.Group):
            yield from walk_terms(term.terms)


def spec_letters(spec_terms) -> list[A.Axis]:
    """The lowercase axes of some spec terms, groups included."""
    return [t for t in walk_terms(spec_terms) if isinstance(t, A.Axis)]


def implicit_output(inputs: tuple[A.Operand, ...], pos: Pos) -> A.Operand:
    """numpy's implicit mode: letters that appear once, sorted; `...` first."""
    counts: dict[str, int] = {}
    first: dict[str, A.Axis | A.Composite] = {}
    has_ellipsis = False
    for operand in inputs:
        for term in walk_terms(operand.terms):
            if isinstance(term, (A.Axis, A.Composite)):
                counts[term.letter] = counts.get(term.letter, 0) + 1
                first.setdefault(term.letter, term)
            elif isinstance(term, A.Ellipsis_):
                has_ellipsis = True
    terms: list[A.Term] = [A.Ellipsis_(pos)] if has_ellipsis else []
    for letter in sorted(counts):
        if counts[letter] == 1:
            term = first[letter]
            terms.append(type(term)(letter, pos))
    return A.Operand(tuple(terms), pos)


def _operand_count_hint(spec: A.Spec, args: int) -> str:
    inputs, arrow, output = spec.text.partition("->")
    parts = re.split(r"([,%])", inputs)  # operands, and the separators between them
    if len(spec.inputs) < args and any(len(part.split()) > 1 for part in parts):
        fixed = "".join(",".join(part.split()) for part in parts) + arrow + "".join(output.split())
        return f"whitespace does not separate operands: write '{fixed}'"
    if len(spec.grad_pairs) > 1:
        return "give one argument per operand: each '%' pair takes two, the function then its variable"
    return "give one argument per operand of the spec"


def check_spec(call: A.Call, sink: DiagnosticSink):
    """Checks a builtin call's spec; returns (inputs, output, implicit), or None after reporting."""
    spec = call.spec
    ok = _check_operand_count(call, sink)
    if call.func == "eingrad":
        if not spec.grad_pairs:
            sink.error(
                EinAxisError(
                    spec.pos,
                    "an eingrad spec needs a '%' between the differentiated operand and the variable",
                    'e.g. eingrad("i%j->ij", y, x)',
                )
            )
            return None
        ok &= _check_grad_pair(call, sink)
    else:
        for gpos in spec.grad_positions:
            sink.error(EinAxisError(gpos, f"'%' is only meaningful in eingrad, not in {call.func}", "use ','"))
            ok = False
    for operand in spec.inputs:
        ok &= _check_operand(operand, "input", sink)
    if spec.output is None:
        output, implicit = implicit_output(spec.inputs, spec.pos), True
    else:
        output, implicit = spec.output, False
        ok &= _check_operand(output, "output", sink)
        ok &= _check_output_letters(spec, sink)
    return (spec.inputs, output, implicit) if ok else None


def _check_operand_count(call: A.Call, sink: DiagnosticSink) -> bool:
    spec = call.spec
    if len(spec.inputs) == len(call.args):
        return True
    pos = call.args[len(spec.inputs)].pos if len(call.args) > len(spec.inputs) else call.pos
    sink.error(
        EinAxisError(
            pos,
            f"spec '{spec.text}' has {len(spec.inputs)} operand(s) but {len(call.args)} argument(s) follow it",
            _operand_count_hint(spec, len(call.args)),
        )
    )
    return False


def _check_grad_pair(call: A.Call, sink: DiagnosticSink) -> bool:
    """Pairs that share no operand (no chain `a%b%c`), operands that can be differentiated."""
    spec = call.spec
    ok = True
    for k, ((left_index, _), (_, right_before)) in enumerate(zip(spec.grad_pairs[1:], spec.grad_pairs)):
        if left_index == right_before:
            sink.error(
                EinUnsupportedError(
                    spec.grad_positions[k + 1],
                    "a chain of '%' is not supported: this operand is already the variable of the '%' before",
                    "nest eingrad calls for higher derivatives, or separate the pairs with ','",
                )
            )
            ok = False
    if not ok:
        return False
    for left_index, right_index in spec.grad_pairs:
        if len(spec.inputs) == len(call.args):
            ok &= _check_grad_operands(call, left_index, right_index, sink)
    return ok


def ellipsis_beside_pair(spec: A.Spec) -> bool:
    """Whether `...` stands beside '%' (in a pair's operand): then it names the same axes everywhere."""
    return any(
        isinstance(term, A.Ellipsis_)
        for pair in spec.grad_pairs
        for index in pair
        for term in walk_terms(spec.inputs[index].terms)
    )


def ellipsis_as_composite(inputs, output: A.Operand, letter: str):
    """The operands with `...` written as the composite `letter`: the same axes, and sizes, in every operand.

    Beside '%' the axes of `...` are shared letters: `...%...j->...j` is
    J[..., ..., j], the exact diagonal, as `B%Bj->Bj` is. Broadcasting would
    pair a value's axes with other axes of its variable, which no Jacobian
    means, so `...` in such a spec does not broadcast.
    """

    def rewrite(terms):
        out = []
        for term in terms:
            if isinstance(term, A.Ellipsis_):
                term = A.Composite(letter, term.pos, written="...")
            elif isinstance(term, A.Group):
                term = A.Group(rewrite(term.terms), term.pos)
            out.append(term)
        return tuple(out)

    return tuple(A.Operand(rewrite(op.terms), op.pos) for op in inputs), A.Operand(rewrite(output.terms), output.pos)


def _check_grad_operands(call: A.Call, left_index: int, right_index: int, sink: DiagnosticSink) -> bool:
    left, right = call.args[left_index], call.args[right_index]
    if not isinstance(right, A.Ref):
        sink.error(
            EinAxisError(right.pos, "the operand right of '%' must be a parameter: the variable to differentiate by")
        )
        return False
    if isinstance(left, A.Ref):
        if left.name == right.name:
            sink.error(
                EinAxisError(
                    left.pos,
                    f"'{left.name}' is differentiated by itself",
                    "the operand left of '%' is a callable parameter or an expression using the variable",
                )
            )
            return False
        return True

    def uses(expr) -> bool:
        if isinstance(expr, A.Ref):
            return expr.name == right.name
        return any(uses(arg) for arg in expr.args)

    if not uses(left):
        sink.error(
            EinAxisError(
                left.pos,
                f"this expression does not use '{right.name}', so its derivative is zero",
                f"differentiate an expression of '{right.name}', or pass a callable parameter",
            )
        )
        return False
    return True


def _check_operand(operand: A.Operand, role: str, sink: DiagnosticSink) -> bool:
    ellipses = [t for t in walk_terms(operand.terms) if isinstance(t, A.Ellipsis_)]
    for extra in ellipses[1:]:
        sink.error(EinAxisError(extra.pos, f"an {role} operand may hold '...' only once"))
    return len(ellipses) <= 1


def _check_output_letters(spec: A.Spec, sink: DiagnosticSink) -> bool:
    # An output `...` that no input has stands for no axes, as in numpy.
    in_inputs = {
        term.letter
        for operand in spec.inputs
        for term in walk_terms(operand.terms)
        if isinstance(term, (A.Axis, A.Composite))
    }
    ok = True
    for term in walk_terms(spec.output.terms):
        if isinstance(term, (A.Axis, A.Composite)) and term.letter not in in_inputs:
            kind = "axis" if isinstance(term, A.Axis) else "composite"
            sink.error(
                EinAxisError(
                    term.pos,
                    f"output {kind} '{term.letter}' appears in no input",
                    "every output letter must come from an input operand",
                )
            )
            ok = False
    return ok


def resolve_layout(
    func: str,
    inputs,
    output,
    grad_pairs,
    sizes: tuple[M.SizeHint, ...],
    sink: DiagnosticSink,
    independent=(),
    ellipsis: str = "",
):
    """(layout, Jacobian layout, pair layouts) of a spec with the function's `where` sizes, or None after reporting why.

    Lowering resolves the same spec with the same sizes: `exact` are the
    letters given `=` sizes, and no stand-in letter may take a `where` letter.
    For eingrad the layout is that of its operands as written, and the
    Jacobian layout that of the form a Jacobian lowering contracts (J[a, b]
    as one operand per pair, then the others), which can fail where the
    written one does not: composites of `a` and `b` then share one operand.
    With several pairs, each pair's own spec `a%b->J` is resolved too (its
    layout and Jacobian layout: the pair lowered alone gives J). Other
    builtins have no Jacobian layout (None). `ellipsis`: the composite that
    stands for `...` beside '%' (messages call it '...').
    """
    exact = {hint.letter for hint in sizes if hint.exact}
    reserved = {hint.letter for hint in sizes}
    try:
        layout = analyse(tuple(inputs), output, exact, reserved, ellipsis)
        jacobian, pairs = None, ()
        if func == "eingrad":
            jacobian = analyse(jacobian_operands(inputs, grad_pairs, independent), output, exact, reserved, ellipsis)
        if func == "eingrad" and len(grad_pairs) > 1:
            pairs = tuple(
                (
                    analyse((inputs[p], inputs[q]), pair_jacobian(inputs[p], inputs[q]), exact, reserved, ellipsis),
                    analyse(
                        jacobian_operands((inputs[p], inputs[q]), ((0, 1),), independent),
                        pair_jacobian(inputs[p], inputs[q]),
                        exact,
                        reserved,
                        ellipsis,
                    ),
                )
                for p, q in grad_pairs
            )
    except (EinAxisError, EinUnsupportedError) as err:
        sink.error(err)
        return None
    return layout, jacobian, pairs


def jacobian_operands(inputs, pairs, independent=()) -> tuple[A.Operand, ...]:
    """The operands of an eingrad spec as its Jacobian lowering contracts them: each a%b as one operand J[a, b].

    One pair: letters of single-letter sides shared across `%` and declared
    `independent` are summed out of `a` before the Jacobian (one pass for
    the batch): J then has only `b`'s. Several pairs: each J is the pair's
    own eingrad `a%b->J` (`pair_jacobian`), its shared letters once.
    """
    if len(pairs) > 1:
        jacobians = tuple(pair_jacobian(inputs[p], inputs[q]) for p, q in pairs)
        paired = {k for pair in pairs for k in pair}
        return (*jacobians, *(operand for k, operand in enumerate(inputs) if k not in paired))
    ((p, q),) = pairs
    a_terms = inputs[p].terms
    if plain_operand(inputs[p]) and plain_operand(inputs[q]):
        batch = {t.letter for t in a_terms} & {t.letter for t in inputs[q].terms} & set(independent)
        a_terms = tuple(t for t in a_terms if t.letter not in batch)
    jacobian = A.Operand(a_terms + inputs[q].terms, inputs[p].pos)
    return (jacobian, *(operand for k, operand in enumerate(inputs) if k not in (p, q)))


def pair_jacobian(a: A.Operand, b: A.Operand) -> A.Operand:
    """The output of one pair's own eingrad `a%b->J`: a's terms, then b's whose letters a does not hold."""
    held = {t.letter for t in walk_terms(a.terms) if isinstance(t, (A.Axis, A.Composite))}

    def new(term) -> bool:
        letters = [t.letter for t in walk_terms((term,)) if isinstance(t, (A.Axis, A.Composite))]
        return not letters or not set(letters) <= held

    return A.Operand(a.terms + tuple(t for t in b.terms if new(t)), a.pos)


def operand_text(operand: A.Operand) -> str:
    """An operand as a spec writes it."""

    def term(t) -> str:
        if isinstance(t, A.Group):
            return "(" + "".join(term(u) for u in t.terms) + ")"
        if isinstance(t, A.Ellipsis_):
            return "..."
        return getattr(t, "letter", "_")

    return "".join(term(t) for t in operand.terms)


def plain_operand(operand: A.Operand) -> bool:
    """Single letters only, none repeated: a plain side of `%` (eingrad's lowering asks the same)."""
    letters = [t.letter for t in operand.terms if isinstance(t, A.Axis)]
    return len(letters) == len(operand.terms) == len(set(letters))


def runs_and_letters(operand: A.Operand) -> bool:
    """Letters and composites (`...` beside '%' is one), none repeated: no groups, no `_`.

    Such a side of '%' reads as letters to eingrad's one-pass lowerings (VJP,
    JVP, the JVP-then-VJP chain), a composite as one letter of many axes.
    """
    letters = [t.letter for t in operand.terms if isinstance(t, (A.Axis, A.Composite))]
    return len(letters) == len(operand.terms) == len(set(letters))
