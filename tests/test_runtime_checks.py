"""Run-time checks of generated functions: every operand against its spec, in every mode.

Regression tests for issue 10 (items 1b, 3 and 4): composites compared across
operands, groups, `_` and `where` sizes checked with unknown dimensions, checks
that survive Grappler, and what users pass in (numpy, lists, variables, mixed
dtypes, ragged and sparse tensors).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.ein_harness import compile_module

tf = pytest.importorskip("tensorflow")

SPECS = """\
both(x, y) = einsum("I,I->I", x, y)
rows(x, y) = einsum("Ij,Ij->I", x, y)
matvec(x, v, w) = einsum("BI,I,IJ->BJ", x, v, w)
diag_a(x) = einsum("AA->A", x)
diag_i(x) = einsum("II->I", x)
unflatten_i(x, y) = einsum("(ij),i->ij", x, y)
project(x, w) = einsum("bij,(ij)k->bk", x, w)
unflatten(x) = einsum("(ij)->ij", x) where j = 4
same(x, y) = einsum("ij,ij->ij", x, y)
mm(x, y) = einsum("ij,jk->ik", x, y)
keep(x) = einsum("i_j->ij", x)
dot(x, y) = einsum("...i,...i->...", x, y)
rank_of_i(x, w) = einsum("I,IJ->J", x, w)
heads(x, w) = einsum("bq(hd),(hd)e->bqe", x, w) where h = 2, d = 3
"""


@pytest.fixture(scope="module")
def ops():
    return compile_module(SPECS)


def traced(function, *ranks_or_shapes):
    """`function` under tf.function with an input signature of unknown dimensions."""
    signature = [
        tf.TensorSpec(None if spec is None else [None] * spec if isinstance(spec, int) else spec, tf.float32)
        for spec in ranks_or_shapes
    ]
    return tf.function(function, input_signature=signature)


def f32(*shape):
    return np.ones(shape, np.float32)


# (function, operands, message pattern): each is wrong, eagerly and traced.
WRONG = [
    ("both", (f32(2, 3), f32(3, 2)), r"both: composite 'I' is \[2, 3\] in 'x' but \[3, 2\] in 'y'"),
    ("rows", (f32(6, 4), f32(2, 3, 4)), r"rows: composite 'I' has 1 axes in 'x' but 2 in 'y'"),
    ("matvec", (f32(2, 3, 4), f32(4, 3), f32(3, 4, 5)), r"matvec: composite 'I' is \[3, 4\] in 'x' but \[4, 3\] in 'v'"),
    ("diag_a", (f32(2, 3, 3, 2),), r"diag_a: composite 'A' is \[2, 3\] and also \[3, 2\] in 'x', which holds it twice: the two must be equal"),
    ("diag_i", (f32(4, 2, 2),), r"diag_i: operand 'x' \(II\) has 3 axes for composite 'I', which do not split into 2"),
    ("project", (f32(2, 3, 4), f32(13, 5)), r"project: group '\(ij\)' of 'w' \(\(ij\)k\) has size 13, but its members make 12"),
    ("unflatten", (f32(10),), r"unflatten: group '\(ij\)' of 'x' \(\(ij\)\) has size 10, no multiple of 4"),
    ("same", (f32(2, 1), f32(2, 3)), r"same: axis 'j' is 1 in 'x' but 3 in 'y'"),
    ("keep", (f32(2, 3, 4),), r"keep: operand 'x' \(i_j\) needs size 1 at '_', got 3"),
    ("dot", (f32(2, 3, 4), f32(5, 4)), r"dot: the '...' axes of 'x' \(\[2, 3\]\) and 'y' \(\[5\]\) do not broadcast"),
    ("rank_of_i", (f32(2, 3), f32(4)), r"rank_of_i: operand 'w' \(IJ\) has rank 1, too small for its composites"),
    ("heads", (f32(2, 3, 6), f32(5, 4)), r"heads: group '\(hd\)' is 6 in 'x' but 5 in 'w'"),
    ("mm", (f32(2, 3), f32(3, 4, 1)), r"mm: operand 'y' \(jk\) must have rank 2, got shape \(3, 4, 1\)"),
]


@pytest.mark.parametrize("name, operands, message", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_operands_raise_an_error_naming_the_function_eagerly(ops, name, operands, message):
    with pytest.raises(ValueError, match=message):
        getattr(ops, name)(*operands)


@pytest.mark.parametrize("name, operands, message", WRONG, ids=[w[0] for w in WRONG])
def test_wrong_operands_raise_an_error_naming_the_function_with_unknown_dims(ops, name, operands, message):
    function = traced(getattr(ops, name), *(np.ndim(x) for x in operands))
    # Only the function and the first quoted word: run-time messages cannot
    # show sizes, and TensorFlow escapes the quotes.
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=f"{name}: "):
        function(*operands)


def test_zero_size_group_that_leaves_a_member_undetermined_is_a_clear_error(ops):
    # i = 0: (ij) has size 0 whatever j is; numpy's reshape(0, -1) refuses too.
    with pytest.raises(ValueError, match=r"unflatten_i: the size of 'j' in group \(ij\) of 'x' is undetermined"):
        ops.unflatten_i(f32(0), f32(0))


def test_right_operands_still_give_numpy_results(ops):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(ops.both(x, y), x * y)
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 5))
    np.testing.assert_allclose(ops.project(x, w), x.reshape(2, 12) @ w)
    np.testing.assert_allclose(traced(ops.project, 3, 2)(x.astype(np.float32), w.astype(np.float32)), x.reshape(2, 12) @ w, rtol=1e-5)
    x = rng.standard_normal((2, 6)).astype(np.float32)
    w = rng.standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_allclose(ops.heads(x[:, None], w), (x @ w)[:, None], rtol=1e-5)
    np.testing.assert_allclose(ops.dot(np.ones((2, 3, 4)), np.ones((3, 4))), np.full((2, 3), 4.0))
    np.testing.assert_allclose(ops.dot(np.ones((2, 1, 4)), np.ones((3, 4))), np.full((2, 3), 4.0))


def test_checks_survive_grappler_with_partly_known_shapes(ops):
    # Grappler knows the input shapes when it prepares the call: a guard that
    # was only a control dependency let the Einsum kernel fail first.
    function = tf.function(ops.same, input_signature=[tf.TensorSpec([2, 1]), tf.TensorSpec([None, None])])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"same: axis .j. differs between .x. and .y."):
        function(f32(2, 1), f32(2, 3))
    np.testing.assert_array_equal(function(f32(2, 1), f32(2, 1)), f32(2, 1))


@pytest.mark.parametrize(
    "name, operands, message",
    [
        ("project", (f32(2, 3, 4), f32(13, 5)), r"project: group .\(ij\). of .w. .* differs from the product"),
        ("unflatten", (f32(10),), r"unflatten: group .\(ij\). of .x. .* no multiple"),
        ("keep", (f32(2, 3, 4),), r"keep: operand .x. \(i_j\) needs size 1 at ._."),
        ("heads", (f32(2, 3, 6), f32(5, 4)), r"heads: group .\(hd\). differs between .x. and .w."),
        ("both", (f32(2, 3), f32(3, 2)), r"both: composite .I. differs between .x. and .y."),
    ],
)
def test_groups_unit_axes_and_composites_are_asserted_with_unknown_dims(ops, name, operands, message):
    function = traced(getattr(ops, name), *(np.ndim(x) for x in operands))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        function(*operands)


def test_unknown_rank_is_read_when_the_function_runs(ops):
    mm = traced(ops.mm, None, None)
    np.testing.assert_allclose(mm(f32(2, 3), f32(3, 4)), np.full((2, 4), 3.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"mm: operand .y. \(jk\) needs rank 2"):
        mm(f32(2, 3), f32(3, 4, 1))
    dot = traced(ops.dot, None, None)
    np.testing.assert_allclose(dot(f32(2, 3, 4), f32(3, 4)), np.full((2, 3), 4.0))


def test_a_composite_of_unknown_rank_is_a_clear_error_while_tracing(ops):
    with pytest.raises(ValueError, match=r"both: operand 'x' \(I\): its rank is unknown while tracing, and its composites"):
        traced(ops.both, None, None)(f32(2), f32(2))


def test_xla_runs_right_operands_with_unknown_dims(ops):
    function = tf.function(
        ops.project, jit_compile=True, input_signature=[tf.TensorSpec([None] * 3), tf.TensorSpec([None] * 2)]
    )
    x, w = np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.ones((12, 5), np.float32)
    np.testing.assert_allclose(function(x, w), x.reshape(2, 12) @ w)


def test_gradients_flow_through_checked_operands_with_unknown_dims(ops):
    @tf.function(input_signature=[tf.TensorSpec([None, None]), tf.TensorSpec([None, None])])
    def grads(x, y):
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            loss = tf.reduce_sum(ops.same(x, y))
        return tape.gradient(loss, [x, y])

    x, y = np.full((2, 3), 2.0, np.float32), np.full((2, 3), 5.0, np.float32)
    dx, dy = grads(x, y)
    np.testing.assert_array_equal(dx, y)
    np.testing.assert_array_equal(dy, x)


# --- what users pass in ------------------------------------------------------


def test_numpy_arrays_lists_scalars_and_variables_are_accepted(ops):
    a, b = [[1.0, 2.0], [3.0, 4.0]], np.array([[1.0], [1.0]])
    np.testing.assert_allclose(ops.mm(a, b), [[3.0], [7.0]])
    np.testing.assert_allclose(ops.mm(tf.Variable(a), b), [[3.0], [7.0]])
    np.testing.assert_allclose(ops.mm(tf.constant(a, tf.float32), [[1], [1]]), [[3.0], [7.0]])
    # Beside a tensor, numpy arrays take its dtype, as tf.einsum converts them.
    assert ops.mm(tf.constant(a, tf.float32), b).dtype == tf.float32


def test_a_list_of_the_wrong_rank_is_a_rank_error(ops):
    with pytest.raises(ValueError, match=r"mm: operand 'x' \(ij\) must have rank 2, got shape \(2,\)"):
        ops.mm([1.0, 2.0], [[1.0], [2.0]])


def test_mixed_dtypes_name_the_function_the_operands_and_their_dtypes(ops):
    with pytest.raises(TypeError, match=r"mm: the operands must have one dtype, got 'x' float32, 'y' float64"):
        ops.mm(tf.ones((2, 3)), tf.ones((3, 2), tf.float64))


def test_ragged_and_sparse_tensors_are_a_type_error_naming_the_operand(ops):
    with pytest.raises(TypeError, match=r"mm: operand 'x' is a RaggedTensor"):
        ops.mm(tf.ragged.constant([[1.0], [2.0, 3.0]]), np.ones((2, 2)))
    sparse = tf.sparse.from_dense(tf.eye(2))
    with pytest.raises(TypeError, match=r"mm: operand 'y' is a SparseTensor"):
        ops.mm(tf.eye(2), sparse)


def test_checks_cost_nothing_extra_when_the_same_static_shapes_come_again(ops):
    passed = ops._check_axes.__defaults__[-1]
    x = tf.ones((2, 3))
    ops.mm(x, tf.ones((3, 4)))
    before = len(passed)
    ops.mm(x, tf.ones((3, 4)))
    assert len(passed) == before
    # A different dtype is a different key: it is checked, not trusted.
    with pytest.raises(TypeError):
        ops.mm(x, tf.ones((3, 4), tf.float64))
