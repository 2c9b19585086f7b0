"""Lowering of eingrad on PyTorch and JAX: the operand left of `%` as a local function, its derivative a transform.

eingrad's choice among a VJP, a JVP and the Jacobian (lower/eingrad.py)
stands; where TensorFlow records a tape, these frameworks differentiate
functions (torch.func, jax), so the operand left of `%` becomes a local
function of its variable (`ir.Closure`: the user's callable or expression,
then the check of its value, named `y(x)` as on TensorFlow), and each form a
transform of it:

- VJP: one reverse pass (`ir.VjpOf`, `vjp` and its pullback);
- JVP: one forward-mode pass (`ir.JvpOf`, `jvp`);
- Jacobian: `ir.JacobianOf`, reverse mode (`jacrev`, one pullback per entry
  of the value, vectorized by `vmap`) unless the sizes the spec fixes show
  fewer entries in the variable than in the value. `independent` letters
  are summed inside the function first (one Jacobian for the whole batch).

A nested eingrad is a function inside the function: the gradient of `y` is a
closure that the outer transform differentiates again. The checks run inside
the closures, on shapes, which are static under `vmap`, `jax.jit` and
`torch.compile`. Hessians and Hessian-vector products differentiate the
gradient function in the mode measured faster per framework (`_SECOND_ORDER`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from einigc import ir
from einigc import model as M
from einigc.lower.builder import Block
from einigc.lower.eingrad import (
    _Pair,
    _check_value,
    _describe,
    _evaluate,
    _letters,
    _short,
    is_scalar_gradient,
    jvp_tangent,
    scalar_layout,
    subject,
)

if TYPE_CHECKING:
    from einigc.lower.function import FunctionLowering

# The mode of the outer transform over a gradient function: "forward"
# (forward-over-reverse) or "reverse" (reverse-over-reverse; for H v the
# reverse pass with cotangent v, as H is symmetric). Measured eagerly and
# under jax.jit on the loaded 2-core development machine, ms:
#   H v of sum(tanh(x)^3), 64 / 1024 entries, forward / reverse over reverse:
#     torch (float64)  1.57 / 0.83,  1.93 / 0.77
#     jax.jit          0.036 / 0.037, 0.070 / 0.120; jax eagerly (64) 6.5 / 20.6
#   Hessian of sum(tanh(W x)^3), 16 / 128 entries, jacfwd / jacrev of the gradient:
#     torch (8 entries) 2.77 / 1.23
#     jax.jit          0.055 / 0.031, 0.32 / 0.54; jax eagerly 19 / 39, 13 / 37
# so reverse over reverse on PyTorch, forward over reverse on JAX (jax.hessian's own).
_SECOND_ORDER = {"torch": "reverse", "jax": "forward"}


def _function_of(
    lowering: FunctionLowering,
    block: Block,
    call: M.BuiltinCall,
    names: dict[int, str],
    comment: str,
    extra=None,
) -> tuple[str, str, str]:
    """Emits the operand left of `%`, checked, as a local function of its variable.

    Returns (the function, its value's name inside it, what it returns:
    the value, or `extra(body, value)`). `comment` may name the operand as
    `{y}` and say `{checked}` after it.
    """
    (p, q), = call.grad_pairs
    left, x = call.args[p], call.args[q].name
    body = block.closure(x)
    value = _evaluate(lowering, body, left, x)
    _check_value(lowering, body, call, value, names, rebind=False)
    checked = any(isinstance(s, ir.CheckAxes) for s in body.statements)
    result = extra(body, value) if extra else value
    function = block.fresh(_function_name(left, value, x, body.statements))
    comment = comment.format(y=subject(left), checked=", its value checked" if checked else "")
    block.add(ir.Closure(function, x, _returning(body.statements, result), comment))
    # What the body computed is local to it: never reused outside.
    for value_key, (_, tapes) in list(lowering.computed.items()):
        if body in tapes:
            del lowering.computed[value_key]
    return function, value, result


def _function_name(left: M.Value, value: str, x: str, body: list) -> str:
    """`y_of_x` for `y`; `grad_y` for the gradient of `y`, after the function inside it."""
    inner = [s.name for s in body if isinstance(s, ir.Closure)]
    if is_scalar_gradient(left, x) and len(inner) == 1 and inner[0].endswith(f"_of_{x}"):
        return "grad_" + inner[0][: -len(f"_of_{x}")]
    return f"{_short(value)}_of_{x}"


def _returning(statements: list, result: str) -> tuple:
    """The body with `return result`, the last step's op itself when it binds `result`."""
    last = statements[-1] if statements else None
    if isinstance(last, ir.Assign) and last.target == result:
        return (*statements[:-1], ir.Return(last.op, last.comment))
    return (*statements, ir.Return(ir.Name(result)))


def _batch_note(pair: _Pair) -> str:
    independent = set(pair.a_letters) & set(pair.b_letters)
    if not independent:
        return ""
    return f"; '{''.join(sorted(independent))}' independent, so one pass serves the whole batch"


def lower_vjp(lowering, block, call, pair: _Pair, left, x, touching, rest, names, label) -> str:
    single = len(touching) == 1 and _letters(call.inputs[touching[0]]) == pair.a_letters
    if not touching:
        how = f"one reverse pass (a VJP) of {subject(left)}" + (", summed over its letters" if pair.a_letters else "")
        function, value, _ = _function_of(lowering, block, call, names, "{y} as a function of " + x + "{checked}")
        grad = block.emit(f"d{_short(value)}_d{x}", ir.VjpOf(function, x))
    elif single:
        cot = names[touching[0]]
        how = f"one reverse pass of {subject(left)} with the cotangent {M.source_text(call.args[touching[0]])} (a VJP)"
        function, value, _ = _function_of(lowering, block, call, names, "{y} as a function of " + x + "{checked}")
        grad = block.emit(f"{cot}_vjp", ir.VjpOf(function, x, cot))
    else:
        how = f"one reverse pass of the scalar that contracts {subject(left)} with its cotangent operands"
        ops = [call.inputs[k] for k in touching] + [pair.a]
        tensors = [names[k] for k in touching]

        def contract(body: Block, value: str) -> str:
            # Letters and composites only (see eingrad's `split`): contracted to a scalar.
            return lowering.lower_contraction(body, scalar_layout(lowering, ops), tensors + [value], label)

        comment = "{y} contracted with its cotangents, a scalar function of " + x + "{checked}"
        function, _, scalar = _function_of(lowering, block, call, names, comment, contract)
        grad = block.emit(f"{scalar}_grad", ir.VjpOf(function, x))
    _describe(lowering, label, how + _batch_note(pair) + "; the Jacobian is never built")
    layout = lowering.derived_layout([pair.b] + [call.inputs[k] for k in rest], call.output)
    return lowering.lower_contraction(block, layout, [grad] + [names[k] for k in rest], label)


def lower_jvp(lowering, block, call, pair: _Pair, left, x, touching, rest, names, label) -> str:
    tangent = jvp_tangent(lowering, block, call, pair, x, touching, names, label)
    function, value, _ = _function_of(lowering, block, call, names, "{y} as a function of " + x + "{checked}")
    if not is_scalar_gradient(left, x):
        how = "one forward-mode pass (a JVP); the Jacobian is never built"
        result = block.emit(f"jvp_{tangent}", ir.JvpOf(function, x, tangent))
    elif _SECOND_ORDER[lowering.target] == "forward":
        how = "a Hessian-vector product by forward-over-reverse (measured faster here); never built"
        result = block.emit(f"hvp_{tangent}", ir.JvpOf(function, x, tangent))
    else:
        how = "a Hessian-vector product by reverse-over-reverse (the Hessian is symmetric; measured faster here); never built"
        result = block.emit(f"hvp_{tangent}", ir.VjpOf(function, x, tangent))
    _describe(lowering, label, how + _batch_note(pair))
    layout = lowering.derived_layout([pair.a] + [call.inputs[k] for k in rest], call.output)
    return lowering.lower_contraction(block, layout, [result] + [names[k] for k in rest], label)


def lower_jacobian(lowering, block, call, pair: _Pair, left, x, others, names, independent, label) -> str:
    batch_axes = ()
    if independent and pair.plain:
        batch_axes = tuple(i for i, t in enumerate(pair.a.terms) if t.letter in independent)
    mode, why = _jacobian_mode(lowering, pair, left, x, set(independent))
    if batch_axes:

        def summed(body: Block, value: str) -> str:
            return body.emit(
                f"{_short(value)}_sum",
                ir.ReduceSum(value, batch_axes),
                "independent entries: the sum over the batch has the same derivative per entry",
            )

        comment = "{y} summed over the batch, as a function of " + x + "{checked}"
        function, value, _ = _function_of(lowering, block, call, names, comment, summed)
        how = (
            f"the Jacobian of {subject(left)} summed over the independent letters"
            f" '{''.join(sorted(independent))}' (one pass for the whole batch)"
        )
    else:
        function, value, _ = _function_of(lowering, block, call, names, "{y} as a function of " + x + "{checked}")
        shared = set(pair.a_letters) & set(pair.b_letters)
        how = "the full Jacobian, then the einsum"
        if shared:
            how += f"; exact diagonal along '{''.join(sorted(shared))}' from the full Jacobian"
    jac = block.emit(f"d{_short(value)}_d{x}", ir.JacobianOf(function, x, mode))
    _describe(lowering, label, f"{how}; {why}")
    # J[a, b] (the batch letters summed out of a), then the others: resolved by checks.
    return lowering.lower_contraction(block, call.jacobian_layout, [jac] + [names[k] for k in others], label)


def _jacobian_mode(lowering: FunctionLowering, pair: _Pair, left, x: str, independent: set[str]) -> tuple[str, str]:
    """"reverse" or "forward" for the Jacobian, and why, in words for the docstring."""
    if is_scalar_gradient(left, x):
        mode = _SECOND_ORDER[lowering.target]
        return mode, f"a Hessian: {mode} mode over the reverse-mode gradient (measured faster here)"
    rows = [c for c in pair.a_letters if c not in independent]
    sizes = {letter: size for letter, (size, _) in lowering.sizes.items()}
    if all(c in sizes for c in rows + list(pair.b_letters)):
        out, inp = math.prod(sizes[c] for c in rows), math.prod(sizes[c] for c in pair.b_letters)
        if inp < out:
            return "forward", f"forward mode: {inp} entries of {x} against {out} of the value"
        return "reverse", f"reverse mode: {out} entries of the value against {inp} of {x}"
    # Unknown sizes: reverse, as for the usual Jacobian of fewer outputs than
    # inputs. Square 8x8 tanh(W x), ms, jacrev / jacfwd: torch 0.68 / 0.62,
    # jax eagerly 9.6 / 3.1; under jax.jit 0.069 / 0.068, and 64x64 0.050 / 0.091.
    return "reverse", "reverse mode (one pullback per entry of the value, vectorized)"
