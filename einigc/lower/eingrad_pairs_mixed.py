"""Lowering of two `%` pairs by one Jacobian and the other pair's vectorized JVPs or VJPs, its Jacobian never built.

J of one pair (lowered as its own eingrad) meets the other pair on one side
only (eingrad_pairs_cost.Mixed). Through its variable: the JVPs of the
other function with the slices of J as the tangents (J_g J_fᵀ: the rows of
J_f pushed forward through g); through its value: its VJPs with the slices
as the cotangents (J_fᵀ J_g: the columns of J_f pulled back through g).

With function transforms (torch.func, jax) the JVP or VJP is a local
function of the tangent, mapped over the slices by vmap: the primal is
evaluated once, unbatched. Against the alternatives, 16 slices of
tanh(X W - mean) with X and W 64x64, float32, ms (minimum of 10, median of
7 rounds): jax eagerly / jax.jit, vmap of a jvp 1.6 / 0.28, jax.linearize
then vmap of it 4.6 / 0.30; vmap of a vjp 5.2 / 0.35, one jax.vjp then vmap
of its pullback 6.8 / 0.34; torch eagerly, vmap of a vjp 0.40, one vjp
then vmap of its pullback 0.42 (torch.func.linearize: see eingrad_pairs).
On TensorFlow the vectorized product is a tape
Jacobian of a linear map whose Jacobian it is: the value contracted with
the cotangent slices (VJPs), or the double-backward VJP contracted with the
tangent slices (JVPs). Measured on the 2-core development machine, float64,
16 slices of a tanh(M w) with 256 outputs and weights, ms eagerly / under
tf.function: that Jacobian (`_jacobian`: a loop of reverse passes eagerly,
pfor in graphs) 9.4-16 / 0.7-1.2 for VJPs, 13-21 / 0.8-1.1 for JVPs;
tf.vectorized_map of the VJP 46-62 / 0.9-1.1, of the JVP 54-83 / 0.8-1.2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from einigc import ir
from einigc import model as M
from einigc.checks.layout import plain_layout
from einigc.lower.builder import Block
from einigc.lower.eingrad import FUNCTIONAL_TARGETS, _describe, _evaluate, _letters, _short, _tape, subject
from einigc.lower.eingrad_pairs_cost import Mixed

if TYPE_CHECKING:
    from einigc.lower.function import FunctionLowering


def lower_mixed(lowering: FunctionLowering, block: Block, call: M.BuiltinCall, mixed: Mixed, label: str, why: str):
    built, other = call.pairs[mixed.built], call.pairs[mixed.other]
    a, b = (_letters(op) for op in other.inputs)
    touched, untouched = (b, a) if mixed.side == "variable" else (a, b)
    letters = _letters(built.inputs[0]) + _letters(built.inputs[1])
    jacobian = lowering.lower_value(block, built)
    jacobian = _check_variable(lowering, block, built, other, mixed, jacobian, letters)
    step = _Step(lowering, block, built, other, jacobian, letters, touched, mixed.slices, label)
    if lowering.target in FUNCTIONAL_TARGETS:
        products = step.vmapped_jvps() if mixed.side == "variable" else step.vmapped_vjps()
    else:
        products = step.tape_jvps() if mixed.side == "variable" else step.tape_vjps()
    f, g = subject(built.args[0]), subject(other.args[0])
    kind, role = ("JVPs", "tangents") if mixed.side == "variable" else ("VJPs", "cotangents")
    how = (
        f"the Jacobian of {f} (above), then {kind} of {g}, vectorized, with its slices along"
        f" '{''.join(mixed.slices)}' as the {role}; the Jacobian of {g} is never built"
    )
    _describe(lowering, label, f"{how}; {why}")
    found, output = mixed.slices + untouched, _letters(call.output)
    if found == output:
        return products
    return lowering.lower_contraction(block, plain_layout((found,), output), [products], label)


def _check_variable(lowering, block: Block, built, other, mixed: Mixed, jacobian: str, letters) -> str:
    """Checks the other pair's variable, with J where its JVPs take J's slices; returns J's checked name.

    The built pair's lowering checked its own variable: the same one, with
    the same letters (or of the same rank, for VJPs), needs nothing more.
    """
    x, b = other.args[1].name, other.inputs[1]
    if x == built.args[1].name:
        same_rank = len(b.terms) == len(built.inputs[1].terms)
        if _letters(b) == _letters(built.inputs[1]) or (mixed.side == "value" and same_rank):
            return jacobian
    operands, names, labels = [b], [x], [x]
    if mixed.side == "variable":
        operands.append("".join(letters))
        names.append(jacobian)
        labels.append(f"the Jacobian of {subject(built.args[0])}")
    # A variable an enclosing tape watches or a local function reads is checked only.
    discard = (0,) if x in block.watched() or block.closes_over(x) else ()
    checked = lowering.check_axes(block, operands, names, labels, discard=discard)
    return checked[1] if len(checked) > 1 else jacobian


class _Step:
    """The vectorized JVPs or VJPs of the pair `other`, with the slices of `jacobian` (letters `letters`)."""

    def __init__(self, lowering, block: Block, built, other, jacobian: str, letters, touched, slices, label):
        self.lowering, self.block, self.other, self.label = lowering, block, other, label
        self.jacobian_label = f"the Jacobian of {subject(built.args[0])}"
        self.jacobian, self.letters, self.touched, self.slices = jacobian, tuple(letters), tuple(touched), slices
        self.left, self.x = other.args[0], other.args[1].name

    def contracted(self, body: Block, jacobian: str, tensor: str) -> str:
        """The Jacobian's slices contracted with `tensor` over the touched side: one entry per slice."""
        layout = plain_layout((self.letters, self.touched), self.slices)
        return self.lowering.lower_contraction(body, layout, [jacobian, tensor], self.label)

    def slices_first(self) -> str:
        """The Jacobian with the slices' letters leading, the touched side after them in its own order."""
        order = self.slices + self.touched
        if order == self.letters:
            return self.jacobian
        layout = plain_layout((self.letters,), order)
        return self.lowering.lower_contraction(self.block, layout, [self.jacobian], self.label)

    def tape_note(self, kind: str) -> str:
        return (
            f"its Jacobian: {subject(self.left)}'s {kind}, one per slice, vectorized\n"
            "(eagerly a loop of reverse passes, else pfor: measured faster than tf.vectorized_map)"
        )

    def vectorized(self) -> str:
        return f"vectorized over the slices along '{''.join(self.slices)}'"

    def value_label(self) -> str:
        if isinstance(self.left, M.ParamValue):
            return f"{self.left.name}({self.x})"
        return M.source_text(self.left)

    def checked_value(self, body: Block, discard: tuple[int, ...]) -> list[str]:
        """The other function's value, checked against its letters and the Jacobian's (its cotangents)."""
        value = _evaluate(self.lowering, body, self.left, self.x)
        words = ["".join(_letters(self.other.inputs[0])), "".join(self.letters)]
        labels = [self.value_label(), self.jacobian_label]
        return self.lowering.check_axes(body, words, [value, self.jacobian], labels, discard=discard)

    def tape_vjps(self) -> str:
        # The value contracted with each cotangent slice is a function of x
        # whose Jacobian holds the VJPs, one reverse pass per slice.
        block, x = self.block, self.x
        tape, body = block.fresh("tape"), block.tape(x)
        value, jacobian = self.checked_value(body, ())
        scalars = self.contracted(body, jacobian, value)
        comment = f"record {subject(self.left)}, contracted with each slice of {self.jacobian_label}"
        block.add(ir.Tape(tape, x, tuple(body.statements), comment, persistent=True))
        return block.emit(f"vjps_{_short(value)}", ir.Jacobian(tape, scalars, x), self.tape_note("VJPs"))

    def tape_jvps(self) -> str:
        # The double-backward VJP u -> J^T u contracted with each tangent
        # slice is linear in u; its Jacobian holds the JVPs, one reverse
        # pass of the dual per slice.
        block, x = self.block, self.x
        tape, value, _ = _tape(self.lowering, block, self.other, {}, "record {y} for its double-backward JVPs")
        dummy = block.emit(f"u_{_short(value)}", ir.ZerosLike(value), "a dummy cotangent for the double-backward JVPs")
        dual, body = block.fresh("dual"), block.tape(dummy)
        vjp = body.emit(f"vjp_{_short(value)}", ir.Gradient(tape, value, x, dummy))
        scalars = self.contracted(body, self.jacobian, vjp)
        comment = f"the VJP contracted with each slice of {self.jacobian_label}, linear in the dummy cotangent"
        block.add(ir.Tape(dual, dummy, tuple(body.statements), comment, persistent=True))
        return block.emit(f"jvps_{_short(value)}", ir.Jacobian(dual, scalars, dummy), self.tape_note("JVPs"))

    def vmapped_vjps(self) -> str:
        from einigc.lower.eingrad_functional import _function_name, _returning

        block, x = self.block, self.x
        body = block.closure(x)
        value, _ = self.checked_value(body, (1,))  # the Jacobian is the enclosing function's: checked only
        function = block.fresh(_function_name(self.left, value, x, body.statements))
        comment = f"{subject(self.left)} as a function of {x}, its value checked against the Jacobian's slices"
        block.add(ir.Closure(function, x, _returning(body.statements, value), comment))
        _forget(self.lowering, body)
        cotangent = block.fresh("cotangent")
        vjp = block.fresh(f"{_short(value)}_vjp")
        comment = f"one VJP of {subject(self.left)}: under vmap, {function} runs once, unbatched"
        block.add(ir.Closure(vjp, cotangent, (ir.Return(ir.VjpOf(function, x, cotangent)),), comment))
        products = ir.Vmap(vjp, self.slices_first(), len(self.slices))
        return block.emit(f"vjps_{_short(value)}", products, self.vectorized())

    def vmapped_jvps(self) -> str:
        from einigc.lower.eingrad_functional import _function_of

        block, x = self.block, self.x
        comment = "{y} as a function of " + x + "{checked}"
        function, value, _ = _function_of(self.lowering, block, self.other, {}, comment)
        tangent = block.fresh("tangent")
        jvp = block.fresh(f"{_short(value)}_jvp")
        comment = f"one JVP of {subject(self.left)}: under vmap, {function} runs once, unbatched"
        block.add(ir.Closure(jvp, tangent, (ir.Return(ir.JvpOf(function, x, tangent)),), comment))
        products = ir.Vmap(jvp, self.slices_first(), len(self.slices))
        return block.emit(f"jvps_{_short(value)}", products, self.vectorized())


def _forget(lowering: FunctionLowering, body: Block) -> None:
    """What a closure's body computed is local to it: never reused outside."""
    for key, (_, tapes) in list(lowering.computed.items()):
        if body in tapes:
            del lowering.computed[key]
