"""The NumPy runtime helpers called directly, as einigc copies them; the wrong-operand table all runtimes share."""

from __future__ import annotations

import numpy as np
import pytest

from einigc.targets.numpy import runtime
from einigc.targets.runtime_source import runtime as runtime_module

# Wrong operands and the message every runtime gives for them, the
# TensorFlow one included (each runtime's tests compare with it where
# TensorFlow imports): (spec, operand shapes, `where` sizes, message).
WRONG_OPERANDS = [
    ("ij,jk", [(2, 3), (5, 4)], None, "f: axis 'j' is 3 in 'a' but 5 in 'b'"),
    ("ij,jk", [(2, 3, 1), (3, 4)], None, "f: operand 'a' (ij) must have rank 2, got shape (2, 3, 1)"),
    ("ij,jk", [(2, 3), (3, 4)], {"i": 7}, "f: axis 'i' is 7 in `where` but 2 in 'a'"),
    ("I,I", [(2, 3), (3, 2)], None, "f: composite 'I' is [2, 3] in 'a' but [3, 2] in 'b'"),
    ("I,I", [(2, 3), (2, 3, 4)], None, "f: composite 'I' has 2 axes in 'a' but 3 in 'b'"),
    ("Ia,Ia", [(2, 3, 4), (2, 4, 4)], None, "f: composite 'I' is [2, 3] in 'a' but [2, 4] in 'b'"),
    (
        "IJ,J",
        [(2,), (2, 3)],
        None,
        "f: operand 'a' (IJ) has rank 1, too small for its composites: 'J' has 2 in 'b'",
    ),
    (
        "II",
        [(2, 3, 4)],
        None,
        "f: operand 'a' (II) has 3 axes for composite 'I', which do not split into 2 equal parts",
    ),
    (
        "(ij),j",
        [(7,), (2,)],
        None,
        "f: group '(ij)' of 'a' ((ij)) has size 7, no multiple of 2, the size of its other members",
    ),
    (
        "(ij)",
        [(6,)],
        {"i": 4},
        "f: group '(ij)' of 'a' ((ij)) has size 6, no multiple of 4, the size of its other members",
    ),
    ("(ij),i,j", [(7,), (2,), (3,)], None, "f: group '(ij)' of 'a' ((ij)) has size 7, but its members make 6"),
    ("(ij),(ij)", [(6,), (4,)], None, "f: group '(ij)' is 6 in 'a' but 4 in 'b'"),
    (
        "(ij),i",
        [(0,), (0,)],
        None,
        "f: the size of 'j' in group (ij) of 'a' is undetermined: the other members' sizes multiply to 0",
    ),
    ("i_,i", [(2, 3), (2,)], None, "f: operand 'a' (i_) needs size 1 at '_', got 3"),
    ("...i,...i", [(2, 3), (4, 3)], None, "f: the '...' axes of 'a' ([2]) and 'b' ([4]) do not broadcast"),
    (
        "...i,...i,...i",
        [(2, 1, 3), (5, 3), (2, 4, 3)],
        None,
        "f: the '...' axes of 'a' ([2, 5]) and 'c' ([2, 4]) do not broadcast",
    ),
    ("(...i),...i", [(6,), (2, 4)], None, "f: group '(...i)' of 'a' ((...i)) has size 6, but its members make 8"),
    # Too few axes even for the letters: the rank message, not an empty list of composites.
    ("ijK,K", [(2,), (3,)], None, "f: operand 'a' (ijK) needs rank >= 2, got shape (2,)"),
]

# Right operands: (spec, operand shapes, `where` sizes).
RIGHT_OPERANDS = [
    ("ij,jk", [(2, 3), (3, 4)], {"i": 2}),
    ("...i,...i", [(2, 1, 3), (5, 3)], None),
    ("II,I", [(2, 3, 2, 3), (2, 3)], None),
    ("(ij),i", [(6,), (2,)], None),
    ("(ij)k,i,j", [(6, 4), (2,), (3,)], None),
    ("i_,", [(2, 1), ()], None),
]


def wrong_operands():
    """WRONG_OPERANDS as pytest parameters, each named by its spec."""
    return [
        pytest.param(spec, shapes, sizes, message, id=f"{spec}-{k}")
        for k, (spec, shapes, sizes, message) in enumerate(WRONG_OPERANDS)
    ]


def named(shapes, make):
    return [(name, make(shape)) for name, shape in zip("abc", shapes)]


def message_of(check, spec, operands, sizes):
    """The text of the ValueError `check` raises for these operands."""
    with pytest.raises(ValueError) as raised:
        check("f", spec, operands, sizes=sizes)
    return str(raised.value)


# ---- _check_axes


@pytest.mark.parametrize("spec, shapes, sizes, message", wrong_operands())
def test_check_axes_rejects_wrong_operands_with_the_exact_message(spec, shapes, sizes, message):
    assert message_of(runtime._check_axes, spec, named(shapes, np.ones), sizes) == message


@pytest.mark.parametrize("spec, shapes, sizes, message", wrong_operands())
def test_the_messages_are_those_of_the_tensorflow_runtime(tf, spec, shapes, sizes, message):
    from einigc.targets.tensorflow import runtime as tensorflow

    operands = named(shapes, lambda shape: np.ones(shape, np.float32))
    assert message_of(tensorflow._check_axes, spec, operands, sizes) == message


@pytest.mark.parametrize("spec, shapes, sizes", RIGHT_OPERANDS)
def test_check_axes_accepts_right_operands_and_returns_them(spec, shapes, sizes):
    operands = named(shapes, np.ones)
    checked = runtime._check_axes("right", spec, operands, sizes)
    assert all(c is value for c, (_, value) in zip(checked, operands))


def test_check_axes_converts_what_np_einsum_converts_and_promotes_dtypes():
    v, s = runtime._check_axes("convert", "i,", [("v", [1, 2]), ("s", 2.5)])
    assert v.dtype == np.int_ and s.shape == () and s.dtype == np.float64
    # numpy promotes mixed dtypes in every operation: no error, as in np.einsum.
    runtime._check_axes("promote", "i,i", [("a", np.ones(2, np.float32)), ("b", np.ones(2))])
    with pytest.raises(TypeError, match=r"^f: operand 'a' is not an array: "):
        runtime._check_axes("f", "ij", [("a", [[1.0], [2.0, 3.0]])])
    with pytest.raises(TypeError, match=r"^f: operand 'a' is not an array of numbers"):
        runtime._check_axes("f", "i", [("a", ["x", None])])


def test_check_axes_remembers_shapes_that_passed():
    passed = runtime._check_shapes.__defaults__[-1]
    runtime._check_axes("remember", "ij", [("a", np.ones((2, 5)))])
    assert ("remember", "ij", (2, 5)) in passed


# ---- _diagonal, _induced_diagonal


def induced_reference(values: np.ndarray, axes: str, result_axes: str, sizes: dict) -> np.ndarray:
    """numpy's writable einsum view of the result's diagonal, filled with `values` (no helper)."""
    out = np.zeros([sizes[letter] for letter in result_axes], values.dtype)
    np.einsum(f"{result_axes}->{axes}", out)[...] = values
    return out


# (input letters, result letters, sizes): shared with the torch and jax tests.
DIAGONALS = [
    ("ijklji", "ikjl", dict(i=3, j=2, k=4, l=5)),
    ("iiij", "ji", dict(i=3, j=2)),
    ("ijji", "ij", dict(i=0, j=3)),  # zero sizes
    ("ii", "i", dict(i=1)),
    ("iiii", "i", dict(i=3)),
]


def diagonal_case(axes, result_axes, sizes, seed=1):
    """A random input for `axes` and its diagonal as np.einsum gives it."""
    x = np.random.default_rng(seed).standard_normal([sizes[letter] for letter in axes])
    return x, np.einsum(f"{axes}->{result_axes}", x)


def induced_case(axes, result_axes, sizes, seed=2):
    """A random input for `result_axes` and the induced diagonal of `axes` it fills."""
    y = np.random.default_rng(seed).standard_normal([sizes[letter] for letter in result_axes])
    return y, induced_reference(y, result_axes, axes, sizes)


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_diagonal_matches_numpy_and_is_a_view(axes, result_axes, sizes):
    x, expected = diagonal_case(axes, result_axes, sizes)
    diagonal = runtime._diagonal(x, axes, result_axes)
    np.testing.assert_array_equal(diagonal, expected)
    assert np.shares_memory(diagonal, x) or x.size == 0
    # Strided inputs too: a transposed view.
    t = np.ascontiguousarray(np.transpose(x)).T
    np.testing.assert_array_equal(runtime._diagonal(t, axes, result_axes), expected)


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_induced_diagonal_matches_numpy(axes, result_axes, sizes):
    y, expected = induced_case(axes, result_axes, sizes)
    induced = runtime._induced_diagonal(y, result_axes, axes)
    np.testing.assert_array_equal(induced, expected)
    assert induced.dtype == y.dtype and not np.shares_memory(induced, y)


# ---- the small ones


def test_require_bool_names_the_operand_and_its_dtype():
    runtime._require_bool(np.array([True]), "count", "x")
    with pytest.raises(TypeError) as raised:
        runtime._require_bool(np.array([1.0], np.float32), "count", "x")
    assert str(raised.value) == "count: operand 'x' must be boolean, got float32"


def test_the_runtime_copies_stand_alone_with_the_axis_rules_in_place_of_their_import():
    helpers = runtime_module("numpy")
    needed = helpers.needed(["_check_axes", "_diagonal", "_induced_diagonal", "_require_bool"])
    assert {"_check_shapes", "_AxisCheck", "_spec_terms"} <= {d.name for d in needed}
    assert helpers.modules_used(needed) == ["math", "numpy"]
    source = "import math\n\nimport numpy as np\n\n" + "\n\n".join(d.source for d in needed)
    assert "einigc" not in source
    namespace = {}
    exec(compile(source, "generated", "exec"), namespace)
    with pytest.raises(ValueError, match=r"^f: axis 'j' is 3 in 'a' but 5 in 'b'$"):
        namespace["_check_axes"]("f", "ij,jk", [("a", np.ones((2, 3))), ("b", np.ones((5, 4)))])


def test_static_sizes_take_the_shapes_then_the_assumed_size_then_64():
    # The TensorFlow runtime's rule, on shapes that are always known here.
    a, b = np.ones((2, 3)), np.ones((3, 4))
    assert runtime._static_sizes("ij,jk->ijk", a, b) == [2, 3, 4]
    assert runtime._static_sizes("ij->ijm", a, assumed={"m": 8}) == [2, 3, 8]
    assert runtime._static_sizes("i->im", np.ones(5)) == [5, 64]
