"""The NumPy target: examples/specs.ein and random specs of the whole dialect against the numpy reference.

The reference (tests/numpy_ref.py) loops over index tuples; the generated
module calls np.matmul and np.einsum on planned pairs. Wrong operands raise
errors that name the function. Needs no framework but numpy.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from hypothesis import example, given, settings

from tests import matmul_cases
from tests.ein_harness import compile_and_import, compile_module
from tests.ein_strategies import dialect_cases, numpy_style_cases
from tests.example_cases import BOOLEAN, NUMERIC, REFERENCE, SHAPES, SPECS
from tests.property_cases import CORNERS, DIALECT_CORNERS, arrays, expected

EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)

DTYPES = [np.float16, np.float32, np.float64, np.complex64, np.int32]
EPS = {np.float16: 2.0**-11, np.float32: 2.0**-24, np.float64: 2.0**-53, np.complex64: 2.0**-24, np.int32: 0.0}
ULPS = 64


@pytest.fixture(scope="module")
def specs():
    return compile_module(SPECS.read_text(encoding="utf-8"), "specs.ein", "numpy")


def make_inputs(shapes, dtype, seed):
    """Arrays of `dtype`, and the same values in float64/complex128/int64 for the reference."""
    gen = np.random.default_rng(seed)
    inputs, values = [], []
    for shape in shapes:
        if dtype == np.bool_:
            x = gen.random(shape) < 0.4
        elif np.issubdtype(dtype, np.integer):
            x = gen.integers(-3, 4, size=shape)
        elif np.issubdtype(dtype, np.complexfloating):
            x = gen.standard_normal(shape) + 1j * gen.standard_normal(shape)
        else:
            x = gen.standard_normal(shape)
        array = np.asarray(x, dtype=dtype)
        inputs.append(array)
        if dtype == np.bool_:
            values.append(array)
        elif np.issubdtype(dtype, np.complexfloating):
            values.append(array.astype(np.complex128))
        elif np.issubdtype(dtype, np.integer):
            values.append(array.astype(np.int64))
        else:
            values.append(array.astype(np.float64))
    return inputs, values


def assert_matches(name, result, values, dtype):
    reference = REFERENCE[name]
    want = reference(*values)
    result = np.asarray(result)
    assert result.shape == want.shape, (name, result.shape, want.shape)
    if name in BOOLEAN:
        assert result.dtype == (np.bool_ if name == "reachable" else np.int64), result.dtype
        np.testing.assert_array_equal(result, want)
        return
    assert result.dtype == dtype, (name, result.dtype, dtype)
    if np.issubdtype(dtype, np.integer):
        np.testing.assert_array_equal(result, want)
        return
    scale = np.abs(reference(*[np.abs(v) for v in values]))
    bound = ULPS * EPS[dtype] * scale + 1e-300
    error = np.abs(result.astype(want.dtype) - want)
    assert not error.size or np.max(error - bound) <= 0, f"{name} {np.dtype(dtype).name}: error {np.max(error)}"


def test_the_module_imports_only_numpy(specs):
    _, result = compile_and_import(SPECS.read_text(encoding="utf-8"), "specs.ein", "numpy")
    assert "import numpy as np\n" in result.source
    assert "tensorflow" not in result.source and "import torch" not in result.source
    assert sorted(specs.__all__) == sorted(REFERENCE)


CASES = [(name, dtype, k) for name in NUMERIC for dtype in DTYPES for k in range(len(SHAPES[name]))]


@pytest.mark.parametrize("name, dtype, k", CASES, ids=[f"{n}-{np.dtype(d).name}-{k}" for n, d, k in CASES])
def test_example_functions_match_the_reference(specs, name, dtype, k):
    inputs, values = make_inputs(SHAPES[name][k], dtype, zlib.crc32(f"{name}{k}".encode()))
    assert_matches(name, getattr(specs, name)(*inputs), values, dtype)


@pytest.mark.parametrize("name", sorted(BOOLEAN))
def test_boolean_functions_match_and_reject_other_dtypes(specs, name):
    inputs, values = make_inputs(SHAPES[name][0], np.bool_, 7)
    assert_matches(name, getattr(specs, name)(*inputs), values, np.bool_)
    with pytest.raises(TypeError, match=f"^{name}: operand 'b' must be boolean, got float64"):
        getattr(specs, name)(inputs[0], inputs[1].astype(np.float64))


def test_lists_and_numbers_are_taken_as_np_einsum_takes_them(specs):
    assert specs.matmul([[1.0, 2.0]], [[3.0], [4.0]]).tolist() == [[11.0]]
    assert specs.scale(2.0, np.ones((2, 2))).tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_zero_size_dimensions_give_numpy_shapes(specs):
    assert specs.matmul(np.ones((0, 3)), np.ones((3, 2))).shape == (0, 2)
    assert specs.matmul(np.ones((2, 0)), np.ones((0, 2))).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert specs.tensordot(np.ones((2, 0, 4)), np.ones((4, 3))).shape == (2, 0, 3)
    assert specs.diag_matrix(np.ones((0,))).shape == (0, 0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.matmul(np.ones((3, 4)), np.ones((3, 2))), r"^matmul: axis 'j' is 4 in 'a' but 3 in 'b'"),
        (lambda s: s.trace(np.ones((3, 4))), r"^trace: axis 'i' is 3 and also 4 in 'x', which holds it twice: the two must be equal"),
        (lambda s: s.bmm3(np.ones((2, 3)), np.ones((2, 3, 3)), np.ones((2, 3, 3))), r"^bmm3: operand 'x'"),
        (lambda s: s.unflatten(np.ones((7,))), r"^unflatten: "),
        (lambda s: s.batched_dot(np.ones((2, 4)), np.ones((3, 4))), r"^batched_dot: "),
    ],
)
def test_wrong_operands_raise_an_error_naming_the_function(specs, call, message):
    with pytest.raises(ValueError, match=message):
        call(specs)


def test_an_object_operand_is_a_type_error_naming_the_function(specs):
    with pytest.raises(TypeError, match=r"^matmul: operand 'a' is not an array of numbers"):
        specs.matmul(np.array([object()] * 4).reshape(2, 2), np.ones((2, 2)))


def test_the_order_is_chosen_from_the_shapes_when_called():
    module = compile_module('f(a, b, c) = einsum("ij,jk,kl->il", a, b, c)\n', "spec.ein", "numpy")
    gen = np.random.default_rng(0)
    for shapes in [((2, 50), (50, 3), (3, 40)), ((40, 3), (3, 50), (50, 2))]:
        a, b, c = (gen.standard_normal(s) for s in shapes)
        np.testing.assert_allclose(module.f(a, b, c), a @ b @ c, rtol=1e-12)


def _check(case):
    inputs = arrays(case)
    actual = compile_module(case.ein_text(), "spec.ein", "numpy").f(*inputs)
    want = expected(case, inputs)
    assert np.shape(actual) == want.shape, (case, np.shape(actual), want.shape)
    np.testing.assert_allclose(actual, want, rtol=1e-10, atol=1e-10, err_msg=case.ein_text())


def _with(corners):
    def decorate(test):
        for case in corners:
            test = example(case)(test)
        return test

    return decorate


@SETTINGS
@_with(CORNERS)
@given(numpy_style_cases())
def test_random_numpy_style_specs_match_the_reference(case):
    _check(case)


@SETTINGS
@_with(DIALECT_CORNERS)
@given(dialect_cases())
def test_random_dialect_specs_match_the_reference(case):
    _check(case)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_array_subclasses_are_taken_as_plain_arrays(specs):
    # np.matrix keeps two axes whatever it is indexed or summed with; a
    # masked array's reshape is its own. Both are plain arrays here, as np.einsum returns.
    matrix = np.matrix(np.arange(6.0).reshape(2, 3))
    assert type(specs.row_sums(matrix)) is np.ndarray
    assert specs.row_sums(matrix).shape == (2, 1)
    assert specs.tensordot(matrix, np.ones(3)).shape == (2,)
    masked = np.ma.array([[1.0, 2.0]], mask=[[0, 1]])
    np.testing.assert_array_equal(specs.tensordot(masked, np.ones((2, 2))), [[3.0, 3.0]])


def test_strings_are_a_type_error_naming_the_function(specs):
    with pytest.raises(TypeError, match=r"^matmul: operand 'a' is not an array of numbers: it converts to dtype <U1"):
        specs.matmul([["a", "b"]], [[1], [2]])


def test_diagonals_are_read_only_views_whichever_op_takes_them(specs):
    x = np.arange(16.0).reshape(4, 4)
    big = np.arange(2 * 3 * 2 * 2 * 3 * 2, dtype=float).reshape(2, 3, 2, 2, 3, 2)
    for result in (specs.diagonal(x), specs.high_rank_diagonal(big)):
        assert not result.flags.writeable
        with pytest.raises(ValueError):
            result[...] = 0
    assert x[1, 1] == 5.0


@pytest.fixture(scope="module")
def views():
    return compile_module(matmul_cases.SPEC, "views.ein", "numpy")


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.complex128])
@pytest.mark.parametrize("name, k", matmul_cases.CASES)
def test_transposed_broadcast_and_vector_products_match_np_einsum(views, name, k, dtype):
    # np.matmul of `.mT` views and columns: a transpose, never a conjugate.
    operands = [x.astype(dtype) for x in matmul_cases.inputs(name, k, np.dtype(dtype).kind == "c")]
    result = getattr(views, name)(*operands)
    assert result.dtype == dtype
    wide = [x.astype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64) for x in operands]
    matmul_cases.assert_close(name, result, wide, np.finfo(dtype).eps)
