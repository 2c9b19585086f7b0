"""eingrad's functional lowering (PyTorch, JAX) at the IR: which transform each form becomes, without a framework."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from einigc import ir
from einigc.compiler import to_ir
from tests.eingrad_cases import CONTRACTIONS, EXACT_DIAGONALS, EXPRESSIONS

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "derivatives.ein").read_text()
TRANSFORMS = (ir.VjpOf, ir.JvpOf, ir.JacobianOf)


def functions(text: str, target: str) -> dict[str, ir.Function]:
    return {f.name: f for f in to_ir(text, "derivatives.ein", target=target).functions}


def walk(statements):
    """Every statement, nested closures' (and branches') included."""
    for statement in statements:
        yield statement
        if isinstance(statement, (ir.Closure, ir.Tape)):
            yield from walk(statement.body)
        elif isinstance(statement, ir.ChooseOrder):
            for body in statement.bodies:
                yield from walk(body)


def ops(statements) -> list:
    out = []
    for statement in walk(statements):
        if isinstance(statement, ir.Assign):
            out.append(statement.op)
        elif isinstance(statement, ir.Return) and not isinstance(statement.value, ir.Name):
            out.append(statement.value)
    return out


def transforms(function: ir.Function) -> list[tuple]:
    """(transform, its fields but the names) in order: what the derivative is computed by."""
    found = []
    for op in ops(function.body):
        if isinstance(op, ir.VjpOf):
            found.append(("vjp", bool(op.cotangent)))
        elif isinstance(op, ir.JvpOf):
            found.append(("jvp",))
        elif isinstance(op, ir.JacobianOf):
            found.append(("jacobian", op.mode))
    return found


def closures(function: ir.Function) -> list[ir.Closure]:
    return [s for s in walk(function.body) if isinstance(s, ir.Closure)]


# name -> transforms, innermost first: (torch, jax) where they differ.
EXPECTED = {
    "vjp": [("vjp", True)],
    "jacobian": [("jacobian", "reverse")],
    "gradient": [("vjp", False)],
    # Second order, as measured per framework: reverse over reverse on PyTorch,
    # forward over reverse on JAX.
    "hessian": ([("vjp", False), ("jacobian", "reverse")], [("vjp", False), ("jacobian", "forward")]),
    "hvp": ([("vjp", False), ("vjp", True)], [("vjp", False), ("jvp",)]),
    "jvp": [("jvp",)],
    "divergence": [("jacobian", "reverse")],
    "batched_grad": [("vjp", False)],
    "batched_jvp": [("jvp",)],
    "batched_jacobian": [("jacobian", "reverse")],
    "linear_jacobian": [],  # closed form: an einsum, no transform
}


@pytest.mark.parametrize("target", ["torch", "jax"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_form_is_one_transform_of_a_local_function(name, target):
    function = functions(EXAMPLE, target)[name]
    expected = EXPECTED[name]
    if isinstance(expected, tuple):
        expected = expected[0] if target == "torch" else expected[1]
    assert transforms(function) == expected
    assert not any(isinstance(s, ir.Tape) for s in walk(function.body))
    nested = 2 if name in ("hessian", "hvp") else 0 if name == "linear_jacobian" else 1
    assert len(closures(function)) == nested
    # The docstring's plan says how each eingrad was lowered.
    choices = [e for note in function.doc.plan for e in note.entries if isinstance(e, ir.LoweringChoice)]
    assert len(choices) == (2 if nested == 2 else 1)


def test_tensorflow_still_records_tapes():
    function = functions(EXAMPLE, "tensorflow")["vjp"]
    assert any(isinstance(s, ir.Tape) for s in function.body)
    assert not closures(function) and not any(isinstance(op, TRANSFORMS) for op in ops(function.body))


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_the_value_left_of_percent_is_checked_inside_its_function(target):
    for name, function in functions(EXAMPLE, target).items():
        for closure in closures(function):
            if closure.name.startswith("grad_"):
                continue  # the gradient function: its inner function checks y(x)
            if closure.name.endswith(("_jvp", "_vjp")):
                continue  # one JVP or VJP of a checked function, mapped by vmap (two pairs, eingrad_pairs_mixed)
            checks = [s for s in walk(closure.body) if isinstance(s, ir.CheckAxes)]
            # Named after the user's parameters: y(x), or f(w) for the several-pair declarations.
            assert any(re.fullmatch(r"\w+\(\w+\)", label) for s in checks for label in s.labels), name


@pytest.mark.parametrize("target", ["torch", "jax"])
@pytest.mark.parametrize("text", [EXAMPLE, EXPRESSIONS, EXACT_DIAGONALS], ids=["example", "expressions", "diagonals"])
def test_no_function_rebinds_a_name_of_its_enclosing_function(target, text):
    """A local function that assigned an enclosing name would make it local: unbound when read."""
    for function in functions(text, target).values():
        for closure in closures(function):
            inner = {s.name for s in closure.body if isinstance(s, ir.Closure)}
            bound = {closure.param} | inner
            for statement in closure.body:
                if isinstance(statement, ir.Assign):
                    bound.add(statement.target)
                elif isinstance(statement, ir.CheckAxes):
                    for target_name, operand in zip(statement.targets, statement.operands):
                        assert target_name == "_" or target_name not in function.params, (function.name, target_name)
                        if target_name == operand:
                            assert operand in bound, (function.name, operand)
                        bound.add(target_name)


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_the_jacobian_mode_follows_sizes_the_spec_fixes(target):
    found = functions(EXPRESSIONS, target)
    assert transforms(found["sized_jacobian"]) == [("jacobian", "forward")]  # 2 entries of x, 6 of the value
    assert transforms(found["bilinear_jacobian"]) == [("jacobian", "reverse")]  # sizes unknown
    # The independent batch is summed inside the function, then one Jacobian.
    batched = functions(EXAMPLE, target)["batched_jacobian"]
    (closure,) = closures(batched)
    assert any(isinstance(op, ir.ReduceSum) for op in ops(closure.body))


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_exact_diagonals_build_the_full_jacobian_and_independent_ones_do_not(target):
    found = functions(EXACT_DIAGONALS, target)
    for which in ("grad", "jvp", "jacobian", "vjp"):
        assert transforms(found[f"exact_{which}"]) == [("jacobian", "reverse")], which
    assert transforms(found["fast_grad"]) == [("vjp", False)]
    assert transforms(found["fast_jvp"]) == [("jvp",)]
    assert transforms(found["fast_vjp"]) == [("vjp", True)]
    assert transforms(found["fast_jacobian"]) == [("jacobian", "reverse")]


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_contracted_sides_pick_one_pass(target):
    found = functions(CONTRACTIONS, target)
    assert transforms(found["row_sums"]) == [("jvp",)]  # all of x's letters summed: J times ones
    assert any(isinstance(op, ir.OnesLike) for op in ops(found["row_sums"].body))
    assert transforms(found["col_sums"]) == [("vjp", False)]  # all of y's summed: one reverse pass
    assert transforms(found["weighted"]) == [("vjp", True)]  # u is y's cotangent; v after the pass
    assert transforms(found["scaled_jvp"]) == [("jvp",)]
