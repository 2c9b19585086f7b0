"""Lowering without TensorFlow: the IR ops a spec lowers to (parse → check → lower → passes, no printing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from einigc import ir
from einigc.lower.builder import Block
from einigc.compiler import to_ir
from einigc.errors import DiagnosticSink

# Shape bookkeeping (reading shapes, arithmetic on them) is left out of the
# op lists: it is how the computing ops get their sizes, not what they compute.
REPO = Path(__file__).resolve().parent.parent

_BOOKKEEPING = (ir.ShapeOf, *ir.VALUES)


def lowered(text: str, name: str | None = None) -> ir.Function:
    """The IR function `name` (the only one if None) of `.ein` text."""
    functions = to_ir(text).functions
    if name is None:
        (function,) = functions
        return function
    return next(f for f in functions if f.name == name)


RETURNED = "<returned>"  # the target of a returned op in `assigned`


def returned(function: ir.Function):
    """What the function returns: a name bound before (ir.Name) or an op."""
    (last,) = [s for s in function.body if isinstance(s, ir.Return)]
    assert last is function.body[-1]
    return last.value


def op_list(statements) -> list:
    """Op class names in order; a tape is ("Tape", [...]), a choice ("ChooseOrder", [[...], ...]).

    A returned op counts as a step; returning a name bound before adds nothing.
    """
    out: list = []
    for statement in statements:
        if isinstance(statement, ir.Return):
            if not isinstance(statement.value, ir.Name):
                out.append(type(statement.value).__name__)
        elif isinstance(statement, ir.Assign):
            if not isinstance(statement.op, _BOOKKEEPING):
                out.append(type(statement.op).__name__)
        elif isinstance(statement, ir.Tape):
            out.append(("Tape", op_list(statement.body)))
        elif isinstance(statement, ir.ChooseOrder):
            out.append(("ChooseOrder", [op_list(body) for body in statement.bodies]))
        elif isinstance(statement, ir.EagerChoice):
            out.append(("EagerChoice", [op_list(statement.eager), op_list(statement.graph)]))
        else:
            out.append(type(statement).__name__)
    return out


def assigned(statements) -> list[ir.Assign]:
    """Every assignment, tapes and branches included, in order; a returned op as if bound to RETURNED."""
    out = []
    for statement in statements:
        if isinstance(statement, ir.Assign):
            out.append(statement)
        elif isinstance(statement, ir.Return) and not isinstance(statement.value, ir.Name):
            out.append(ir.Assign(RETURNED, statement.value, statement.comment))
        elif isinstance(statement, ir.Tape):
            out.extend(assigned(statement.body))
        elif isinstance(statement, ir.ChooseOrder):
            for body in statement.bodies:
                out.extend(assigned(body))
        elif isinstance(statement, ir.EagerChoice):
            out.extend(assigned(statement.eager) + assigned(statement.graph))
    return out


def ops_of(function: ir.Function, kind) -> list:
    return [a.op for a in assigned(function.body) if isinstance(a.op, kind)]


# spec -> the ops it lowers to
CASES = {
    "matmul": ('f(a, b) = einsum("ij,jk->ik", a, b)', ["CheckAxes", "MatMul"]),
    "transposed matmul": ('f(x) = einsum("ij,kj->ik", x, x)', ["CheckAxes", "MatMul"]),
    "transpose": ('f(x) = einsum("ij->ji", x)', ["CheckAxes", "Transpose"]),
    "row sums": ('f(x) = einsum("ij->i", x)', ["CheckAxes", "ReduceSum"]),
    "keepdims": ('f(x) = einsum("ij->i_", x)', ["CheckAxes", "ReduceSum"]),
    "batched": ('f(x, y) = einsum("bij,bjk->bik", x, y)', ["CheckAxes", "BatchMatMul"]),
    "fused runs": (
        'f(x, w) = einsum("bij,ijk->bk", x, w)',
        ["CheckAxes", ("EagerChoice", [["Einsum"], ["Reshape", "Reshape", "MatMul"]])],
    ),
    # One reshape saved by the group: no eager alternative.
    "fused runs, one reshape": ('f(x, w) = einsum("bij,(ij)k->bk", x, w)', ["CheckAxes", "Reshape", "MatMul"]),
    "diagonal": ('f(x) = einsum("ii->i", x)', ["CheckAxes", "DiagPart"]),
    "trace": ('f(x) = einsum("ii->", x)', ["CheckAxes", "DiagPart", "ReduceSum"]),
    "batched diagonal": ('f(x) = einsum("bii->bi", x)', ["CheckAxes", "DiagPart"]),
    "diagonal, not the last two axes": ('f(x) = einsum("iij->ij", x)', ["CheckAxes", "Diagonal"]),
    "high-rank diagonal": ('f(x) = einsum("ijklji->ikjl", x)', ["CheckAxes", "Diagonal"]),
    "induced diagonal": ('f(v) = einsum("i->ii", v)', ["CheckAxes", "InducedDiagonal"]),
    "induced, transpose folded": ('f(x) = einsum("ij->jijij", x)', ["CheckAxes", "InducedDiagonal"]),
    "induced beside ...": (
        'f(x) = einsum("...i->...ii", x)',
        ["CheckAxes", "Reshape", "InducedDiagonal", "Reshape"],
    ),
    "ellipsis": ('f(x, y) = einsum("...ij,...jk->...ik", x, y)', ["CheckAxes", "Einsum"]),
    "ellipsis summed": ('f(x) = einsum("...->", x)', ["CheckAxes", "SumLeading"]),
    "composite": (
        'f(x, y) = einsum("Ij,jK->IK", x, y)',
        # Eagerly one Einsum op, its equation spelled for the composites' ranks.
        ["CheckAxes", ("EagerChoice", [["EinsumOfRuns"], ["Reshape", "Reshape", "MatMul", "Reshape"]])],
    ),
    "group": (
        'f(x, y) = einsum("(bi)j,jk->b(ik)", x, y) where b = 2',
        ["CheckAxes", "MatMul", "Reshape", "Reshape"],
    ),
    "eincount": (
        'f(a, b) = eincount("ij,jk->ik", a, b)',
        ["CheckAxes", "RequireBool", "RequireBool", "Cast", "Cast", "MatMul"],
    ),
    "einany": (
        'f(a, b) = einany("ij,jk->ik", a, b)',
        ["CheckAxes", "RequireBool", "RequireBool", "Cast", "Cast", "MatMul", "GreaterThanZero"],
    ),
    "planned chain": (
        'f(a, b, c, d) = einsum("ab,bc,cd,de->ae", a, b, c, d) where a ~ 1000, b ~ 2, c ~ 1000, d ~ 2, e ~ 1000',
        ["CheckAxes", "MatMul", "MatMul", "MatMul"],
    ),
    "candidates": (
        'f(x, y, z) = einsum("bij,bjk,bkl->bil", x, y, z)',
        ["CheckAxes", ("ChooseOrder", [["BatchMatMul", "BatchMatMul"], ["BatchMatMul", "BatchMatMul"]])],
    ),
    "nested call": (
        'f(x) = einsum("ii->", einsum("ij,kj->ik", x, x))',
        ["CheckAxes", "MatMul", "CheckAxes", "DiagPart", "ReduceSum"],
    ),
    "declaration call": ('g(x) = einsum("ij->ji", x)\nf(x) = g(g(x))', ["CallFunction", "CallFunction"]),
    "vjp": (
        'f(z, y, x) = eingrad("i,i%j->j", z, y, x)',
        ["CheckAxes", ("Tape", ["CallFunction", "CheckAxes"]), "Gradient"],
    ),
    "jvp": (
        'f(y, x, v) = eingrad("i%j,j->i", y, x, v)',
        ["CheckAxes", ("Tape", ["CallFunction", "CheckAxes"]), "ZerosLike", ("Tape", ["Gradient"]), "Gradient"],
    ),
    "jacobian": (
        'f(y, x) = eingrad("i%j->ij", y, x)',
        ["CheckAxes", ("Tape", ["CallFunction", "CheckAxes"]), "Jacobian"],
    ),
    "hvp": (
        'f(y, x, v) = eingrad("j%k,k->j", eingrad(",%j->j", y, x), x, v)',
        [
            "CheckAxes",
            ("Tape", [("Tape", ["CallFunction", "CheckAxes"]), "Gradient"]),
            "Gradient",
        ],
    ),
    "hessian": (
        'f(y, x) = eingrad("j%k->jk", eingrad(",%j->j", y, x), x)',
        ["CheckAxes", ("Tape", [("Tape", ["CallFunction", "CheckAxes"]), "Gradient"]), "Jacobian"],
    ),
    "independent batch gradient": (
        'f(y, x) = eingrad("b%bj->bj", y, x) where b independent',
        ["CheckAxes", ("Tape", ["CallFunction", "CheckAxes"]), "Gradient"],
    ),
    "exact batch gradient": (
        'f(y, x) = eingrad("b%bj->bj", y, x)',
        ["CheckAxes", ("Tape", ["CallFunction", "CheckAxes"]), "Jacobian", "Diagonal"],
    ),
    "independent batch jacobian": (
        'f(y, x) = eingrad("bi%bj->bij", y, x) where b independent',
        ["CheckAxes", ("Tape", ["CallFunction", "CheckAxes", "ReduceSum"]), "Jacobian", "Transpose"],
    ),
    "closed form": ('f(w, x) = eingrad("i%j->ij", einsum("ij,j->i", w, x), x)', ["CheckAxes"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_list(case):
    text, expected = CASES[case]
    functions = to_ir(text).functions
    assert op_list(functions[-1].body) == expected


def test_matmul_fields():
    f = lowered('f(x) = einsum("ij,kj->ik", x, x)')
    (check,) = [s for s in f.body if isinstance(s, ir.CheckAxes)]
    # x as kj adds nothing to x as ij: one check (function.FunctionLowering._adds_nothing).
    assert (check.spec, check.operands, check.targets) == ("ij", ("x",), ("x",))
    (matmul,) = ops_of(f, ir.MatMul)
    assert (matmul.a, matmul.b, matmul.transpose_a, matmul.transpose_b) == ("x", "x", False, True)
    assert returned(f) == matmul


# Lowered for numpy, torch and jax: their matmul reads transposed views,
# broadcasts `...` and takes a vector as a column (select.MatmulKernel);
# for TensorFlow the same pairs stay the Einsum op (CASES above).
VIEW_CASES = {
    "transposed batch": ('f(x, y) = einsum("bij,bkj->bik", x, y)', ("x", "y", False, True, False)),
    "ellipsis": ('f(x, y) = einsum("...ij,...jk->...ik", x, y)', ("x", "y", False, False, False)),
    "batch matvec": ('f(x, y) = einsum("bjk,bk->bj", x, y)', ("x", "y", False, False, True)),
    "batch vecmat": ('f(x, y) = einsum("bj,bjk->bk", x, y)', ("y", "x", True, False, True)),
}


@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("case", sorted(VIEW_CASES))
def test_views_make_one_batch_matmul_on_targets_whose_matmul_takes_them(case, target):
    text, fields = VIEW_CASES[case]
    (function,) = to_ir(text, target=target).functions
    assert op_list(function.body) == ["CheckAxes", "BatchMatMul"]
    op = returned(function)
    assert (op.x, op.y, op.transpose_x, op.transpose_y, op.y_is_vector) == fields
    (tf_function,) = to_ir(text, target="tensorflow").functions
    assert op_list(tf_function.body) == ["CheckAxes", "Einsum"]


def test_a_planned_step_that_is_a_matvec_is_lowered_per_target():
    # One candidate order of nary_planning.ein's bilinear ends in `bjk,bk->bj`.
    text = 'f(x, w, y) = einsum("bi,ijk,bk->bj", x, w, y) where j = 3, b ~ 512'

    def steps(target):
        (function,) = to_ir(text, target=target).functions
        ops = [a.op for a in assigned(function.body)]
        matvecs = [op for op in ops if isinstance(op, ir.BatchMatMul) and op.y_is_vector]
        einsums = [op for op in ops if isinstance(op, ir.Einsum) and op.equation == "bjk,bk->bj"]
        return len(matvecs), len(einsums)

    assert steps("numpy") == (1, 0)
    assert steps("tensorflow") == (0, 1)


def test_reductions_and_permutations_name_their_axes():
    assert ops_of(lowered('f(x) = einsum("ij->ji", x)'), ir.Transpose)[0].perm == (1, 0)
    (summed,) = ops_of(lowered('f(x) = einsum("ijk->ik", x)'), ir.ReduceSum)
    assert (summed.axes, summed.keepdims) == ((1,), False)
    (kept,) = ops_of(lowered('f(x) = einsum("ij->i_", x)'), ir.ReduceSum)
    assert (kept.axes, kept.keepdims) == ((1,), True)


def test_diagonals_gather_and_scatter():
    (gather,) = ops_of(lowered('f(x) = einsum("ijklji->ikjl", x)'), ir.Diagonal)
    assert (gather.axes, gather.result_axes) == ("ijklji", "ikjl")
    (scatter,) = ops_of(lowered('f(v) = einsum("i->ii", v)'), ir.InducedDiagonal)
    assert (scatter.operand, scatter.axes, scatter.result_axes) == ("v", "i", "ii")


def test_a_transpose_before_a_scatter_is_folded_into_it():
    f = lowered('f(x) = einsum("ij->jijij", x)')
    assert not ops_of(f, ir.Transpose)
    (scatter,) = ops_of(f, ir.InducedDiagonal)
    # The scatter reads x itself, its axes in x's order.
    assert (scatter.operand, scatter.axes, scatter.result_axes) == ("x", "ij", "jijij")


def test_fused_matmul_reshapes_runs_of_axes():
    f = lowered('f(x, w) = einsum("bij,ijk->bk", x, w)')
    reshapes = ops_of(f, ir.Reshape)
    assert [r.operand for r in reshapes] == ["x", "w"]
    assert [len(r.shape) for r in reshapes] == [2, 2]
    (matmul,) = ops_of(f, ir.MatMul)
    assert (matmul.a, matmul.b) == ("x_2d", "w_2d")
    # The step says what it is, above its statements.
    notes = [a.comment for a in assigned(f.body) if "rows b, summed ij, columns k" in a.comment]
    assert len(notes) == 1


def test_ellipsis_stays_one_einsum():
    f = lowered('f(x, y) = einsum("...ij,...jk->...ik", x, y)')
    (einsum,) = ops_of(f, ir.Einsum)
    assert einsum.equation == "...ij,...jk->...ik"
    assert einsum.operands == ("x", "y")


def test_eincount_casts_to_int64_and_einany_compares():
    count = lowered('f(a, b) = eincount("ij,jk->ik", a, b)')
    assert [c.dtype for c in ops_of(count, ir.Cast)] == ["int64", "int64"]
    anything = lowered('f(a, b) = einany("ij,jk->ik", a, b)')
    assert [c.dtype for c in ops_of(anything, ir.Cast)] == ["float32", "float32"]
    (compare,) = ops_of(anything, ir.GreaterThanZero)
    assert returned(anything) == compare
    assert compare.operand == "a_float_b_float"


def test_candidate_orders_are_branches_with_their_own_names():
    f = lowered('f(x, y, z) = einsum("bij,bjk,bkl->bil", x, y, z)')
    (choice,) = [s for s in f.body if isinstance(s, ir.ChooseOrder)]
    assert choice.operands == ("x", "y", "z")
    assert choice.labels == ("bij,bjk; bik,bkl", "bjk,bkl; bij,bjl")
    first, second = ([a.target for a in body] for body in choice.bodies)
    # Both branches bind the result's name; only one runs, so names repeat across them.
    assert returned(f) == ir.Name(first[-1]) and first[-1] == second[-1]
    assert first == ["x_y", "x_y_z"] and second == ["y_z", "x_y_z"]
    # Names bound in a branch are not reused after the choice.
    assert not {choice.flops_name, choice.order_name} & set(first + second)


def test_candidate_branches_read_their_own_shapes():
    f = lowered('f(x, y, z) = einsum("aij,jk,kl->ail", x, y, z)')
    (choice,) = [s for s in f.body if isinstance(s, ir.ChooseOrder)]
    reads = [{a.target: a.op.operand for a in assigned(body) if isinstance(a.op, ir.ShapeOf)} for body in choice.bodies]
    # A shape read in one branch is not there in the other: each reads x's shape itself.
    assert reads == [{"x_shape": "x", "z_shape": "z"}, {"x_shape": "x", "y_shape": "y", "z_shape": "z"}]
    assert not [s for s in f.body if isinstance(s, ir.Assign) and isinstance(s.op, ir.ShapeOf)]
    # Each matrix product of runs is one Einsum op eagerly.
    for body in choice.bodies:
        for step in body:
            if isinstance(step, ir.EagerChoice):
                assert [type(s.op).__name__ for s in step.eager] == ["Einsum"]
                assert step.eager[-1].target == step.graph[-1].target


def test_vjp_is_one_reverse_pass_with_the_cotangent():
    f = lowered('f(z, y, x) = eingrad("i,i%j->j", z, y, x)')
    (tape,) = [s for s in f.body if isinstance(s, ir.Tape)]
    assert (tape.watch, tape.persistent) == ("x", False)
    (gradient,) = ops_of(f, ir.Gradient)
    assert (gradient.tape, gradient.target, gradient.source, gradient.output_gradients) == (
        tape.tape,
        "y_value",
        "x",
        "z",
    )
    assert not ops_of(f, ir.Jacobian)


def test_jvp_is_double_backward_through_a_dual_tape():
    f = lowered('f(y, x, v) = eingrad("i%j,j->i", y, x, v)')
    tape, dual = [s for s in f.body if isinstance(s, ir.Tape)]
    (dummy,) = ops_of(f, ir.ZerosLike)
    assert dual.watch == [a.target for a in assigned(f.body) if a.op == dummy][0]
    inner, outer = ops_of(f, ir.Gradient)
    assert (inner.tape, inner.output_gradients) == (tape.tape, dual.watch)
    assert (outer.tape, outer.source, outer.output_gradients) == (dual.tape, dual.watch, "v")


def test_jacobian_keeps_its_tape_for_several_passes():
    f = lowered('f(y, x) = eingrad("i%j->ij", y, x)')
    (tape,) = [s for s in f.body if isinstance(s, ir.Tape)]
    assert tape.persistent
    (jacobian,) = ops_of(f, ir.Jacobian)
    assert (jacobian.tape, jacobian.target, jacobian.source) == (tape.tape, "y_value", "x")
    assert not f.trace_when_eager  # it takes a callable: a trace would keep what it read


def test_a_jacobian_of_declared_functions_is_traced_when_eager():
    text = 'g(w, x) = einsum("ij,j->i", w, x)\nf(w, x) = eingrad("i%j->ij", g(w, x), x)'
    assert lowered(text, "f").trace_when_eager
    assert not lowered(text, "g").trace_when_eager


def test_a_value_is_computed_again_under_a_tape_that_watches_its_input():
    text = 'g(w, x) = einsum("ij,j->i", w, x)\nf(w, x) = einsum("i,i->", eingrad("i,i%j->j", g(w, x), g(w, x), x), x)'
    f = lowered(text, "f")
    outside = [s.target for s in f.body if isinstance(s, ir.Assign) and isinstance(s.op, ir.CallFunction)]
    (tape,) = [s for s in f.body if isinstance(s, ir.Tape)]
    inside = [s.target for s in tape.body if isinstance(s, ir.Assign) and isinstance(s.op, ir.CallFunction)]
    # The cotangent g(w, x) is computed before the tape; the tape computes its own, so that it sees x.
    assert len(outside) == len(inside) == 1 and outside != inside
    (gradient,) = ops_of(f, ir.Gradient)
    assert (gradient.target, gradient.output_gradients) == (inside[0], outside[0])


def test_a_value_written_twice_is_computed_once():
    f = lowered('f(x) = einsum("ij,ij->", einsum("ij->ji", x), einsum("ij->ji", x))')
    assert len(ops_of(f, ir.Transpose)) == 1


def test_closed_form_needs_no_tape():
    f = lowered('f(w, x) = eingrad("i%j->ij", einsum("ij,j->i", w, x), x)')
    assert not [s for s in f.body if isinstance(s, ir.Tape)]
    assert returned(f) == ir.Name("w")


def test_lowering_needs_no_tensorflow():
    # In a fresh interpreter: other test files in this session import TensorFlow.
    code = (
        "import sys, tests.test_lowering_ir as t; t.to_ir(t.CASES['vjp'][0]);"
        " sys.exit('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# --- the builder --------------------------------------------------------------


def test_block_names_are_fresh_and_stems_follow_the_hint():
    block = Block.root({"x"})
    assert block.emit("x", ir.Transpose("x", (1, 0))) == "x_1"
    assert block.emit("x_1_core", ir.Transpose("x_1", (1, 0)), stem="x") == "x_1_core"
    assert block.stem("x_1_core") == "x"
    assert block.fresh("not an identifier") == "t"
    assert [s.target for s in block.statements] == ["x_1", "x_1_core"]


def test_tape_blocks_chain_their_watched_variables():
    root = Block.root(set())
    outer = root.tape("x")
    inner = outer.tape("u")
    assert root.tapes() == () and root.watched() == ()
    assert inner.tapes() == (outer, inner)
    assert inner.watched() == ("x", "u")
    # A tape's body shares the function's names: none is handed out twice.
    assert inner.fresh("a") == "a" and root.fresh("a") == "a_1"
    inner.emit("b", ir.ZerosLike("a"))
    assert root.statements == [] and [s.target for s in inner.statements] == ["b"]


def test_branches_reuse_names_until_the_choice_adopts_them():
    root = Block.root(set())
    first, second = root.branch(), root.branch()
    assert first.emit("y", ir.ZerosLike("x")) == "y"
    assert second.emit("y", ir.OnesLike("x")) == "y"  # only one branch runs
    assert first.stem("y") == "y" and "y" not in root.stems  # stems too are the branch's own
    root.adopt([first, second])
    assert root.fresh("y") == "y_1"  # after the choice, a branch's names are taken


def test_an_exact_shared_letter_is_noted_for_the_user():
    sink = DiagnosticSink()
    to_ir('f(y, x) = eingrad("b%bj->bj", y, x)', sink=sink)
    (note,) = sink.notes
    assert "'b' is shared across '%'" in note.message
    quiet = DiagnosticSink()
    to_ir('f(y, x) = eingrad("b%bj->bj", y, x) where b independent', sink=quiet)
    assert not quiet.notes
