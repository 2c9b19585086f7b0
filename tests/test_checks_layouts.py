"""Checks stage, layouts: every spec of the checked model carries its resolved layout, and every layout
error of a file is reported in the same pass as its other errors. Runs without TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from einigc import ein_ast as A
from einigc import model as M
from einigc.checks import check
from einigc.checks.layout import analyse, plain_layout
from einigc.checks.specs import implicit_output
from einigc.ein_parser import parse
from einigc.errors import CompileErrors, InternalError, Pos


def body(text: str) -> M.Value:
    (function,) = check(parse(text + "\n")).functions
    return function.body


def errors(text: str) -> list:
    with pytest.raises(CompileErrors) as info:
        check(parse(text + "\n"))
    return info.value.diagnostics


def slots(operand: M.OperandLayout) -> str:
    """Tensor axes as written: a letter, `(..)` for a group's core axes, a variable run, `_` for no axis."""

    def one(slot: M.Slot) -> str:
        if slot.is_variable:
            return slot.variable
        if slot.text:
            return "(" + "".join(slot.leaves) + ")"
        return "".join(slot.leaves) or "_"

    return " ".join(one(slot) for slot in operand.slots)


def summary(layout: M.Layout) -> dict:
    return {
        "inputs": [f"{slots(op)} / {' '.join(op.core)}" for op in layout.inputs],
        "output": f"{slots(layout.output)} / {' '.join(layout.output.core)}",
        "reshape": [op.needs_reshape for op in (*layout.inputs, layout.output)],
        "composites": dict(layout.composite_source),
        "derived": layout.derived,
        "merged": dict(layout.merged),
    }


LAYOUTS = {
    # plain letters: one slot, one core axis each; nothing to reshape
    'einsum("ij,jk->ik", a, b)': {
        "inputs": ["i j / i j", "j k / j k"],
        "output": "i k / i k",
        "reshape": [False, False, False],
        "composites": {},
        "derived": (),
        "merged": {},
    },
    # composites are flattened to one core axis each; the operand holding
    # one as its only unresolved composite fixes its rank
    'einsum("Ij,jK->IK", a, b)': {
        "inputs": ["I j / I j", "j K / j K"],
        "output": "I K / I K",
        "reshape": [True, True, True],
        "composites": {"I": 0, "K": 1},
        "derived": (),
        "merged": {},
    },
    # `...` broadcasts whole: no reshape
    'einsum("...i,...i->...", a, b)': {
        "inputs": ["... i / ... i", "... i / ... i"],
        "output": "... / ...",
        "reshape": [False, False, False],
        "composites": {},
        "derived": (),
        "merged": {},
    },
    # a group seen only whole is one core axis, named by a stand-in capital
    'einsum("bq(hd),(hd)e->bqe", a, b)': {
        "inputs": ["b q (Z) / b q Z", "(Z) e / Z e"],
        "output": "b q e / b q e",
        "reshape": [False, False, False],
        "composites": {},
        "derived": (),
        "merged": {"Z": "(hd)"},
    },
    # a group split by an exact `where` size: the other member comes from the group
    'einsum("b(hd)->bhd", a) where d = 4': {
        "inputs": ["b (hd) / b h d"],
        "output": "b h d / b h d",
        "reshape": [True, False],
        "composites": {},
        "derived": (("h", 0, 1),),
        "merged": {},
    },
    # a member sized by an axis of its own elsewhere
    'einsum("(ij),j->i", a, b)': {
        "inputs": ["(ij) / i j", "j / j"],
        "output": "i / i",
        "reshape": [True, False, False],
        "composites": {},
        "derived": (("i", 0, 0),),
        "merged": {},
    },
    # `_` is a size-1 axis: no core axis, so the operand is reshaped
    'einsum("i_j->ij", a)': {
        "inputs": ["i _ j / i j"],
        "output": "i j / i j",
        "reshape": [True, False],
        "composites": {},
        "derived": (),
        "merged": {},
    },
    # a repeated input letter is a diagonal: the core keeps the repeat
    'einsum("ii->i", a)': {
        "inputs": ["i i / i i"],
        "output": "i / i",
        "reshape": [False, False],
        "composites": {},
        "derived": (),
        "merged": {},
    },
    # a repeated output letter places values on a diagonal: output_core is distinct
    'einsum("i->ii", a)': {
        "inputs": ["i / i"],
        "output": "i i / i i",
        "reshape": [False, False],
        "composites": {},
        "derived": (),
        "merged": {},
    },
    # implicit mode: the output numpy infers
    'einsum("ij,jk", a, b)': {
        "inputs": ["i j / i j", "j k / j k"],
        "output": "i k / i k",
        "reshape": [False, False, False],
        "composites": {},
        "derived": (),
        "merged": {},
    },
}


@pytest.mark.parametrize("call", LAYOUTS)
def test_the_checked_model_holds_each_specs_layout(call):
    value = body(f"f(a, b) = {call}" if ", b)" in call else f"f(a) = {call}")
    assert summary(value.layout) == LAYOUTS[call]


def test_the_layout_of_the_implicit_output_is_stored():
    value = body('f(a, b) = einsum("ij,jk", a, b)')
    assert value.implicit
    assert value.output == implicit_output(value.inputs, Pos(0, 0))
    assert value.layout.output_core == ("i", "k")


def test_nested_calls_and_eingrad_carry_their_own_layouts():
    value = body('f(g, x, w) = eingrad("bI%bj->bIj", einsum("bj,jI->bI", x, w), x)')
    assert summary(value.layout)["inputs"] == ["b I / b I", "b j / b j"]
    assert summary(value.layout)["composites"] == {"I": 0}
    inner = value.args[0]
    assert summary(inner.layout)["inputs"] == ["b j / b j", "j I / j I"]
    assert summary(inner.layout)["composites"] == {"I": 1}


def test_the_jacobian_form_sums_independent_letters_out_of_a():
    # Lowering contracts J[a, b] with the others; with `b independent` the
    # batch letter is summed out of `a` first, and checks resolves that form.
    exact = body('f(y, x) = eingrad("bi%bj->bij", y, x)')
    assert [op.core for op in exact.jacobian_layout.inputs] == [("b", "i", "b", "j")]
    batch = body('f(y, x) = eingrad("bi%bj->bij", y, x) where b independent')
    assert [op.core for op in batch.jacobian_layout.inputs] == [("i", "b", "j")]


def test_lowering_builds_no_syntax_nodes():
    # Lowering reads checked layouts; a spec it derives is letters (plain_layout).
    from pathlib import Path

    lower = Path(__file__).resolve().parents[1] / "einigc" / "lower"
    for path in lower.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for node in ("Operand", "Axis", "Composite", "Group", "Ellipsis_"):
            assert f"A.{node}(" not in text, (path.name, node)


def test_only_exact_where_sizes_split_a_group():
    assert body('f(a) = einsum("(hd)->hd", a) where d = 4').layout.derived == (("h", 0, 0),)
    (error,) = errors('f(a) = einsum("(hd)->hd", a) where d ~ 4')
    assert error.message.startswith("group (hd) cannot be split: the sizes of 'h' and 'd' are unknown")
    assert error.pos == Pos(1, 16)


def test_equal_calls_at_different_places_compare_equal():
    value = body('f(a) = einsum("ij,ij->", einsum("(ij)->ij", a), einsum("(ij)->ij", a)) where j = 2')
    first, second = value.args
    assert first.pos != second.pos
    assert first == second and hash(first) == hash(second)
    assert first.layout.inputs[0].slots[0].pos != second.layout.inputs[0].slots[0].pos


def test_layout_errors_of_every_declaration_and_call_come_in_one_pass():
    found = errors(
        "\n".join(
            [
                'total(x) = einsum("ij->", y)',  # a name error
                'split(x) = einsum("(hd)->hd", x)',  # a layout error
                'both(x) = einsum("i,j->ij", einsum("IJ->IJ", x), einsum("(ab)->ab", x))',  # two more
            ]
        )
    )
    assert [(d.pos.line, d.pos.col, d.kind) for d in found] == [
        (1, 27, "name"),
        (2, 20, "axes"),
        (3, 37, "axes"),
        (3, 58, "axes"),
    ]
    assert "rank of composite 'I' cannot be determined" in found[2].message


def test_a_layout_error_is_reported_beside_an_argument_error():
    found = errors('f(x) = einsum("(hd)->hd", y)')
    assert [d.message.split(":")[0] for d in found] == ["group (hd) cannot be split", "unknown name 'y'"]


def test_eingrad_is_checked_in_the_form_its_jacobian_is_contracted():
    # Written, I and J each have an operand; as J[a, b] they share one, so
    # no rank is known: checks reports it, lowering never sees it.
    (error,) = errors('f(g, x) = eingrad("I%J->IJ", g, x)')
    assert error.message.startswith("the rank of composite 'I' cannot be determined")
    assert error.pos == Pos(1, 20)
    assert body('f(g, x) = eingrad("iJ%J->iJ", g, x)').layout.composite_source == (("J", 0),)


def test_eingrad_carries_the_layout_of_its_jacobian_form():
    call = body('f(g, x) = eingrad("b(hd)%bJ->bhdJ", g, x) where d = 2')
    # J[a, b] is one operand: a's slots, then b's; `b` repeats as a diagonal
    assert summary(call.jacobian_layout)["inputs"] == ["b (hd) b J / b h d b J"]
    assert call.jacobian_layout.composite_source == (("J", 0),)
    assert summary(call.layout)["inputs"] == ["b (hd) / b h d", "b J / b J"]
    # what lowering's Jacobian path resolves today from the same operands
    a, b = call.inputs
    fabricated = A.Operand(a.terms + b.terms, a.pos)
    exact = {"d"}
    assert call.jacobian_layout == analyse((fabricated,), call.output, exact, reserved=exact)
    assert body('f(a) = einsum("ij->j", a)').jacobian_layout is None


PLAIN = [
    ((("i", "j"), ("j", "k")), ("i", "k")),
    ((("i", "i"),), ("i",)),
    ((("i",),), ("i", "i")),
    (((), ("i", "j")), ()),
    ((("b", "i"), ("b", "j"), ("b",)), ("b", "i", "j")),
]


@pytest.mark.parametrize("inputs, output", PLAIN)
def test_plain_layout_is_the_layout_analyse_resolves(inputs, output):
    spec = ",".join("".join(w) for w in inputs) + "->" + "".join(output)
    params = ", ".join(f"a{k}" for k in range(len(inputs)))
    call = body(f'f({params}) = einsum("{spec}", {params})')
    assert plain_layout(inputs, output) == call.layout
    assert plain_layout(inputs, output) == analyse(call.inputs, call.output)


@pytest.mark.parametrize(
    "inputs, output",
    [
        ((("I", "j"),), ("j",)),  # a composite is no plain letter
        ((("ij",),), ()),  # one letter per axis
        (("ij",), ()),  # a word where a tuple of letters belongs
        ((("i",),), ("j",)),  # an output letter no input has
    ],
)
def test_plain_layout_rejects_anything_but_plain_letters(inputs, output):
    with pytest.raises(InternalError) as info:
        plain_layout(inputs, output)
    assert info.value.stage == "layout"


def test_checks_and_layouts_run_without_tensorflow():
    code = (
        "import sys; import einigc.checks, einigc.checks.layout, einigc.ein_parser; "
        "assert 'tensorflow' not in sys.modules, 'checks imported tensorflow'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
