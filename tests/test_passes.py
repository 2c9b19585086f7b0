"""Each IR -> IR pass alone, on hand-built IR (no TensorFlow)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from einigc import ir
from einigc.errors import InternalError
from einigc.passes.attach_comments import attach_comments
from einigc.passes.fold_transposes import fold_transposes
from einigc.passes.prune import prune
from einigc.passes.returns import inline_return


def function(*body) -> ir.Function:
    return ir.Function("f", ("x", "y"), ir.FunctionDoc(), tuple(body))


def test_reads_come_from_typed_fields_not_text():
    step = ir.Assign("z", ir.Reshape("x", (ir.Dim("x_shape", ir.Add((ir.Const(1), ir.Name("i_rank")))),)))
    assert ir.reads(step) == {"x", "x_shape", "i_rank"}  # not the target z
    # An equation's letters are no names, though they look like one.
    assert ir.reads(ir.Assign("t", ir.Einsum("i,i->", ("x", "y")))) == {"x", "y"}
    assert ir.reads(ir.Gradient("tape", "v", "x")) == {"tape", "v", "x"}  # no cotangent: none read
    with pytest.raises(InternalError):
        ir.reads(ir.FusedMatMul("x", "y", ("i",), ("j",), ("k",), False, False))  # no step


def test_prune_keeps_what_a_nested_body_reads():
    tape = ir.Tape("tape", "x", (ir.Assign("v", ir.Reshape("x", (ir.Shape("x_shape"),))),))
    body = function(
        ir.Assign("x_shape", ir.ShapeOf("x")),
        ir.Assign("i", ir.Dim("x_shape", ir.Const(0))),  # an unread size named like an axis
        ir.Assign("s", ir.Einsum("i->", ("x",))),
        tape,
        ir.Return(ir.Name("s")),
    )
    pruned = prune(body)
    assert [getattr(s, "target", None) for s in pruned.body] == ["x_shape", "s", None, None]


def test_inline_return_folds_the_last_step_into_the_return():
    folded = inline_return(function(ir.Assign("t", ir.MatMul("x", "y"), "why"), ir.Return(ir.Name("t"))))
    assert folded.body == (ir.Return(ir.MatMul("x", "y"), "why"),)
    kept = function(ir.Assign("t", ir.MatMul("x", "y")), ir.Return(ir.Name("x")))
    assert inline_return(kept) == kept


def test_fold_transposes_names_the_diagonal_axes_in_the_untransposed_order():
    body = function(
        ir.Assign("t", ir.Transpose("x", (1, 0))),
        ir.Assign("d", ir.InducedDiagonal("t", "ji", "jji"), "repeated"),
        ir.Return(ir.Name("d")),
    )
    folded = fold_transposes(body)
    assert folded.body[0] == ir.Assign("d", ir.InducedDiagonal("x", "ij", "jji"), "repeated")
    assert len(folded.body) == 2


def test_fold_transposes_keeps_a_transpose_read_elsewhere_and_works_in_tapes():
    steps = (
        ir.Assign("t", ir.Transpose("x", (1, 0))),
        ir.Assign("d", ir.InducedDiagonal("t", "ji", "jji")),
    )
    shared = function(*steps, ir.Return(ir.Name("t")))
    assert fold_transposes(shared) == shared
    nested = fold_transposes(function(ir.Tape("tape", "x", steps), ir.Return(ir.Name("d"))))
    assert nested.body[0].body == (ir.Assign("d", ir.InducedDiagonal("x", "ij", "jji")),)


def test_attach_comments_puts_each_marker_above_the_next_statement():
    body = function(
        ir.Comment("step 1 of 2"),
        ir.Comment("a matrix product"),
        ir.Assign("a", ir.Reshape("x", (ir.Const(4), ir.Const(2))), "own"),
        ir.Return(ir.Name("a")),
    )
    attached = attach_comments(body)
    assert attached.body[0].comment == "step 1 of 2\na matrix product\nown"
    assert not any(isinstance(s, ir.Comment) for s in attached.body)
    with pytest.raises(InternalError):
        attach_comments(function(ir.Assign("a", ir.MatMul("x", "y")), ir.Comment("dangling")))


def test_passes_need_no_tensorflow():
    # In a fresh interpreter: other tests of the same run may import TensorFlow.
    code = "import sys, einigc.passes.prune, einigc.passes.returns, einigc.passes.fold_transposes, einigc.passes.attach_comments; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_attach_comments_reaches_into_an_eager_choice():
    graph = (ir.Comment("a matrix product"), ir.Assign("p", ir.MatMul("x", "y")))
    choice = ir.EagerChoice((ir.Assign("p", ir.Einsum("ij,jk->ik", ("x", "y"))),), graph)
    attached = attach_comments(function(ir.Comment("step 1 of 2"), choice, ir.Return(ir.Name("p"))))
    assert attached.body[0].comment == "step 1 of 2"
    assert attached.body[0].graph == (ir.Assign("p", ir.MatMul("x", "y"), "a matrix product"),)
