"""Planning: which pairs are matrix products, what a step copies, which order wins."""

import numpy as np
import pytest
import tensorflow as tf

from einigc import ir
from einigc.compiler import compile_text
from einigc.plan import candidate_paths, copied_words, matmul_form, plan_contraction
from einigc.prune import prune
from tests.ein_harness import compile_module
from tests.test_lowering import code_lines, function_source


def w(text):
    return tuple(text)


@pytest.mark.parametrize(
    "left, right, out, rows, inner, cols, swap, ta, tb",
    [
        ("ij", "jk", "ik", "i", "j", "k", False, False, False),
        ("ji", "kj", "ik", "i", "j", "k", False, True, True),
        ("ij", "jk", "ki", "k", "j", "i", True, True, True),
        ("bij", "ijk", "bk", "b", "ij", "k", False, False, False),
        ("ijk", "lkj", "il", None, None, None, None, None, None),  # kj against jk: a copy
        ("bi", "bk", "bik", None, None, None, None, None, None),  # nothing summed: outer product
        ("bjk", "bk", "bj", None, None, None, None, None, None),  # no columns: a matrix-vector product
        ("bqd", "bkd", "bqk", "q", "d", "k", False, False, True),
    ],
)
def test_matmul_form(left, right, out, rows, inner, cols, swap, ta, tb):
    form = matmul_form(w(left), w(right), w(out))
    if rows is None:
        assert form is None
        return
    assert (form.rows, form.inner, form.cols) == (w(rows), w(inner), w(cols))
    assert (form.swap, form.transpose_a, form.transpose_b) == (swap, ta, tb)


def test_copied_words_names_what_einsum_transposes():
    assert copied_words(w("bik"), w("ijk"), w("bj")) == [w("ijk")]  # ijk is not (ik)j
    assert copied_words(w("bi"), w("ijk"), w("bjk")) == []  # a matrix product
    assert copied_words(w("bjk"), w("bk"), w("bj")) == []  # batched matrix-vector, no copy
    assert copied_words(w("bi"), w("ijb"), w("bj")) == [w("ijb")]  # batch b is not leading
    assert copied_words(w("bij"), w("bjk"), w("ibk")) == [w("ibk")]  # the result needs a transpose


def test_equal_flops_orders_prefer_the_one_without_copies():
    plan = plan_contraction([w("bi"), w("ijk"), w("bk")], w("bj"), {})
    pairs = [(s.left_symbols, s.right_symbols, s.output) for s in plan.steps]
    # Not the outer product bi,bk->bik, whose next step must transpose w.
    assert pairs == [(w("bi"), w("ijk"), w("bjk")), (w("bjk"), w("bk"), w("bj"))]
    assert plan.strategy == "all orders"


def test_declared_skewed_sizes_still_follow_the_flops():
    sizes = {s: (n, "where ~") for s, n in dict(a=1000, b=2, c=1000, d=2, e=1000).items()}
    plan = plan_contraction([w("ab"), w("bc"), w("cd"), w("de")], w("ae"), sizes)
    assert plan.planned_flops == 4_016_000  # opt_einsum's optimal for these sizes


def test_candidates_keep_every_order_worth_choosing():
    plans = candidate_paths([w("bij"), w("bjk"), w("bkl")], w("bil"), {})
    assert len(plans) == 2


def test_prune_drops_unread_shape_bookkeeping_only():
    body = (
        ir.Assign("x_shape", ir.ShapeOf("x"), "what the next steps do"),
        ir.Assign("unused", ir.Reshape("x", (ir.Scalar("x_shape[0]"), ir.Scalar("-1"))), "x as a matrix"),
        ir.Assign("kept", ir.Einsum("ij->i", ("x",))),
        ir.Assign("y", ir.MatMul("x", "x")),
    )
    function = prune(ir.Function("f", ("x",), "", body, "y"))
    assert [s.target for s in function.body] == ["kept", "y"]
    # A shape read's comment tells what follows: it moves; a reshape's goes with it.
    assert function.body[0].comment == "what the next steps do"


FUSED = """\
project(x, w) = einsum("bij,(ij)k->bk", x, w)
rows(x, y) = einsum("ijk,jkl->il", x, y)
swapped(x, y) = einsum("ijk,kl->lij", x, y)
transposed(x, y) = einsum("jki,ljk->il", x, y)
bilinear(x, w, y) = einsum("bi,ijk,bk->bj", x, w, y)
"""

SHAPES = {
    "project": ([(3, 2, 4), (8, 5)], "bij,ijk->bk"),
    "rows": ([(3, 2, 4), (2, 4, 5)], "ijk,jkl->il"),
    "swapped": ([(3, 2, 4), (4, 5)], "ijk,kl->lij"),
    "transposed": ([(2, 4, 3), (5, 2, 4)], "jki,ljk->il"),
    "bilinear": ([(3, 2), (2, 4, 5), (3, 5)], "bi,ijk,bk->bj"),
}


def test_runs_of_axes_become_one_matmul_and_no_einsum():
    for name in ("project", "rows", "swapped", "transposed"):
        code = code_lines(function_source(FUSED, name))
        assert code.count("tf.raw_ops.MatMul(") == 1, name
        assert "Einsum(" not in code and "tf.transpose(" not in code, name
    # The group (ij) of w already is the matrix: only x is reshaped.
    assert code_lines(function_source(FUSED, "project")).count("tf.reshape(") == 1


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("mode", ["eager", "function", "unknown dims"])
def test_fused_products_equal_numpy(name, mode):
    module = compile_module(FUSED)
    shapes, equation = SHAPES[name]
    rng = np.random.default_rng(7)
    operands = [rng.standard_normal(s) for s in shapes]
    if name == "project":
        # w is the flattening of x's ij.
        expected = np.einsum(equation, operands[0], operands[1].reshape(2, 4, 5))
    else:
        expected = np.einsum(equation, *operands)
    fn = getattr(module, name)
    if mode != "eager":
        signature = [
            tf.TensorSpec([None] * len(s) if mode == "unknown dims" else s, tf.float64) for s in shapes
        ]
        fn = tf.function(fn, input_signature=signature)
    np.testing.assert_allclose(fn(*operands), expected, rtol=1e-10)


def test_the_docstring_says_how_the_order_was_chosen():
    source = compile_text(FUSED).source
    assert "order (cheapest of all orders, copies counted): bi,ijk->bjk; bjk,bk->bj" in source
