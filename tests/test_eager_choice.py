"""The eager choice: a matrix product that saves reshapes runs as one Einsum op eagerly.

Both branches must compute the same numbers: eagerly (the Einsum op) and
under tf.function with static and unknown sizes (the reshapes and MatMul).
"""

import numpy as np
import pytest

from tests.ein_harness import compile_module
from tests.test_lowering import code_lines, function_source

tf = pytest.importorskip("tensorflow")

SPECS = """\
heads(x, w) = einsum("bqa,ahc->bqhc", x, w)
heads_sized(x, w) = einsum("bqa,ahc->bqhc", x, w)
    where b = 2, q = 3, a = 4, h = 5, c = 2
transposed(w, y) = einsum("ijk,bk->ijb", w, y)
grouped(ctx, w) = einsum("bq(hd),(hd)e->bqe", ctx, w)
two_products(x, w, v) = einsum("bqa,ahc,hcd->bqd", x, w, v)
bilinear(x, w, y) = einsum("bi,ijk,bk->bj", x, w, y)
project(x, w) = einsum("bij,(ij)k->bk", x, w)
matmul(a, b) = einsum("ij,jk->ik", a, b)
composite(x, y) = einsum("Ij,jK->IK", x, y)
batched_composite(x, y) = einsum("bIj,jK->bIK", x, y)
"""

SHAPES = {
    "heads": [(2, 3, 4), (4, 5, 2)],
    "heads_sized": [(2, 3, 4), (4, 5, 2)],
    "transposed": [(2, 3, 4), (5, 4)],
    "grouped": [(2, 3, 6), (6, 4)],
    "two_products": [(2, 3, 4), (4, 5, 2), (5, 2, 3)],
    "bilinear": [(3, 4), (4, 5, 6), (3, 6)],
    "composite": [(2, 3, 4), (4, 5, 2)],  # I = [2, 3], K = [5, 2]
    "batched_composite": [(2, 3, 1, 4), (4, 0, 2)],  # and a zero size
}
EQUATIONS = {
    "heads": "bqa,ahc->bqhc",
    "heads_sized": "bqa,ahc->bqhc",
    "transposed": "ijk,bk->ijb",
    "grouped": "bqz,ze->bqe",
    "two_products": "bqa,ahc,hcd->bqd",
    "bilinear": "bi,ijk,bk->bj",
    "composite": "xyj,jzw->xyzw",
    "batched_composite": "bxyj,jzw->bxyzw",
}


def test_the_eager_branch_is_one_einsum_op_where_reshapes_are_saved():
    code = code_lines(function_source(SPECS, "heads"))
    assert code.count("if tf.executing_eagerly():") == 1
    eager, graph = code.split("if tf.executing_eagerly():")[1].split("else:")
    assert eager.strip() == 'x_w = tf.raw_ops.Einsum(inputs=[x, w], equation="bqa,ahc->bqhc")'
    assert "tf.raw_ops.MatMul(" in graph and graph.count("tf.reshape(") == 3
    # A step of a planned order, inside a trace-time order choice, too.
    assert code_lines(function_source(SPECS, "bilinear")).count("if tf.executing_eagerly():") == 2
    # Two candidate orders of two matrix products each.
    assert code_lines(function_source(SPECS, "two_products")).count("if tf.executing_eagerly():") == 4


@pytest.mark.parametrize("name", ["project", "matmul"])
def test_no_eager_branch_where_the_einsum_op_saves_no_reshape(name):
    # `project`'s MatMul reshapes one operand; the Einsum op would need the
    # other's reshape instead. `matmul` reshapes nothing.
    assert "executing_eagerly" not in function_source(SPECS, name)


def test_composites_run_eagerly_as_one_einsum_op_spelled_for_their_ranks():
    source = code_lines(function_source(SPECS, "composite"))
    eager, graph = source.split("else:")
    assert 'equation=_equation("Ij,jK->IK", x, y)' in eager and "tf.reshape(" not in eager
    # The graph branch runs only while tracing: no eager choice nested in it.
    assert graph.count("tf.reshape(") == 3 and "executing_eagerly" not in graph


def _arguments(name):
    rng = np.random.default_rng(len(name))
    return [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES[name]]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_both_branches_compute_the_product(name):
    module = compile_module(SPECS)
    function = getattr(module, name)
    arrays = _arguments(name)
    expected = np.einsum(EQUATIONS[name], *[a.astype(np.float64) for a in arrays])
    tensors = [tf.constant(a) for a in arrays]
    eager = function(*tensors)
    static = tf.function(function)(*tensors)
    unknown = tf.function(function, input_signature=[tf.TensorSpec([None] * a.ndim, tf.float32) for a in arrays])
    for result in (eager, static, unknown(*tensors)):
        np.testing.assert_allclose(result.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert eager.shape == expected.shape


def test_the_graph_branch_runs_under_tf_function():
    # Under tf.function the product is the MatMul: no Einsum op in the graph.
    module = compile_module(SPECS)
    x, w = (tf.constant(a) for a in _arguments("heads"))
    graph = tf.function(module.heads).get_concrete_function(x, w).graph
    types = {op.type for op in graph.get_operations()}
    assert "MatMul" in types and "Einsum" not in types


def test_the_eager_branch_differentiates():
    module = compile_module(SPECS)
    x, w = (tf.constant(a) for a in _arguments("heads"))
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = module.heads(x, w)
    grad = tape.gradient(y, w)
    np.testing.assert_allclose(grad.numpy(), np.einsum("bqa,bqhc->ahc", x.numpy(), np.ones(y.shape)), rtol=1e-5)
