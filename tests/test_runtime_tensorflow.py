"""The TensorFlow runtime helpers called directly, as the module einigc copies them from (numpy is the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from einigc.targets.tensorflow import runtime  # noqa: E402


def traced(function, *shapes, dtype=tf.float32):
    """`function` under tf.function with an input signature of these (partly unknown) shapes
    (no autograph, which would wrap the helpers' errors in its own)."""
    signature = [tf.TensorSpec(shape, dtype) for shape in shapes]
    return tf.function(function, input_signature=signature, autograph=False)


# ---- _check_axes


def test_check_axes_returns_the_operands_it_accepts_as_tensors():
    a, b = np.ones((2, 3), np.float32), tf.ones([3, 4])
    checked = runtime._check_axes("mm", "ij,jk", [("a", a), ("b", b)])
    assert all(isinstance(t, tf.Tensor) for t in checked)
    np.testing.assert_array_equal(checked[0], a)
    assert checked[1] is b
    # A list converts to the dtype of the tensor beside it, as tf.einsum does.
    (v, w) = runtime._check_axes("dot", "i,i", [("v", [1, 2]), ("w", tf.ones([2], tf.float64))])
    assert v.dtype == tf.float64


@pytest.mark.parametrize(
    "spec, shapes, sizes, message",
    [
        ("ij,jk", [(2, 3), (5, 4)], None, "mm: axis 'j' is 3 in 'a' but 5 in 'b'"),
        ("ij,jk", [(2, 3, 1), (3, 4)], None, "mm: operand 'a' (ij) must have rank 2, got shape (2, 3, 1)"),
        ("ij,jk", [(2, 3), (3, 4)], {"i": 7}, "mm: axis 'i' is 7 in `where` but 2 in 'a'"),
        ("I,I", [(2, 3), (3, 2)], None, "mm: composite 'I' is [2, 3] in 'a' but [3, 2] in 'b'"),
        ("(ij),j", [(7,), (2,)], None, "mm: group '(ij)' of 'a' ((ij)) has size 7, no multiple of 2, the size of its other members"),
        ("i_,i", [(2, 3), (2,)], None, "mm: operand 'a' (i_) needs size 1 at '_', got 3"),
        ("...i,...i", [(2, 3), (4, 3)], None, "mm: the '...' axes of 'a' ([2]) and 'b' ([4]) do not broadcast"),
    ],
)
def test_check_axes_rejects_wrong_operands_with_the_exact_message(spec, shapes, sizes, message):
    operands = [(name, np.ones(shape, np.float32)) for name, shape in zip("ab", shapes)]
    # Not "mm": shapes that passed are remembered per function and spec (a
    # generated function passes the same `sizes` every call).
    with pytest.raises(ValueError) as raised:
        runtime._check_axes("wrong", spec, operands, sizes=sizes)
    assert str(raised.value) == message.replace("mm:", "wrong:")


def test_check_axes_rejects_mixed_dtypes_and_sparse_tensors():
    with pytest.raises(TypeError) as raised:
        runtime._check_axes("mm", "i,i", [("a", tf.ones([2])), ("b", tf.ones([2], tf.float64))])
    assert str(raised.value) == "mm: the operands must have one dtype, got 'a' float32, 'b' float64"
    ragged = tf.ragged.constant([[1.0], [2.0, 3.0]])
    with pytest.raises(TypeError, match=r"^mm: operand 'a' is a RaggedTensor; it takes dense tensors"):
        runtime._check_axes("mm", "ij", [("a", ragged)])


def test_check_axes_asserts_unknown_sizes_at_run_time():
    check = traced(lambda a, b: runtime._check_axes("mm", "ij,jk", [("a", a), ("b", b)])[1], [None, None], [None, None])
    np.testing.assert_array_equal(check(tf.ones([2, 3]), tf.ones([3, 4])), np.ones((3, 4)))
    # TensorFlow escapes quotes in assertion messages: they use backquotes.
    with pytest.raises(tf.errors.InvalidArgumentError, match="mm: axis `j` differs between `a` and `b`"):
        check(tf.ones([2, 3]), tf.ones([5, 4]))


def test_check_axes_remembers_static_shapes_that_passed():
    passed = runtime._check_axes.__defaults__[-1]
    runtime._check_axes("remember", "ij", [("a", tf.ones([2, 5]))])
    assert ("remember", "ij", ((2, 5), tf.float32)) in passed


# ---- _dims


def test_dims_are_ints_where_static_and_tensors_where_not():
    assert runtime._dims(tf.ones([2, 3])) == [2, 3]

    @tf.function(input_signature=[tf.TensorSpec([None, 3])])
    def partly(x):
        dims = runtime._dims(x)
        assert isinstance(dims[0], tf.Tensor) and dims[1] == 3
        return tf.stack([dims[0], tf.constant(dims[1], tf.int64)])

    np.testing.assert_array_equal(partly(tf.ones([4, 3])), [4, 3])


def test_dims_of_an_unknown_rank_take_the_rank_the_spec_fixes_or_fail():
    ranked = traced(lambda x: tf.stack(runtime._dims(x, 2)), None)
    np.testing.assert_array_equal(ranked(tf.ones([4, 5])), [4, 5])
    unranked = traced(lambda x: tf.stack(runtime._dims(x, needed_by="f: operand 'x'")), None)
    with pytest.raises(ValueError, match=r"^f: operand 'x': its rank is unknown while tracing"):
        unranked.get_concrete_function()


# ---- _diagonal, _induced_diagonal


def induced_reference(values: np.ndarray, axes: str, result_axes: str, sizes: dict) -> np.ndarray:
    """numpy's writable einsum view of the result's diagonal, filled with `values`."""
    out = np.zeros([sizes[letter] for letter in result_axes], values.dtype)
    np.einsum(f"{result_axes}->{axes}", out)[...] = values
    return out


DIAGONALS = [
    ("ijklji", "ikjl", dict(i=3, j=2, k=4, l=5)),
    ("iiij", "ij", dict(i=3, j=2)),
    ("ijji", "ij", dict(i=0, j=3)),  # zero sizes
    ("ii", "i", dict(i=1)),
]


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_diagonal_matches_numpy_eagerly_and_traced_with_unknown_dims(axes, result_axes, sizes):
    rng = np.random.default_rng(1)
    x = rng.standard_normal([sizes[letter] for letter in axes]).astype(np.float32)
    expected = np.einsum(f"{axes}->{result_axes}", x)
    np.testing.assert_array_equal(runtime._diagonal(tf.constant(x), axes, result_axes), expected)
    unknown = traced(lambda t: runtime._diagonal(t, axes, result_axes), [None] * len(axes))
    np.testing.assert_array_equal(unknown(tf.constant(x)), expected)


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_induced_diagonal_matches_numpy_eagerly_and_traced_with_unknown_dims(axes, result_axes, sizes):
    # The induced diagonal is the diagonal's inverse: the result's letters as its input.
    rng = np.random.default_rng(2)
    y = rng.standard_normal([sizes[letter] for letter in result_axes]).astype(np.float32)
    expected = induced_reference(y, result_axes, axes, sizes)
    np.testing.assert_array_equal(runtime._induced_diagonal(tf.constant(y), result_axes, axes), expected)
    unknown = traced(lambda t: runtime._induced_diagonal(t, result_axes, axes), [None] * len(result_axes))
    np.testing.assert_array_equal(unknown(tf.constant(y)), expected)


def test_diagonal_indices_are_int32_built_once_per_shape_and_int64_when_too_large():
    cache = runtime._index_once.__defaults__[0]
    cache.clear()
    x = tf.ones([2, 3, 3, 2])
    for _ in range(3):
        runtime._diagonal(x, "ijji", "ij")
    ((key, index),) = cache.items()
    assert key[1:] == (tf.TensorShape([2, 3, 3, 2]), "ijji", "ij") and index.dtype == tf.int32
    assert runtime._index_dtype([2**16, 2**15 - 1]) == tf.int32
    assert runtime._index_dtype([2**16, 2**15]) == tf.int64
    assert runtime._index_dtype([2, tf.constant(3, tf.int64)]) == tf.int64


def test_a_diagonal_of_unequal_static_sizes_is_an_error():
    with pytest.raises(ValueError, match=r"^the axes 'i' of a diagonal differ in size: 3 and 2$"):
        runtime._diagonal(tf.ones([2, 3]), "ii", "i")


# ---- _gradient, _jacobian


def test_gradient_of_small_closed_forms():
    x = tf.constant([1.0, -2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x**3)
    np.testing.assert_allclose(runtime._gradient(tape, y, x), 3 * x.numpy() ** 2)
    # A target that ignores the source has a zero gradient, not None.
    with tf.GradientTape() as tape:
        tape.watch(x)
        c = tf.constant(5.0)
    np.testing.assert_array_equal(runtime._gradient(tape, c, x), np.zeros(3))
    # Holomorphic for complex dtypes: d(z^2)/dz = 2z, with a cotangent of 1.
    z = tf.constant([1 + 2j, -0.5j])
    with tf.GradientTape() as tape:
        tape.watch(z)
        w = z * z
    np.testing.assert_allclose(runtime._gradient(tape, w, z, tf.ones_like(w)), 2 * z.numpy())


@pytest.mark.parametrize("n", [3, 12])  # 3x3 by reverse passes; 144 entries by tape.jacobian
def test_jacobian_of_a_linear_map_is_its_matrix(n):
    rng = np.random.default_rng(3)
    a = tf.constant(rng.standard_normal((n, n)))
    x = tf.constant(rng.standard_normal(n))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.linalg.matvec(a, x) + x * x
    np.testing.assert_allclose(runtime._jacobian(tape, y, x), a.numpy() + np.diag(2 * x.numpy()), rtol=1e-12)


# ---- the small ones


def test_require_bool_names_the_operand_and_its_dtype():
    runtime._require_bool(tf.constant([True]), "count", "x")
    with pytest.raises(TypeError) as raised:
        runtime._require_bool(tf.constant([1.0]), "count", "x")
    assert str(raised.value) == "count: operand 'x' must be boolean, got float32"


def test_static_sizes_take_the_static_shape_then_the_assumed_size_then_64():
    sizes = traced(
        lambda a, b: tf.constant(runtime._static_sizes("ij,jk->ijk", a, b, assumed={"k": 8})), [2, None], [None, None]
    )
    np.testing.assert_array_equal(sizes(tf.ones([2, 3]), tf.ones([3, 4])), [2, 64, 8])
    assert runtime._static_sizes("ij,jk->ik", tf.ones([2, 3]), tf.ones([3, 4])) == [2, 4]


def test_trace_when_eager_runs_the_function_traced_and_keeps_its_name():
    @runtime._trace_when_eager
    def double(x):
        """Twice x."""
        return 2 * x, tf.constant(tf.executing_eagerly())

    value, eagerly = double(tf.constant([1.0, 2.0]))
    np.testing.assert_array_equal(value, [2.0, 4.0])
    assert not bool(eagerly) and double.__name__ == "double" and double.__doc__ == "Twice x."
