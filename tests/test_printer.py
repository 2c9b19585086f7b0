"""The TensorFlow printer's text for shape values, ops and statements (no TensorFlow)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from einigc import ir
from einigc.errors import InternalError
from einigc.targets.tensorflow.printer import TensorFlowPrinter as Printer


def text(node) -> str:
    return Printer().expr(node)


def test_values_print_with_the_parentheses_precedence_needs():
    rank = ir.FloorDiv(ir.Sub(ir.Sub(ir.Len("x_shape"), ir.Const(2)), ir.Name("A_rank")), ir.Const(2))
    assert text(rank) == "(len(x_shape) - 2 - A_rank) // 2"
    assert text(ir.FloorDiv(ir.Len("x_shape"), ir.Const(2))) == "len(x_shape) // 2"
    member = ir.FloorDiv(ir.Dim("x_shape", ir.Const(0)), ir.Mul((ir.Name("j"), ir.Const(3))))
    assert text(member) == "x_shape[0] // (j * 3)"
    assert text(ir.Sub(ir.Name("a"), ir.Add((ir.Name("b"), ir.Name("c"))))) == "a - (b + c)"
    cost = ir.Add((ir.Mul((ir.Name("n_i"), ir.Name("n_j"))), ir.Mul((ir.Const(16), ir.Mul((ir.Name("n_i"),))))))
    assert text(cost) == "n_i * n_j + 16 * n_i"


def test_runs_slice_and_splice_into_reshapes():
    run = ir.Slice("x_shape", ir.Add((ir.Const(1), ir.Name("A_rank"))), ir.Const(-1))
    assert text(run) == "x_shape[1 + A_rank:-1]"
    assert text(ir.Slice("r", None, None)) == "r[:]"
    reshape = ir.Reshape("x", (ir.Dim("x_shape", ir.Const(0)), ir.Shape("A_shape"), ir.Const(1)))
    assert text(reshape) == "tf.reshape(x, _shape([x_shape[0]] + A_shape + [1]))"
    assert text(ir.Reshape("x", ())) == "tf.reshape(x, _shape([]))"


def test_a_reshape_that_runs_only_while_tracing_takes_its_list_as_it_is():
    # The graph branch of an eager choice: `_shape` would only return the list there.
    reshape = ir.Reshape("x", (ir.Dim("x_shape", ir.Const(0)), ir.Const(4)))
    choice = ir.EagerChoice((ir.Assign("y", ir.Einsum("ij->ij", ("x",))),), (ir.Assign("y", reshape),))
    printer = Printer()
    lines = printer.statements((choice,))
    assert "    y = tf.reshape(x, [x_shape[0], 4])" in lines
    assert "shape" not in printer.helpers
    assert text(reshape) == "tf.reshape(x, _shape([x_shape[0], 4]))"  # elsewhere it may run eagerly


def test_imports_are_collected_from_what_was_printed():
    printer = Printer()
    printer.expr(ir.Dim("x_shape", ir.Const(0)))
    assert printer.imports == set()
    assert printer.expr(ir.Prod(ir.Shape("A_shape"))) == "math.prod(A_shape)"
    assert printer.hint("callable") == "Callable[[tf.Tensor], tf.Tensor]"
    assert printer.imports == {"math", "Callable"}


def test_ops_print_as_tensorflow_calls_and_unknown_nodes_fail():
    assert text(ir.MatMul("a", "b", transpose_b=True)) == "tf.raw_ops.MatMul(a=a, b=b, transpose_b=True)"
    assert text(ir.ReduceSum("x", (0, 2))) == "tf.reduce_sum(x, axis=[0, 2])"
    printer = Printer()
    assert printer.expr(ir.ShapeOf("x", rank=2)) == "_dims(x, 2)"
    assert printer.helpers == {"dims"}
    with pytest.raises(InternalError):
        text(ir.FusedMatMul("a", "b", ("i",), ("j",), ("k",), False, False))


def test_a_function_returns_its_last_op():
    function = ir.Function(
        "f", ("x",), ir.FunctionDoc("Doc."), (ir.Return(ir.Transpose("x", (1, 0)), "swap the axes"),), param_types=("tensor",)
    )
    source = Printer().render_function(function)
    assert "def f(x: tf.Tensor) -> tf.Tensor:" in source
    assert "    # swap the axes\n    return tf.transpose(x, perm=[1, 0])" in source


def test_printer_needs_no_tensorflow():
    # In a fresh interpreter: other tests of the same run may import TensorFlow.
    code = "import sys, einigc.targets.tensorflow.printer, einigc.emit; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_docstring_is_written_from_the_plan_as_data():
    from einigc.targets.docstring import docstring_text

    info = ir.PathInfo(
        spec="ab,bc,cd->ad",
        implicit=False,
        groups=(),
        order=("ab,bc->ac", "ac,cd->ad"),
        strategy="all orders",
        planned_flops=1200,
        naive_flops=64000,
        largest_intermediate=40,
        sizes=(("a", 2, "where ~"), ("b", 64, "default")),
        alternatives=(("bc,cd->bd", "ab,bd->ad"),),
    )
    doc = ir.FunctionDoc(
        "Three matrices.",
        "specs.ein",
        'f(x, y, z) = einsum("ab,bc,cd->ad", x, y, z)',
        ("Args:", "    x: [a, b]"),
        (ir.PlanNote('einsum("ab,bc,cd->ad")', (info, ir.LoweringChoice("one einsum"))),),
    )
    assert docstring_text(doc).split("\n") == [
        "Three matrices.",
        "",
        'Source (specs.ein): f(x, y, z) = einsum("ab,bc,cd->ad", x, y, z)',
        "",
        "Args:",
        "    x: [a, b]",
        "",
        "Plan:",
        'einsum("ab,bc,cd->ad")',
        "  order (cheapest of all orders, copies counted): ab,bc->ac; ac,cd->ad",
        "  FLOPs: 1,200 planned, 64,000 naive; largest intermediate: 40 element(s)",
        "  sizes assumed: a=2, b=64*",
        "  (* no `where` size: the default 64)",
        "  or, if the static shapes make it cheaper: bc,cd->bd; ab,bd->ad",
        "  lowering: one einsum",
    ]


def test_an_eager_choice_prints_both_branches():
    choice = ir.EagerChoice(
        (ir.Assign("p", ir.Einsum("ij,jk->ik", ("x", "y"))),), (ir.Assign("p", ir.MatMul("x", "y")),), "step 1"
    )
    function = ir.Function("f", ("x", "y"), ir.FunctionDoc(), (choice, ir.Return(ir.Name("p"))))
    source = Printer().render_function(function)
    assert "    # step 1\n" in source
    assert "    if tf.executing_eagerly():\n        p = tf.raw_ops.Einsum(" in source
    assert "    else:\n        p = tf.raw_ops.MatMul(a=x, b=y)\n    return p" in source
